import { fieldLabel, t } from "./i18n.js";

// Controls generated from GET /api/catalog: one widget per configuration field, with the bounds,
// default and description the pydantic models declare. A new engine option shows up here without
// UI code. The only UI knowledge below is which fields matter when (RELEVANT); labels are in i18n.js.

const SKIP = new Set(["dataset.points", "model.hidden"]); // drawn points and the layer widget
const is = (path, ...values) => (cfg) => values.includes(get(cfg, path));
const RELEVANT = {
  "dataset.noise": (c) => !["wine", "digits", "custom"].includes(c.dataset.name),
  "dataset.n_samples": (c) => !["digits", "custom"].includes(c.dataset.name),
  "dataset.classes": is("dataset.name", "digits"),
  "dataset.per_class": (c) => c.dataset.name !== "sine",
  "augmentation.rotation_deg": is("dataset.name", "digits"),
  "augmentation.scale": is("dataset.name", "digits"),
  "augmentation.shift": is("dataset.name", "digits"),
  "model.arch": is("dataset.name", "digits"),
  "model.conv_channels": (c) => c.dataset.name === "digits" && c.model.arch !== "mlp",
  "model.leaky_slope": (c) => c.model.activation === "leaky_relu" || (c.model.activations || []).includes("leaky_relu"),
  "model.bn_alpha": (c) => c.model.batch_norm,
  "init.std": is("init.scheme", "normal", "constant"),
  "init.xavier_mode": is("init.scheme", "xavier"),
  "optimizer.momentum": is("optimizer.name", "momentum", "nesterov"),
  "optimizer.betas": is("optimizer.name", "adam", "adamw"),
  "optimizer.rho": is("optimizer.name", "rmsprop"),
  "optimizer.eps": is("optimizer.name", "adagrad", "rmsprop", "adam", "adamw"),
  "optimizer.decay_biases": (c) => c.optimizer.weight_decay > 0,
  "schedule.step_size": is("schedule.name", "step"),
  "schedule.gamma": is("schedule.name", "step", "exponential"),
  "schedule.factor": is("schedule.name", "plateau"),
  "schedule.patience": is("schedule.name", "plateau"),
  "schedule.min_lr": is("schedule.name", "plateau", "cosine"),
  "early_stopping.monitor": (c) => c.early_stopping.enabled,
  "early_stopping.patience": (c) => c.early_stopping.enabled,
  "early_stopping.min_delta": (c) => c.early_stopping.enabled,
  "early_stopping.restore_best": (c) => c.early_stopping.enabled,
  "transfer.k": (c) => c.transfer && c.transfer.strategy === "finetune_last_k",
  "transfer.feature_lr_scale": (c) => c.transfer && ["finetune_all", "finetune_last_k"].includes(c.transfer.strategy),
};

function get(obj, path) {
  return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) e.append(c);
  return e;
}

function prettify(name) {
  return name.replaceAll("_", " ");
}

// Client-side check with the catalog's bounds: the same rules the server enforces, shown at once.
function checkNumber(v, f) {
  if (Number.isNaN(v)) return "a number is needed";
  if (f.kind === "int" && !Number.isInteger(v)) return "a whole number is needed";
  if (f.min !== undefined && v < f.min) return `at least ${f.min}`;
  if (f.max !== undefined && v > f.max) return `at most ${f.max}`;
  if (f.gt !== undefined && v <= f.gt) return `more than ${f.gt}`;
  if (f.lt !== undefined && v >= f.lt) return `less than ${f.lt}`;
  return null;
}

