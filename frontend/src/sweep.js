// Sweeps on the playground page: the sweep action of a numeric or choice control (a grid of values
// for one field of the configuration on screen), and the small-multiples view of a running sweep
// (POST /api/sweeps, docs/protocol.md "Sweeps"): one output view per variant, labelled with its value
// and fed by the variant's own run websocket, the loss curves overlaid on one chart coloured by value,
// pause / resume / stop for the whole sweep, and a click on a variant opening it as an ordinary run.
import { api, RunStream } from "./api.js";
import { LineChart } from "./charts.js";
import { checkNumber } from "./controls.js";
import { $, el, fmt, ONE_COLUMN, smallButton } from "./dom.js";
import { fieldLabel, fieldMessage, t } from "./i18n.js";
import { OutputView } from "./outputview.js";
import { hexRgb, mix, PALETTE } from "./theme.js";

const CHART_MIN = 340; // px: the overlaid chart's narrowest on a wide screen
const MAX_VALUES = 16; // the dialog's limit; the server's is max_sweep_variants
// Sections whose fields get no sweep action: they change what is measured, not what is learned.
const NO_SWEEP = new Set(["telemetry", "transfer"]);
// The colour scale of an ordered axis (small to large values), dark enough for a line on white.
const RAMP = ["#253494", "#2c7fb8", "#41ae76", "#d95f0e", "#b10026"].map(hexRgb);

export function sweepable(path, f) {
  return !NO_SWEEP.has(path.split(".")[0]) && ["int", "float", "choice"].includes(f.kind);
}

// n values from `from` to `to`, both included: evenly spaced, or evenly spaced in log10 (from, to > 0).
// Whole numbers for an int field, each value once.
export function gridValues(from, to, n, scale, kind = "float") {
  const steps = Math.max(1, n - 1);
  const out = [];
  for (let i = 0; i < n; i++) {
    let v = scale === "log" ? 10 ** (Math.log10(from) + ((Math.log10(to) - Math.log10(from)) * i) / steps)
      : from + ((to - from) * i) / steps;
    v = kind === "int" ? Math.round(v) : +v.toPrecision(6);
    if (n === 1) v = from;
    if (!out.includes(v)) out.push(v);
  }
  return out;
}

// The grid the dialog proposes for a number field: a learning rate's 0.001 .. 10 on a log grid of 5
// (the "too small, right, too large" picture); a bounded field in [0, 2] (momentum, dropout) its
// range on a linear grid; another positive value two decades below to one above its power of ten.
function defaultGrid(f, value) {
  const lo = f.min ?? f.gt, hi = f.max ?? f.lt;
  const v = value ?? f.default ?? lo ?? 1;
  const inside = (x) => !checkNumber(x, f);
  if (f.kind === "int") {
    if (v > 0) return { from: Math.max(lo ?? 1, Math.round(v / 2)), to: Math.min(hi ?? Infinity, v * 2), n: 3, scale: "linear" };
    return { from: v, to: Math.min(hi ?? v + 3, v + 3), n: 4, scale: "linear" };
  }
  if (lo !== undefined && hi !== undefined && hi - lo <= 2) {
    const step = (hi - lo) / 10;
    return { from: inside(lo) ? lo : lo + step, to: inside(hi) ? hi : hi - step, n: 5, scale: "linear" };
  }
  if (v > 0) {
    const p = Math.floor(Math.log10(v));
    let from = 10 ** (p - 1), to = 10 ** (p + 3);
    if (!inside(from)) from = v;
    if (!inside(to)) to = hi ?? v;
    return { from: +from.toPrecision(6), to: +to.toPrecision(6), n: 5, scale: "log" };
  }
  return { from: lo ?? 0, to: hi ?? 1, n: 5, scale: "linear" };
}

// A value as a variant's label: numbers to 3 significant digits, choices as they read in the controls.
export function valueText(v) {
  if (typeof v === "number") return String(+v.toPrecision(3));
  if (Array.isArray(v)) return `[${v.map(valueText).join(", ")}]`;
  return String(v).replaceAll("_", " ");
}

