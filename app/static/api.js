// REST calls with the envelope {status, message, data}; the bearer token from sessionStorage.

const TOKEN_KEY = "queue-manager.token";

// `sentToken`: the request carried a token (so that token was refused) or it carried none.
export class AuthRequired extends Error {
  constructor(message, sentToken) {
    super(message);
    this.sentToken = sentToken;
  }
}

export class ApiError extends Error {
  constructor(status, envelope) {
    super(envelope?.message || `HTTP ${status}`);
    this.status = status;
    this.data = envelope?.data;
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const saved = token.get();
  if (saved) headers.Authorization = `Bearer ${saved}`;
  let response;
  try {
    response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { message: "The service does not answer." });
  }
  const envelope = await response.json().catch(() => null);
  if (response.status === 401) {
    throw new AuthRequired(envelope?.message || "token required", Boolean(saved));
  }
  if (!response.ok) throw new ApiError(response.status, envelope);
  return { data: envelope?.data, message: envelope?.message, headers: response.headers };
}

export const api = {
  list: (params) => call("GET", `/queues?${new URLSearchParams(params)}`),
  get: (id) => call("GET", `/queues/${encodeURIComponent(id)}`),
  logs: (id, job, tail = 200) => call("GET",
    `/queues/${encodeURIComponent(id)}/logs?${new URLSearchParams({ job, tail, format: "text" })}`),
  start: (body) => call("POST", "/queues/start", body),
  stop: (id) => call("POST", `/queues/stop?${new URLSearchParams({ queue_id: id })}`),
  schedules: () => call("GET", "/schedules"),
  schedule: (id) => call("GET", `/schedules/${encodeURIComponent(id)}`),
  createSchedule: (body) => call("POST", "/schedules", body),
  changeSchedule: (id, body) => call("PATCH", `/schedules/${encodeURIComponent(id)}`, body),
  runSchedule: (id) => call("POST", `/schedules/${encodeURIComponent(id)}/run`),
  coverage: (filter) => call("GET", `/coverage?${new URLSearchParams(filter)}`),
  fill: (filter, dryRun) => call("POST",
    `/coverage/fill?${new URLSearchParams({ ...filter, dry_run: String(dryRun) })}`),
};
