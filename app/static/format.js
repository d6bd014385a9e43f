// Formatting: times, ages, freshness classes, numbers.

export function shortTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function ageSeconds(iso, now = Date.now()) {
  const then = Date.parse(iso);
  return Number.isNaN(then) ? null : Math.max(0, (now - then) / 1000);
}

export function ageText(seconds) {
  if (seconds === null) return "—";
  if (seconds < 60) return `${Math.floor(seconds)} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

// Under 5 s fresh (green), under 30 s aging (yellow), older stale (red).
export function freshness(seconds) {
  if (seconds === null) return "stale";
  if (seconds < 5) return "fresh";
  return seconds < 30 ? "aging" : "stale";
}

export const count = (n) => (n ?? 0).toLocaleString();

export function rate(perSecond) {
  if (perSecond === null || perSecond === undefined) return "—";
  return perSecond >= 100 ? Math.round(perSecond).toLocaleString() : perSecond.toFixed(1);
}

export function symbols(queue) {
  const all = queue.symbols?.length ? queue.symbols : [queue.symbol];
  return all.length > 3 ? `${all.slice(0, 3).join(", ")} +${all.length - 3}` : all.join(", ");
}
