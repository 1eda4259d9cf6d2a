// REST and websocket client. Every failure becomes an Error whose message is the server's own
// (the API answers {"error", "detail": [{field, message}]}), so the UI can show it as is.

import { fieldMessage, serverError, t } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, body) {
    const detail = (body && body.detail) || [];
    const lines = detail.map((d) => `${d.field}: ${fieldMessage(d)}`);
    super([body && body.error ? serverError(body.error) : `HTTP ${status}`, ...lines].join("\n"));
    this.status = status;
    this.detail = detail;
  }
}

export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const opts = { method, headers: { ...headers } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw new ApiError(0, { error: t("err.unreachable") });
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { error: text.slice(0, 200) }; }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// One run's live stream. On a dropped connection it reconnects with ?since=<last epoch seen>, so
// the server sends exactly what was missed.
export class RunStream {
  constructor(runId, handlers) {
    this.runId = runId;
    this.handlers = handlers;
    this.lastEpoch = null;
    this.closed = false;
    this.retry = 0;
    this.open();
  }

  open() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const since = this.lastEpoch === null ? "" : `?since=${this.lastEpoch}`;
    this.ws = new WebSocket(`${proto}://${location.host}/ws/runs/${this.runId}${since}`);
    this.ws.onmessage = (m) => {
      this.retry = 0;
      const msg = JSON.parse(m.data);
      const epochs = msg.type === "epoch" ? [msg] : msg.epochs || [];
      for (const e of epochs) this.lastEpoch = Math.max(this.lastEpoch ?? -1, e.epoch);
      this.handlers.message(msg);
    };
    this.ws.onopen = () => {
      if (this.retry && this.handlers.reconnected) this.handlers.reconnected();
    };
    this.ws.onclose = () => {
      if (this.closed) return;
      if (this.retry === 0 && this.handlers.lost) this.handlers.lost();
      this.retry += 1;
      setTimeout(() => !this.closed && this.open(), Math.min(4000, 250 * 2 ** this.retry));
    };
  }

  send(msg) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  close() {
    this.closed = true;
    this.ws.close();
  }
}