function parseList(text, f) {
  const t = text.trim();
  if (!t) {
    if (f.nullable) return { value: null };
    return { error: "a comma-separated list is needed" };
  }
  const parts = t.split(/[\s,]+/).filter(Boolean);
  const itemKinds = Array.isArray(f.items) ? f.items : parts.map(() => f.items || { kind: "float" });
  const out = [];
  for (let i = 0; i < parts.length; i++) {
    const spec = itemKinds[i] || itemKinds[0];
    if (spec.kind === "choice") {
      if (!spec.choices.includes(parts[i])) return { error: `item ${i + 1}: one of ${spec.choices.join(", ")}` };
      out.push(parts[i]);
      continue;
    }
    const v = Number(parts[i]);
    const err = checkNumber(v, spec);
    if (err) return { error: `item ${i + 1}: ${err}` };
    out.push(v);
  }
  if (f.min_items !== undefined && out.length < f.min_items) return { error: `at least ${f.min_items} items` };
  if (f.max_items !== undefined && out.length > f.max_items) return { error: `at most ${f.max_items} items` };
  return { value: out };
}

export class Controls {
  constructor(catalog, state) {
    this.catalog = catalog;
    this.state = state;
    this.widgets = new Map(); // path -> {row, read, write}
    this.invalid = new Map(); // path -> message: boxes holding a value the browser rejected
    for (const [section, spec] of Object.entries(catalog.sections)) {
      const host = document.getElementById(`controls-${section}`);
      if (!host) continue;
      if (spec.optional) this.optionalToggle(host, section, spec);
      for (const [name, f] of Object.entries(spec.fields)) {
        const path = `${section}.${name}`;
        if (SKIP.has(path)) continue;
        host.append(this.widget(path, f));
      }
    }
    state.onChange((path) => this.refresh(path));
    this.refresh("*");
  }

  optionalToggle(host, section, spec) {
    // An optional section (transfer) is null until switched on; switching on fills its defaults.
    const box = el("input", { type: "checkbox", "data-path": section });
    box.addEventListener("change", () => {
      if (box.checked) {
        const init = {};
        for (const [k, f] of Object.entries(spec.fields)) init[k] = f.default ?? (k === "source" ? "builtin:digits-0-4" : null);
        this.state.set(section, init);
      } else {
        this.state.set(section, null);
      }
    });
    const name = el("span", {}, t("enabled"));
    this.widgets.set(section, { row: null, write: (v) => { box.checked = v != null; }, relabel: () => { name.textContent = t("enabled"); } });
    host.append(el("label", { class: "ctl" }, name, box));
  }

  widget(path, f) {
    const name = el("span", {}, fieldLabel(path));
    const row = el("label", { class: "ctl", title: f.description || "" }, name);
    const err = el("div", { class: "err", hidden: true });
    // client: the browser rejected what the box shows (kept until the box changes); otherwise a
    // server's 422 message (cleared by the next answer)
    const fail = (msg, client = true) => {
      if (msg && client) this.invalid.set(path, msg);
      else this.invalid.delete(path);
      row.classList.toggle("invalid", !!msg);
      err.hidden = !msg;
      err.textContent = msg || "";
    };
    const commit = (value) => {
      fail(null);
      this.state.set(path, value);
    };
    let input, write;
    if (f.kind === "bool") {
      input = el("input", { type: "checkbox", "data-path": path });
      input.addEventListener("change", () => commit(input.checked));
      write = (v) => { input.checked = !!v; };
    } else if (f.kind === "choice") {
      input = el("select", { "data-path": path });
      for (const c of f.choices) input.append(el("option", { value: c }, prettify(String(c))));
      input.addEventListener("change", () => commit(input.value));
      write = (v) => { input.value = v; };
    } else if (f.kind === "int" || f.kind === "float") {
      const lo = f.min ?? f.gt, hi = f.max ?? f.lt;
      const tiny = f.default && Math.abs(f.default) < 1e-3; // e.g. eps: a slider could not reach it
      const slider = f.kind === "float" && !tiny && lo !== undefined && hi !== undefined && hi - lo <= 2;
      const num = el("input", { type: "number", step: f.kind === "int" ? 1 : "any", "data-path": path,
                                placeholder: f.nullable ? "none" : "" });
      const read = () => {
        if (num.value === "" && f.nullable) return commit(null);
        const v = Number(num.value);
        const msg = num.value === "" ? "a value is needed" : checkNumber(v, f);
        if (msg) return fail(msg);
        commit(v);
      };
      num.addEventListener("change", read);
      if (slider) {
        const range = el("input", { type: "range", min: lo, max: hi, step: (hi - lo) / 100, tabindex: -1 });
        range.addEventListener("input", () => { num.value = range.value; });
        range.addEventListener("change", () => { num.value = range.value; read(); });
        input = el("div", { class: "rangebox" }, range, num);
        write = (v) => { num.value = v ?? ""; range.value = v ?? lo; };
      } else {
        input = num;
        write = (v) => { num.value = v ?? ""; };
      }
    } else if (f.kind === "list") {
      input = el("input", { type: "text", "data-path": path, placeholder: f.nullable ? "none" : "" });
      input.addEventListener("change", () => {
        const { value, error } = parseList(input.value, f);
        if (error) return fail(error);
        commit(value);
      });
      write = (v) => { input.value = v == null ? "" : v.join(", "); };
    } else {
      const options = path === "transfer.source" ? { list: "transfer-sources" } : {};
      input = el("input", { type: "text", "data-path": path, ...options });
      input.addEventListener("change", () => commit(input.value.trim()));
      write = (v) => { input.value = v ?? ""; };
    }
    row.append(input, err);
    this.widgets.set(path, { row, write, fail, relabel: () => { name.textContent = fieldLabel(path); } });
    return row;
  }

