import { fieldDescription, fieldLabel, fieldMessage, t } from "./i18n.js";

// Controls generated from GET /api/catalog: one widget per configuration field, with the bounds,
// default and description the pydantic models declare. A new engine option shows up here without
// UI code. Which fields matter when comes from the schema too (`relevant_when`, declared in the
// engine's option registry, engine/choices.py); labels are in i18n.js.

const SKIP = new Set(["dataset.points", "model.hidden"]); // drawn points and the layer widget

// A `relevant_when` condition: {path: condition, ...}, all of which must hold; a condition is a
// list of values (a list value: one of its items is one of them), {not: [...]} or {gt: n};
// {any: [cond, ...]} holds when one of them does. engine/choices.py's relevant() is the same rule.
export function relevant(cond, cfg) {
  if (!cond) return true;
  if (cond.any) return cond.any.some((c) => relevant(c, cfg));
  return Object.entries(cond).every(([path, want]) => {
    const v = get(cfg, path);
    if (Array.isArray(want)) return Array.isArray(v) ? v.some((x) => want.includes(x)) : want.includes(v);
    if (want.not) return !want.not.includes(v);
    return typeof v === "number" && v > want.gt;
  });
}

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

// An input feature's name as written on the plane: x1_squared -> x₁², sin_x2 -> sin(x₂) (sen in Spanish)
const SUB = { x1: "x₁", x2: "x₂" };
function choiceLabel(c) {
  let m;
  if (SUB[c]) return SUB[c];
  if ((m = /^(x[12])_squared$/.exec(c))) return `${SUB[m[1]]}²`;
  if ((m = /^(x[12])_times_(x[12])$/.exec(c))) return `${SUB[m[1]]}${SUB[m[2]]}`;
  if ((m = /^sin_(x[12])$/.exec(c))) return `${t("feat.sin")}(${SUB[m[1]]})`;
  return prettify(c);
}

// Client-side check with the catalog's bounds: the same rules the server enforces, shown at once.
export function checkNumber(v, f) {
  if (Number.isNaN(v)) return t("err.number");
  if (f.kind === "int" && !Number.isInteger(v)) return t("err.whole");
  if (f.min !== undefined && v < f.min) return t("err.ge", { n: f.min });
  if (f.max !== undefined && v > f.max) return t("err.le", { n: f.max });
  if (f.gt !== undefined && v <= f.gt) return t("err.gt", { n: f.gt });
  if (f.lt !== undefined && v >= f.lt) return t("err.lt", { n: f.lt });
  return null;
}

function parseList(text, f) {
  const raw = text.trim();
  if (!raw) {
    if (f.nullable) return { value: null };
    return { error: t("err.list") };
  }
  const parts = raw.split(/[\s,]+/).filter(Boolean);
  const itemKinds = Array.isArray(f.items) ? f.items : parts.map(() => f.items || { kind: "float" });
  const out = [];
  for (let i = 0; i < parts.length; i++) {
    const spec = itemKinds[i] || itemKinds[0];
    if (spec.kind === "choice") {
      if (!spec.choices.includes(parts[i])) {
        return { error: t("err.item", { i: i + 1, msg: t("err.oneof", { list: spec.choices.join(", ") }) }) };
      }
      out.push(parts[i]);
      continue;
    }
    const v = Number(parts[i]);
    const err = checkNumber(v, spec);
    if (err) return { error: t("err.item", { i: i + 1, msg: err }) };
    out.push(v);
  }
  if (f.min_items !== undefined && out.length < f.min_items) return { error: t("err.min_items", { n: f.min_items }) };
  if (f.max_items !== undefined && out.length > f.max_items) return { error: t("err.max_items", { n: f.max_items }) };
  return { value: out };
}

export class Controls {
  // sweep: {when(path, field), ask(path, field)}: the fields that get a sweep button (sweep.js)
  constructor(catalog, state, { sweep = null } = {}) {
    this.catalog = catalog;
    this.state = state;
    this.sweep = sweep;
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
    // a set of distinct choices (preprocessing.features): checkboxes; an ordered per-layer list stays a text box
    const group = f.kind === "list" && f.unique_items && f.items && f.items.kind === "choice";
    const row = el(group ? "div" : "label", { class: "ctl", title: fieldDescription(path, f.description) }, name);
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
                                placeholder: f.nullable ? t("ctl.none") : "" });
      const read = () => {
        if (num.value === "" && f.nullable) return commit(null);
        const v = Number(num.value);
        const msg = num.value === "" ? t("err.needed") : checkNumber(v, f);
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
    } else if (group) {
      // a subset of fixed choices (preprocessing.features): one checkbox each, in the catalog's order
      const boxes = f.items.choices.map((c) => el("input", { type: "checkbox", value: c, "data-choice": c }));
      const names = f.items.choices.map((c) => el("span", {}, choiceLabel(c)));
      input = el("div", { class: "checkgroup", "data-path": path, role: "group" },
        ...boxes.map((b, i) => el("label", {}, b, names[i])));
      const read = () => {
        const value = boxes.filter((b) => b.checked).map((b) => b.value);
        if (f.min_items !== undefined && value.length < f.min_items) return fail(t("err.min_items", { n: f.min_items }));
        commit(value);
      };
      for (const b of boxes) b.addEventListener("change", read);
      write = (v) => { for (const b of boxes) b.checked = (v || []).includes(b.value); };
      const relabelChoices = () => names.forEach((n, i) => { n.textContent = choiceLabel(f.items.choices[i]); });
      row.addEventListener("relabel", relabelChoices);
    } else if (f.kind === "list") {
      input = el("input", { type: "text", "data-path": path, placeholder: f.nullable ? t("ctl.none") : "" });
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
    row.append(input);
    if (this.sweep && this.sweep.when(path, f)) {
      // after the input, so the label still focuses the input, not this button
      row.classList.add("sweepable");
      row.append(el("button", { type: "button", class: "sweep-btn", "data-sweep": path, title: t("sweep.action"),
                                "aria-label": t("sweep.action") }, "⋯"));
      row.lastChild.addEventListener("click", (ev) => { ev.preventDefault(); this.sweep.ask(path, f); });
    }
    row.append(err);
    this.widgets.set(path, { row, write, fail, when: f.relevant_when, relabel: () => {
      row.dispatchEvent(new Event("relabel"));
      name.textContent = fieldLabel(path);
      row.title = fieldDescription(path, f.description);
      row.querySelector(".sweep-btn")?.setAttribute("title", t("sweep.action"));
      row.querySelector(".sweep-btn")?.setAttribute("aria-label", t("sweep.action"));
    } });
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
        w.row.hidden = sectionOff || !relevant(w.when, cfg);
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
      const message = fieldMessage(d).replace(/^Value error, /, "");
      if (w && w.fail && !w.row.hidden) w.fail(message, false);
      else unplaced.push(`${d.field}: ${message}`);
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