// The K colours of a sweep: an ordered (numeric) axis on the ramp, small to large; choices the palette.
function sweepColors(values) {
  const numeric = values.every((v) => typeof v === "number");
  if (!numeric) return values.map((_, i) => PALETTE[i % PALETTE.length]);
  const order = values.map((v, i) => [v, i]).sort((a, b) => a[0] - b[0]);
  const out = new Array(values.length);
  order.forEach(([, i], rank) => {
    const x = (values.length === 1 ? 0 : rank / (values.length - 1)) * (RAMP.length - 1);
    const k = Math.min(RAMP.length - 2, Math.floor(x));
    const [r, g, b] = mix(RAMP[k], RAMP[k + 1], x - k);
    out[i] = `rgb(${r},${g},${b})`;
  });
  return out;
}

// The loss curves of every variant on one epoch axis: a variant's stream fills its own series as its
// epochs arrive (the variants' streams are not in step), so the chart's data is kept per epoch.
class OverlayChart extends LineChart {
  put(k, epoch, value) {
    while (this.x.length <= epoch) {
      this.x.push(this.x.length);
      this.ys.forEach((y) => y.push(null));
    }
    this.ys[k][epoch] = this.clean(value);
    this.schedule();
  }

  setLog(log) {
    const raw = this.raw;
    super.setLog(log);
    if (raw) raw.forEach((vs, k) => vs.forEach((v, e) => { this.ys[k][e] = this.clean(v); }));
    this.schedule();
  }
}

// One sweep on screen: its variants (run id, values, label, colour, output view, stream, records).
class SweepView {
  constructor(pg, sweep, { title, field }) {
    this.pg = pg;
    this.id = sweep.id;
    this.title = title; // a caller's own title, else the swept fields' labels in the page's language
    this.field = field;
    const paths = Object.keys(sweep.variants[0].values || {});
    this.paths = paths;
    const labelOf = (values) => paths.map((p) => valueText(values[p])).join(" · ");
    const colors = sweepColors(sweep.variants.map((v) => (paths.length === 1 ? v.values[paths[0]] : String(labelOf(v.values)))));
    this.variants = sweep.variants.map((v, k) => ({
      k, run: v.run, values: v.values, label: labelOf(v.values), color: colors[k], status: "queued", records: [], diverged: false,
    }));
    this.build();
  }

  titleText() {
    return t("sweep.title", { field: this.paths.length ? this.paths.map(fieldLabel).join(" × ") : this.title });
  }

  build() {
    const root = $("sweep");
    this.cells = el("div", { class: "sweep-cells", id: "sweep-cells" });
    this.chartHost = el("div", { id: "sweep-chart" });
    this.statusEl = el("span", { class: "sweep-status", id: "sweep-status", "aria-live": "polite" });
    const logBox = el("input", { type: "checkbox", id: "sweep-log", checked: "" });
    logBox.onchange = () => this.chart.setLog(logBox.checked);
    // data-i18n: a language switch relabels these fixed texts (applyI18n); the title is relabel()'s
    this.titleEl = el("h2", { text: this.titleText() });
    const head = el("div", { class: "sweep-head" },
      this.titleEl, this.statusEl,
      smallButton(t("sweep.pause"), () => this.control("pause"), { id: "sweep-pause", "data-i18n": "sweep.pause" }),
      smallButton(t("sweep.resume"), () => this.control("resume"), { id: "sweep-resume", "data-i18n": "sweep.resume" }),
      smallButton(t("sweep.stop"), () => this.control("stop"), { id: "sweep-stop", "data-i18n": "sweep.stop" }),
      el("span", { class: "spacer" }),
      smallButton("✕", () => this.pg.sweeps.hide(), { id: "sweep-close", title: t("sweep.close"), "aria-label": t("sweep.close"),
                                                      "data-i18n-title": "sweep.close", "data-i18n-aria": "sweep.close" }));
    const chartCard = el("div", { class: "chart-card sweep-chart-card" },
      el("div", { class: "chart-head" }, el("h3", { text: t("sweep.loss"), "data-i18n": "sweep.loss" }),
        el("label", { class: "small" }, logBox, " ", el("span", { text: t("chart.log"), "data-i18n": "chart.log" }))),
      this.chartHost, el("p", { class: "hint", text: t("sweep.hint"), "data-i18n": "sweep.hint" }));
    root.replaceChildren(head, el("div", { class: "sweep-body" }, this.cells, chartCard));
    for (const v of this.variants) this.cell(v);
    this.chart = new OverlayChart(this.chartHost, {
      series: this.variants.map((v) => ({ label: v.label, color: v.color, width: 2 })),
      log: true, yLabel: t("chart.yloss"), height: ONE_COLUMN.matches ? 200 : Math.max(220, Math.min(420, innerHeight - 300)),
    });
    this.chart.raw = this.variants.map(() => []);
    this.fit = new ResizeObserver(() => this.layout());
    this.fit.observe(root);
    this.layout();
    this.paintStatus();
  }

