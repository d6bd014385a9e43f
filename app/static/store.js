// Queues seen by this page: latest state, records-per-second from successive updates,
// and a short history of (time, records) for each queue's chart.

import { isTerminal } from "./format.js";

const HISTORY = 300;
const STALL_SECONDS = 3;

export class QueueStore {
  constructor() {
    this.queues = new Map();
    this.rates = new Map();
    this.history = new Map();
  }

  get(id) {
    return this.queues.get(id);
  }

  // Keeps the newer of two states (revision, then updated_at); returns true when applied.
  put(queue) {
    const old = this.queues.get(queue.id);
    if (old && isOlder(queue, old)) return false;
    this.queues.set(queue.id, queue);
    this.track(old, queue);
    return true;
  }

  track(old, queue) {
    const at = Date.parse(queue.updated_at) || Date.now();
    const points = this.history.get(queue.id) ?? [];
    const last = points.at(-1);
    if (!last || last.records !== queue.records_written || last.at !== at) {
      points.push({ at, records: queue.records_written });
      if (points.length > HISTORY) points.shift();
    }
    this.history.set(queue.id, points);
    if (old) this.rates.set(queue.id, rateBetween(old, queue, this.rates.get(queue.id)));
  }

  rate(id) {
    const queue = this.queues.get(id);
    if (queue && isTerminal(queue.status)) return null;
    return this.rates.get(id) ?? null;
  }

  points(id) {
    return this.history.get(id) ?? [];
  }
}

function isOlder(candidate, current) {
  if ((candidate.revision ?? 0) !== (current.revision ?? 0)) {
    return (candidate.revision ?? 0) < (current.revision ?? 0);
  }
  return Date.parse(candidate.updated_at) < Date.parse(current.updated_at);
}

function rateBetween(old, queue, previous) {
  const seconds = (Date.parse(queue.updated_at) - Date.parse(old.updated_at)) / 1000;
  const records = queue.records_written - old.records_written;
  if (!(seconds > 0) || records < 0) return previous ?? null;
  // An update that moved no records (a status or a timestamp) soon after another one does not
  // mean the load stalled: keep the last rate rather than flicker to 0.
  if (records === 0 && seconds < STALL_SECONDS && previous) return previous;
  return records / seconds;
}
