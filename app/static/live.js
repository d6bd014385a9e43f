// The live feed: one WebSocket to /ws/topic that reconnects by itself with backoff.
// States reported to onState: "connecting", "live", "reconnecting" (with attempt and delay),
// "refused" (with withToken): the handshake failed while the service answers HTTP, which is
// how a browser sees a missing or wrong ?token= (the close code of a refused handshake is
// not visible to the page). "refused" sticks until a connection opens or restart().

import { token } from "./api.js";

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;
const STABLE_MS = 5000; // a connection that lived this long resets the backoff

export class LiveFeed {
  constructor({ onEvent, onState, onReconnected, serviceAnswers }) {
    this.onEvent = onEvent;
    this.serviceAnswers = serviceAnswers;
    this.refused = false;
    this.onState = onState;
    this.onReconnected = onReconnected;
    this.attempt = 0;
    this.everLive = false;
    this.watchdog = null;
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const saved = token.get();
    const query = saved ? `?${new URLSearchParams({ token: saved })}` : "";
    return `${scheme}://${location.host}/ws/topic${query}`;
  }

  connect() {
    if (!this.refused) this.onState(this.attempt === 0 ? "connecting" : "reconnecting", {});
    const socket = new WebSocket(this.url());
    socket.withToken = Boolean(token.get());
    this.socket = socket;
    socket.addEventListener("message", (message) => this.receive(message));
    socket.addEventListener("close", () => this.retry(socket));
    socket.addEventListener("error", () => socket.close());
  }

  // A fresh connection (new token): drop the current socket without counting a failure.
  restart() {
    this.attempt = 0;
    this.refused = false;
    const old = this.socket;
    this.socket = null;
    old?.close();
    this.connect();
  }

  receive(message) {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    if (event.event === "hello") this.opened(event.heartbeat_seconds);
    this.armWatchdog();
    this.onEvent(event);
  }

  opened(heartbeatSeconds) {
    const wasDown = this.everLive;
    this.everLive = true;
    this.openedAt = Date.now();
    this.refused = false;
    this.heartbeatMs = Math.max(1, heartbeatSeconds || 15) * 1000;
    this.onState("live", {});
    if (wasDown) this.onReconnected();
  }

  // No message for 2.5 heartbeats: the link is dead even if TCP has not noticed.
  armWatchdog() {
    clearTimeout(this.watchdog);
    if (!this.heartbeatMs) return;
    const socket = this.socket;
    this.watchdog = setTimeout(() => socket?.close(), this.heartbeatMs * 2.5);
  }

  retry(socket) {
    if (socket !== this.socket) return;
    clearTimeout(this.watchdog);
    const neverOpened = !this.openedAt;
    if (this.openedAt && Date.now() - this.openedAt > STABLE_MS) this.attempt = 0;
    this.openedAt = null;
    this.attempt += 1;
    if (neverOpened && this.serviceAnswers) {
      this.serviceAnswers().then((answers) => {
        if (socket !== this.socket) return; // restarted meanwhile
        if (answers) {
          this.refused = true;
          this.onState("refused", { withToken: socket.withToken });
        }
        this.schedule();
      });
      return;
    }
    this.schedule();
  }

  // Retries go on while refused (slowly, with the backoff): a token may not be the reason.
  schedule() {
    const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (this.attempt - 1));
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    if (!this.refused) this.onState("reconnecting", { attempt: this.attempt, delay });
    const socket = this.socket;
    setTimeout(() => socket === this.socket && this.connect(), delay);
  }
}