  cell(v) {
    v.swatch = el("i", { class: "swatch" });
    v.swatch.style.background = v.color;
    v.badge = el("span", { class: "badge" });
    v.figure = el("span", { class: "fig-small" });
    const out = el("div", { class: "sweep-out" });
    v.el = el("div", { class: "sweep-cell", role: "button", tabindex: 0, "data-run": v.run, "data-k": v.k,
                       title: t("sweep.open") },
      el("div", { class: "sweep-label" }, v.swatch, el("b", { text: v.label }), v.badge), out, v.figure);
    v.el.onclick = () => this.pg.sweeps.openVariant(v.run);
    v.el.onkeydown = (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); v.el.click(); } };
    this.cells.append(v.el);
    v.out = new OutputView(out, { onAddPoint: () => {} });
    v.stream = new RunStream(v.run, { message: (m) => this.onMessage(v, m) });
  }

  // The largest square cells that show every variant in the view's height (K <= 8 at 1280x720); on
  // one column (a phone) two columns, scrolled.
  layout() {
    const K = this.variants.length;
    const body = this.cells.parentElement;
    // wide: the cells take what they need and the chart the rest (at least CHART_MIN)
    const w = ONE_COLUMN.matches ? this.cells.clientWidth : body.clientWidth - CHART_MIN - 12;
    if (w <= 0) return;
    const gap = 8, labelH = 44;
    let best = { cols: 2, size: Math.floor((w - gap) / 2) };
    if (!ONE_COLUMN.matches) {
      const h = $("sweep").clientHeight - this.cells.offsetTop - 12;
      best = { cols: 1, size: 0 };
      for (let cols = 1; cols <= K; cols++) {
        const rows = Math.ceil(K / cols);
        const size = Math.floor(Math.min((w - gap * (cols - 1)) / cols, (h - rows * (labelH + gap)) / rows));
        if (size > best.size) best = { cols, size };
      }
      best.size = Math.max(110, Math.min(best.size, 320));
    }
    this.cells.style.setProperty("--cols", best.cols);
    this.cells.style.setProperty("--cell", `${best.size}px`);
    const used = best.cols * best.size + (best.cols - 1) * gap;
    body.style.gridTemplateColumns = ONE_COLUMN.matches ? "" : `${used}px minmax(${CHART_MIN}px, 1fr)`;
  }

  async dataFor(v) {
    // the variants of one data configuration share one preview (POST /api/data/preview)
    const cfg = v.config;
    const body = { dataset: cfg.dataset, preprocessing: cfg.preprocessing, augmentation: cfg.augmentation };
    const key = JSON.stringify(body);
    this.previews ??= new Map();
    if (!this.previews.has(key)) this.previews.set(key, api("/api/data/preview", { method: "POST", body }));
    return this.previews.get(key);
  }

  onMessage(v, m) {
    switch (m.type) {
      case "snapshot":
        if (m.since == null) { v.records = []; this.chart.raw[v.k] = []; }
        v.status = m.run.status;
        if (!v.config) {
          v.config = m.run.config;
          this.dataFor(v).then((d) => { v.out.setData(d); if (v.surface) v.out.setSurface(v.surface); }).catch(() => {});
        }
        m.epochs.forEach((r) => this.onEpoch(v, r));
        m.markers.forEach((k) => this.onMarker(v, k));
        if (m.surfaces.length) this.onSurface(v, m.surfaces.at(-1));
        break;
      case "epoch": this.onEpoch(v, m); break;
      case "surface": this.onSurface(v, m); break;
      case "marker": this.onMarker(v, m); break;
      case "status": v.status = m.status; break;
      case "run_end": v.status = m.status; break;
      case "coalesced":
        m.epochs.forEach((r) => this.onEpoch(v, r));
        m.markers.forEach((k) => this.onMarker(v, k));
        if (m.surface) this.onSurface(v, m.surface);
        (m.events || []).forEach((e) => this.onMessage(v, e));
        return;
      case "deleted": v.status = "deleted"; break;
      default: return;
    }
    this.paintVariant(v);
    this.paintStatus();
  }

  onEpoch(v, r) {
    v.records = v.records.filter((x) => x.epoch < r.epoch).concat([r]);
    this.chart.raw[v.k][r.epoch] = r.train_loss;
    this.chart.put(v.k, r.epoch, r.train_loss);
    v.el.dataset.epochs = v.records.length;
  }

  onSurface(v, s) {
    v.surface = s;
    if (v.out.data) v.out.setSurface(s);
  }

  onMarker(v, m) {
    if (m.kind === "diverged") v.diverged = true;
  }

  // A variant's badge: its status, and "diverged" (or "loss exploded": completed, but its validation
  // loss ended far above where it started, RunControl.blewUp's rule) in the alarm colour.
  paintVariant(v) {
    const exploded = v.status === "completed" && this.pg.blewUp.call({ records: v.records });
    const bad = v.diverged || v.status === "diverged" || exploded;
    v.el.classList.toggle("diverged", bad);
    v.el.dataset.status = v.status;
    v.badge.textContent = v.status === "deleted" ? t("sweep.deleted")
      : bad ? t(exploded ? "sweep.exploded" : "status.diverged") : t(`status.${v.status}`);
    // a diverged variant's curve ends where its loss stopped being a number: its legend entry says why
    const legend = bad ? `${v.label} ✗ ${v.badge.textContent}` : v.label;
    if (this.chart.series[v.k].label !== legend) {
      this.chart.relabel(this.variants.map((x) => (x === v ? legend : this.chart.series[x.k].label)));
    }
    const r = v.records.at(-1);
    if (!r) return;
    const score = r.val_r2 !== undefined ? `R² ${fmt(r.val_r2, 2)}` : r.val_acc == null ? "" : `${(r.val_acc * 100).toFixed(0)}%`;
    v.figure.textContent = `${t("runs.epoch")} ${r.epoch} · ${t("sweep.loss_short")} ${fmt(r.train_loss, 3)}${score ? ` · ${score}` : ""}`;
  }

  // The sweep's status: running while a variant is, else paused while one is (a queued run that was
  // paused stays "queued" until it starts, paused), else running while one waits for a worker, else ended.
  status() {
    const s = this.variants.map((v) => v.status);
    if (s.includes("running")) return "running";
    if (s.includes("paused")) return "paused";
    return s.includes("queued") ? "running" : "ended";
  }

  paintStatus() {
    const st = this.status();
    const done = this.variants.filter((v) => this.pg.vocab.isTerminal(v.status)).length;
    this.statusEl.className = `sweep-status status ${st === "ended" ? "completed" : st}`;
    this.statusEl.textContent = t(`sweep.${st}`, { done, k: this.variants.length });
    $("sweep-pause").disabled = st !== "running";
    $("sweep-resume").disabled = st !== "paused";
    $("sweep-stop").disabled = st === "ended";
  }

  async control(action) {
    try {
      await api(`/api/sweeps/${this.id}/${action}`, { method: "POST" });
    } catch (e) {
      this.pg.showError(e);
    }
  }

  close() {
    this.fit.disconnect();
    for (const v of this.variants) v.stream.close();
  }
}

