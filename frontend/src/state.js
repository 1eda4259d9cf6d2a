// The configuration being edited: defaults from the catalog plus the user's changes. Only the
// changes go into the URL (#c=<base64url JSON>), so a shared link stays short and survives new
// defaults.

export class ConfigState {
  constructor(defaults) {
    this.defaults = structuredClone(defaults);
    this.config = structuredClone(defaults);
    this.listeners = [];
  }

  get(path) {
    return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), this.config);
  }

  set(path, value, { silent = false } = {}) {
    const keys = path.split(".");
    let o = this.config;
    for (const k of keys.slice(0, -1)) {
      if (o[k] == null) o[k] = {};
      o = o[k];
    }
    o[keys.at(-1)] = value;
    if (path === "dataset.name" || path === "dataset") this.dropStrayPoints();
    if (!silent) this.changed(path);
  }

  replace(config) {
    this.config = mergeDeep(structuredClone(this.defaults), config || {});
    this.dropStrayPoints();
    this.changed("*");
  }

  // Drawn or loaded points belong to the custom data set only (the server refuses them on any other).
  dropStrayPoints() {
    const d = this.config.dataset;
    if (d && d.name !== "custom" && d.points != null) d.points = null;
  }

  onChange(fn) { this.listeners.push(fn); }
  changed(path) { for (const fn of this.listeners) fn(path); }

  diff() { return diffDeep(this.config, this.defaults) || {}; }

  toHash() {
    const json = JSON.stringify(this.diff());
    const b64 = btoa(String.fromCharCode(...new TextEncoder().encode(json)));
    return "#c=" + b64.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  }

  static fromHash(hash) {
    const m = /[#&]c=([A-Za-z0-9_-]+)/.exec(hash || "");
    if (!m) return null;
    try {
      const b64 = m[1].replaceAll("-", "+").replaceAll("_", "/");
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      return null;
    }
  }
}

export function mergeDeep(base, over) {
  for (const [k, v] of Object.entries(over)) {
    if (v && typeof v === "object" && !Array.isArray(v) && base[k] && typeof base[k] === "object") {
      mergeDeep(base[k], v);
    } else {
      base[k] = v;
    }
  }
  return base;
}

function diffDeep(a, b) {
  if (JSON.stringify(a) === JSON.stringify(b)) return undefined;
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const out = {};
    for (const k of Object.keys(a)) {
      const d = diffDeep(a[k], b[k]);
      if (d !== undefined) out[k] = d;
    }
    return Object.keys(out).length ? out : undefined;
  }
  return a;
}

// View options: how the page draws a run, not what it trains, so they are not part of the config.
// Each is declared here once: its name in the share link (#…&view=a,b lists those switched on) and
// the checkbox of the page that switches it. main.js wires every one of them.
export const VIEW_OPTIONS = {
  discretize: { input: "discretize" }, // the classification surface as hard classes (outputview.js)
};

// The view options a hash switches on: {name: true}
export function viewFromHash(hash) {
  const m = /[#&]view=([a-z_,]+)/.exec(hash || "");
  const on = m ? m[1].split(",") : [];
  return Object.fromEntries(Object.keys(VIEW_OPTIONS).map((k) => [k, on.includes(k)]));
}

// "view=a,b" for the options switched on, "" when none
export function viewToHash(view) {
  const on = Object.keys(VIEW_OPTIONS).filter((k) => view[k]);
  return on.length ? `view=${on.join(",")}` : "";
}