  relabel() {
    for (const w of this.widgets.values()) w.relabel && w.relabel();
  }

  // Fields whose box shows a rejected value, still on screen: a run must not start while there are
  // any, or it would train with a value other than the one shown. [{path, label, message, row}]
  invalidFields() {
    return [...this.invalid].map(([path, message]) => ({ path, message, label: fieldLabel(path), row: this.widgets.get(path).row }))
      .filter((f) => f.row && !f.row.hidden);
  }

  // path: what changed ("*": a whole new configuration, which replaces rejected values too).
  refresh(path = "*") {
    const cfg = this.state.config;
    for (const [p, w] of this.widgets) {
      if (this.invalid.has(p)) {
        if (path !== "*") continue; // the box keeps the student's rejected value and its message
        w.fail(null);
      }
      const value = get(cfg, p);
      if (w.row) {
        const section = p.split(".")[0];
        const sectionOff = this.catalog.sections[section].optional && cfg[section] == null;
        const relevant = RELEVANT[p] ? RELEVANT[p](cfg) : true;
        w.row.hidden = sectionOff || !relevant;
      }
      const active = document.activeElement;
      if (!(w.row && w.row.contains(active) && active.tagName === "INPUT" && active.type !== "checkbox")) w.write(value);
    }
  }

  // Show the server's 422 field messages next to the fields they name.
  showErrors(detail) {
    for (const [p, w] of this.widgets) if (w.fail && !this.invalid.has(p)) w.fail(null);
    const unplaced = [];
    for (const d of detail || []) {
      let path = d.field.split(".").filter((p) => Number.isNaN(Number(p))).join(".");
      // cross-field rules name their field at the start of the message: "activations: needs ..."
      const named = /^(?:Value error, )?([a-z_]+(?:\.[a-z_]+)?): /.exec(d.message || "");
      if (named) {
        const inner = named[1].includes(".") ? named[1] : `${path}.${named[1]}`;
        if (this.widgets.has(inner)) path = inner;
        else if (this.widgets.has(named[1])) path = named[1];
      }
      const w = this.widgets.get(path);
      if (w && w.fail && !w.row.hidden) w.fail(d.message.replace(/^Value error, /, ""), false);
      else unplaced.push(`${d.field}: ${d.message}`);
    }
    return unplaced;
  }

  setTransferSources(runIds) {
    let list = document.getElementById("transfer-sources");
    if (!list) {
      list = el("datalist", { id: "transfer-sources" });
      document.body.append(list);
    }
    list.replaceChildren(el("option", { value: "builtin:digits-0-4" }), ...runIds.map((id) => el("option", { value: id })));
  }
}