// The sweep action's form: the values of one field (a grid between two numbers, or a set of choices).
class SweepDialog {
  constructor(onStart) {
    this.onStart = onStart;
    this.dialog = el("dialog", { id: "sweep-dialog", class: "sweep-dialog" });
    document.body.append(this.dialog);
  }

  open(path, f, value) {
    this.path = path;
    this.f = f;
    const d = this.dialog;
    const error = el("div", { class: "err", id: "sweep-error", hidden: "" });
    const preview = el("div", { class: "muted", id: "sweep-values" });
    let values = () => [];
    const body = el("div", { class: "sweep-form" });
    if (f.kind === "choice") {
      const boxes = f.choices.map((c) => el("input", { type: "checkbox", value: c, checked: "" }));
      body.append(...f.choices.map((c, i) => el("label", { class: "choice" }, boxes[i], ` ${valueText(c)}`)));
      values = () => boxes.filter((b) => b.checked).map((b) => f.choices[boxes.indexOf(b)]);
    } else {
      const g = defaultGrid(f, value);
      const num = (id, v, attrs = {}) => el("input", { type: "number", id, value: v, step: "any", ...attrs });
      const from = num("sweep-from", g.from), to = num("sweep-to", g.to);
      const n = num("sweep-n", g.n, { min: 1, max: MAX_VALUES, step: 1 });
      const scale = el("select", { id: "sweep-scale" }, el("option", { value: "log", text: t("sweep.log") }),
                       el("option", { value: "linear", text: t("sweep.linear") }));
      scale.value = g.scale;
      body.append(el("label", {}, el("span", { text: t("sweep.from") }), from), el("label", {}, el("span", { text: t("sweep.to") }), to),
                  el("label", {}, el("span", { text: t("sweep.count") }), n), el("label", {}, el("span", { text: t("sweep.scale") }), scale));
      values = () => {
        const a = Number(from.value), b = Number(to.value), k = Number(n.value);
        const bad = checkNumber(a, f) || checkNumber(b, f);
        if (bad) throw new Error(bad);
        if (!Number.isInteger(k) || k < 1 || k > MAX_VALUES) throw new Error(t("sweep.bad_count", { max: MAX_VALUES }));
        if (scale.value === "log" && (a <= 0 || b <= 0)) throw new Error(t("sweep.bad_log"));
        return gridValues(a, b, k, scale.value, f.kind);
      };
    }
    const show = () => {
      try {
        const vs = values();
        preview.textContent = vs.map(valueText).join(", ");
        error.hidden = true;
        return vs;
      } catch (e) {
        preview.textContent = "";
        error.textContent = e.message;
        error.hidden = false;
        return null;
      }
    };
    body.oninput = show;
    body.onchange = show;
    const start = smallButton(t("sweep.start"), async () => {
      const vs = show();
      if (!vs) return;
      if (!vs.length) { error.textContent = t("sweep.none"); error.hidden = false; return; }
      start.disabled = true;
      try {
        await this.onStart(path, vs);
        d.close();
      } catch (e) {
        error.textContent = e.message;
        error.hidden = false;
      } finally {
        start.disabled = false;
      }
    }, { id: "sweep-go", class: "primary" });
    d.replaceChildren(el("h3", { text: t("sweep.dialog", { field: fieldLabel(path) }) }), body, preview, error,
      el("div", { class: "row" }, smallButton(t("sweep.cancel"), () => d.close()), start));
    show();
    d.showModal();
  }
}

