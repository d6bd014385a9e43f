// The live feed: one WebSocket to /ws/topic that reconnects by itself with backoff.
// States reported to onState: "connecting", "live", "reconnecting" (with attempt and delay).

import { token } from "./api.js";

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;
const STABLE_MS = 5000; // a connection that lived this long resets the backoff

export class LiveFeed {
  constructor({ onEvent, onState, onReconnected }) {
    this.onEvent = onEvent;
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
    this.onState(this.attempt === 0 ? "connecting" : "reconnecting", {});
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.addEventListener("message", (message) => this.receive(message));
    socket.addEventListener("close", () => this.retry(socket));
    socket.addEventListener("error", () => socket.close());
  }

  // A fresh connection (new token): drop the current socket without counting a failure.
  restart() {
    this.attempt = 0;
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
    if (this.openedAt && Date.now() - this.openedAt > STABLE_MS) this.attempt = 0;
    this.openedAt = null;
    this.attempt += 1;
    const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (this.attempt - 1));
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.onState("reconnecting", { attempt: this.attempt, delay });
    setTimeout(() => this.connect(), delay);
  }
}
