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

// The run statuses and control actions, from /api/catalog (`statuses: {all, active, terminal}`,
// `actions: {action: [statuses it is allowed in]}`, defined once in engine/status.py). A server
// without those keys gets the same lists from FALLBACK, the only place the browser spells them.
const FALLBACK = {
  statuses: {
    all: ["queued", "running", "paused", "completed", "early_stopped", "diverged", "stopped", "failed", "interrupted"],
    active: ["queued", "running", "paused"],
    terminal: ["completed", "early_stopped", "diverged", "stopped", "failed", "interrupted"],
  },
  actions: {
    pause: ["running", "queued"], resume: ["paused", "queued"], step: ["paused"],
    stop: ["queued", "running", "paused"], speed: ["queued", "running", "paused"],
  },
};

export class Vocabulary {
  constructor(catalog) {
    const statuses = (catalog && catalog.statuses) || FALLBACK.statuses;
    this.all = statuses.all;
    this.active = statuses.active;
    this.terminal = statuses.terminal;
    this.actions = (catalog && catalog.actions) || FALLBACK.actions;
  }

  isActive(status) { return this.active.includes(status); }
  isTerminal(status) { return this.terminal.includes(status); }
  // whether `action` may be sent to a run in `status`
  allows(action, status) { return (this.actions[action] || []).includes(status); }
}

let shared = null;
// The vocabulary for pages that do not otherwise read the catalog (the teacher's dashboard):
// fetched once per page; an unreachable catalog falls back as a catalog without the keys does.
export function loadVocabulary() {
  shared ||= api("/api/catalog").then((c) => new Vocabulary(c), () => new Vocabulary(null));
  return shared;
}

function wsUrl(path) {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
}

// A websocket that comes back: on a dropped connection it reconnects with exponential backoff
// (250 ms doubling to `maxDelay`), asking `url()` again each time so a resumable stream can say where
// it left off. A 44xx close code is the server's final answer (not allowed, not found): no retry.
// Handlers: message(msg) with the parsed JSON, lost() on the first drop of a series, reconnected()
// when a reconnect opens, ended(code) after a final close. close() ends it from this side.
export class ReconnectingSocket {
  constructor(url, handlers, { maxDelay = 4000 } = {}) {
    this.url = url;
    this.handlers = handlers;
    this.maxDelay = maxDelay;
    this.closed = false;
    this.retry = 0;
    this.open();
  }

  open() {
    const ws = (this.ws = new WebSocket(wsUrl(this.url())));
    ws.onmessage = (m) => {
      this.retry = 0;
      this.handlers.message(JSON.parse(m.data));
    };
    ws.onopen = () => {
      if (this.retry && this.handlers.reconnected) this.handlers.reconnected();
    };
    ws.onclose = (ev) => {
      if (this.closed || this.ws !== ws) return;
      if (ev.code >= 4400 && ev.code < 4500) {
        // the server's final answer (4403 not allowed, 4404 no such run or room): asking again cannot help
        this.closed = true;
        if (this.handlers.ended) this.handlers.ended(ev.code);
        return;
      }
      if (this.retry === 0 && this.handlers.lost) this.handlers.lost();
      this.retry += 1;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => !this.closed && this.open(), Math.min(this.maxDelay, 250 * 2 ** this.retry));
    };
  }

  send(msg) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.ws.close();
  }
}

// One run's live stream. On a dropped connection it reconnects with ?since=<last epoch seen>, so
// the server sends exactly what was missed.
export class RunStream extends ReconnectingSocket {
  constructor(runId, handlers) {
    let lastEpoch = null;
    super(() => `/ws/runs/${runId}${lastEpoch === null ? "" : `?since=${lastEpoch}`}`, {
      ...handlers,
      message: (msg) => {
        const epochs = msg.type === "epoch" ? [msg] : msg.epochs || [];
        for (const e of epochs) lastEpoch = Math.max(lastEpoch ?? -1, e.epoch);
        handlers.message(msg);
      },
    });
    this.runId = runId;
  }
}

// A classroom's live events (/ws/rooms/{code}); the server sends the room's state on every connect.
export function roomSocket(code, handlers) {
  return new ReconnectingSocket(() => `/ws/rooms/${encodeURIComponent(code)}`, handlers, { maxDelay: 5000 });
}