// The playground's sweeps: the dialog, the view of the current sweep, and a way back to it after a
// variant was opened as a run.
export class Sweeps {
  constructor(pg) {
    this.pg = pg;
    this.view = null;
    this.dialog = new SweepDialog((path, values) => this.start(
      { ...pg.state.config, lesson: pg.preset?.name ?? null }, { [path]: values }, "grid", fieldLabel(path)));
    this.root = el("section", { id: "sweep", class: "sweep", hidden: "", "aria-label": t("sweep.aria") });
    this.back = smallButton(t("sweep.back"), () => this.show(), { id: "sweep-back", class: "small sweep-back", hidden: "" });
    document.querySelector("main.page").append(this.root);
    document.body.append(this.back);
  }

  // the sweep action of a control: called by Controls with the field's catalog entry
  ask(path, f) {
    this.dialog.open(path, f, this.pg.state.get(path));
  }

  // A lesson with a `sweep` ({vary, mode}): its configuration swept as the lesson says.
  startLesson(p) {
    const title = Object.keys(p.sweep.vary).map(fieldLabel).join(" × ");
    return this.start({ ...p.config, lesson: p.name }, p.sweep.vary, p.sweep.mode || "grid", title)
      .catch((e) => this.pg.showError(e));
  }

  // A sweep the teacher broadcasts to the room: shown, not controlled (only its owner may).
  async watch(sweepId) {
    if (this.view && this.view.id === sweepId) return this.show();
    const sweep = await api(`/api/sweeps/${sweepId}`);
    if (this.view) this.view.close();
    const title = Object.keys(sweep.vary || sweep.variants[0].values).map(fieldLabel).join(" × ");
    this.view = new SweepView(this.pg, sweep, { title });
    this.view.watched = true;
    for (const id of ["sweep-pause", "sweep-resume", "sweep-stop"]) $(id).hidden = true;
    this.show();
  }

  // the room stopped showing a sweep: its view goes (the student's own sweep, if any, is gone too)
  unwatch() {
    if (!this.view || !this.view.watched) return;
    this.view.close();
    this.view = null;
    this.hide();
  }

  async start(base, vary, mode, title) {
    let sweep;
    try {
      sweep = await api("/api/sweeps", { method: "POST", body: { base, vary, mode },
                                         headers: { "X-Client-Id": localStorage.nnpClient || "" } });
    } catch (e) {
      throw this.explain(e);
    }
    if (this.view) this.view.close();
    this.view = new SweepView(this.pg, sweep, { title });
    this.show();
    this.pg.refreshRuns();
    return sweep;
  }

  // A 422's field messages, in the dialog: "vary.optimizer.lr: ..." reads as the field's label.
  explain(e) {
    if (!e.detail || !e.detail.length) return e;
    const lines = e.detail.map((d) => `${d.field.startsWith("vary.") ? fieldLabel(d.field.slice(5)) : d.field}: ${fieldMessage(d)}`);
    return new Error(lines.join("\n"));
  }

  show() {
    if (!this.view) return;
    this.root.hidden = false;
    this.back.hidden = true;
    document.body.classList.add("sweeping");
    this.view.layout();
  }

  hide() {
    this.root.hidden = true;
    this.back.hidden = !this.view;
    document.body.classList.remove("sweeping");
  }

  // "open run": the variant in the normal playground view. A variant watched there before is
  // detached first, not stopped (a new configuration stops the playground's own run).
  async openVariant(runId) {
    const ids = new Set(this.view ? this.view.variants.map((v) => v.run) : []);
    if (this.pg.run && ids.has(this.pg.run.id)) this.pg.detach();
    this.hide();
    await this.pg.open(runId);
  }

  relabel() {
    this.root.setAttribute("aria-label", t("sweep.aria"));
    this.back.textContent = t("sweep.back");
    if (this.view) {
      this.view.titleEl.textContent = this.view.titleText();
      for (const v of this.view.variants) this.view.paintVariant(v);
      this.view.paintStatus();
    }
  }
}
