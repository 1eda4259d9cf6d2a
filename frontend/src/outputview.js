// The output panel: decision surface with the data points (2-D), fitted curve (1-D regression),
// predicted validation images (digits) or a confusion matrix (tabular), plus MC-dropout uncertainty.
// A surface over the plane has tick labels in raw units on both axes and a colour legend; it can be
// discretized (hard classes) and can show one unit's response instead of the output (focusUnit).
import { grayCanvas, hidpi, paintGrid } from "./canvas.js";
import { t } from "./i18n.js";
import { classColor, COLORS, hexRgb, mix, PALETTE, probColor, surfaceColor, WHITE } from "./theme.js";

const MC_PURPLE = [106, 27, 154];
// margins of the plot inside the square: y tick labels on the left, x tick labels then the legend below
const MARGIN = { left: 36, top: 6, right: 8, bottom: 48 };

// About `n` round tick values (1, 2 or 5 × 10^k apart) inside [lo, hi].
export function niceTicks(lo, hi, n = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

// A number for a tick or a legend end: three significant digits, a real minus sign.
export function tickText(v) {
  const s = String(Number(Number(v).toPrecision(3)));
  return s.startsWith("-") ? `\u2212${s.slice(1)}` : s;
}

// The argument of OutputView.focusUnit for one unit of the diagram, from the `network` part of a
// surface event (telemetry.network_view): `layer` a layer name ("fc1", ..., "out"), `unit` its index
// from 0. Hidden units use their layer's common symmetric scale, as the diagram's thumbnails do;
// output units of a classifier are probabilities (0 to 1). null when that unit has no grid over the
// plane (1-D curves, a unit past the 16 the server sends, no telemetry).
export function unitFocus(network, layer, unit, bounds = null) {
  const units = network && network.unit_kind === "grid" && network.units && network.units[layer];
  if (!units || !units[unit]) return null;
  const probability = layer === "out" && !network.regression;
  let min = 0, max = 1;
  if (!probability) {
    max = Math.max(1e-6, ...units.flat().filter((v) => v != null).map(Math.abs));
    min = -max;
  }
  const label = layer === "out" ? t("out.focus_output", { k: unit + 1 }) : t("out.focus_unit", { layer, k: unit + 1 });
  return { values: units[unit], resolution: network.unit_resolution, bounds, label, min, max, layer, unit };
}

export class OutputView {
  constructor(host, { onAddPoint }) {
    this.host = host;
    this.onAddPoint = onAddPoint;
    this.data = null;
    this.surface = null;
    this.showVal = false;
    this.showUncertainty = false;
    this.uncertainty = null; // from MC-dropout predictions: {values, res}
    this.drawMode = false;
    // view options (state.js VIEW_OPTIONS, kept in the share link); discretize: classes as hard classes
    this.options = { discretize: false };
    this.focus = null; // one unit's response shown instead of the output (focusUnit)
    this.size = 400;
    // the panel is as large as the stage allows (projector, phone): redraw when that changes
    new ResizeObserver(() => {
      const size = this.side();
      if (size && size !== this.size) this.render();
    }).observe(host);
  }

  setData(data) {
    this.data = data;
    this.surface = null;
    this.uncertainty = null;
    this.focus = null;
    this.render();
  }

  setSurface(surface) {
    this.surface = surface;
    // a unit in focus follows the run: its response at the new epoch
    if (this.focus && this.focus.layer != null && surface && surface.network) {
      this.focus = this.unitFocus(this.focus.layer, this.focus.unit) || this.focus;
    }
    this.render();
  }

  // Show one unit's response over the plane, large, instead of the network's output.
  // {values: resolution² numbers (row 0 at the bottom, as the server's grids), resolution,
  //  bounds: [[x1 lo, hi], [x2 lo, hi]] (default: the output's), label: the legend's title,
  //  min, max: the ends of the colour scale (orange → white → blue)}
  focusUnit(focus) {
    this.focus = focus;
    this.render();
  }

  setOption(name, value) {
    this.options = { ...this.options, [name]: value };
    this.render();
  }

  clearFocus() {
    if (!this.focus) return;
    this.focus = null;
    this.render();
  }

  // focusUnit's argument for a unit of the current surface's network (see unitFocus); null if none
  unitFocus(layer, unit) {
    const s = this.surface;
    if (!s || !s.network) return null;
    return unitFocus({ ...s.network, regression: s.kind === "regression2d" }, layer, unit, s.bounds);
  }

  bounds() {
    if (this.surface && this.surface.bounds) return this.surface.bounds;
    return this.data && this.data.bounds;
  }

  render() {
    const d = this.data;
    if (!d) return;
    if (d.input_shape.length === 3) return this.renderImages();
    if (d.input_shape[0] === 2) return this.renderPlane();
    if (d.input_shape[0] === 1 && d.task === "regression") return this.renderCurve();
    return this.renderConfusion();
  }

  // The canvas's side: the panel is square unless the stage, short of height, squeezes it
  side() {
    const h = this.host.clientHeight;
    return Math.floor(Math.min(this.host.clientWidth, h > 40 ? h : Infinity));
  }

  canvas() {
    const SIZE = (this.size = this.side() || 400);
    const c = document.createElement("canvas");
    const ctx = hidpi(c, SIZE, SIZE, { style: true });
    this.host.replaceChildren(c);
    return [c, ctx];
  }

  legend(text) {
    const l = document.createElement("div");
    l.className = "legend";
    l.textContent = text;
    this.host.append(l);
  }

  // The plot's square inside the panel, in CSS pixels: {x, y, w, h}
  plotRect() {
    const S = this.size;
    const side = Math.max(40, Math.min(S - MARGIN.left - MARGIN.right, S - MARGIN.top - MARGIN.bottom));
    return { x: MARGIN.left, y: MARGIN.top, w: side, h: side };
  }

  regression() {
    return this.data && this.data.task === "regression";
  }

  // Regression: values on a symmetric scale around 0 as large as the targets (fixed for the run,
  // so colours compare across epochs; a prediction beyond it takes the end colour).
  valueScale() {
    const ys = (this.data.points || []).map((p) => Math.abs(p[2])).filter(Number.isFinite);
    return Math.max(1e-6, ...(ys.length ? ys : [1]));
  }

  // What the plot shows: {paint(v, i) -> rgb, smooth, legend}; legend: {title, min, max, color(f in [0, 1])}
  // for a continuous scale, or {title, classes: [[name, rgb], ...]} for hard classes.
  planeLayer() {
    const s = this.surface;
    const f = this.focus;
    if (f) {
      const span = f.max - f.min || 1;
      const color = (u) => probColor(Math.max(0, Math.min(1, u)));
      return { values: f.values, res: f.resolution, paint: (v) => color((v - f.min) / span),
               legend: { title: f.label, min: f.min, max: f.max, color } };
    }
    if (this.showUncertainty && (this.uncertainty || (s && s.uncertainty))) {
      const u = this.uncertainty || { values: s.uncertainty, res: s.resolution };
      const max = Math.max(1e-6, ...u.values);
      const color = (x) => mix(WHITE, MC_PURPLE, x);
      return { values: u.values, res: u.res, paint: (v) => color(v / max), legend: { title: t("out.mc_scale"), min: 0, max, color } };
    }
    if (this.regression()) {
      const scale = this.valueScale();
      const color = (x) => mix(probColor(Math.max(0, Math.min(1, x))), WHITE, 0.45);
      const layer = { legend: { title: t("out.value"), min: -scale, max: scale, color } };
      if (s && s.values) Object.assign(layer, { values: s.values, res: s.resolution, paint: (v) => color(0.5 + 0.5 * v / scale) });
      return layer;
    }
    const n = this.data.n_classes;
    const classes = Array.from({ length: Math.max(2, n) }, (_, k) => [String(k), mix(WHITE, hexRgb(classColor(k, n)), 0.55)]);
    const hard = { title: t("out.classes"), classes };
    if (!s || !s.values) return { legend: hard };
    if (s.confidence) { // several classes: the top class, paler where the model is less sure
      const cols = PALETTE.map(hexRgb);
      const paint = this.options.discretize ? (v) => classes[v % classes.length][1]
        : (v, i) => mix(WHITE, cols[v % cols.length], 0.25 + 0.6 * s.confidence[i]);
      return { values: s.values, res: s.resolution, paint, smooth: !this.options.discretize, legend: hard };
    }
    if (this.options.discretize) return { values: s.values, res: s.resolution, paint: (v) => classes[v >= 0.5 ? 1 : 0][1], smooth: false, legend: hard };
    return { values: s.values, res: s.resolution, paint: surfaceColor,
             legend: { title: t("out.prob"), min: 0, max: 1, color: surfaceColor } };
  }

  renderPlane() {
    const [c, ctx] = this.canvas();
    const SIZE = this.size;
    const P = (this.plot = this.plotRect());
    const [[x0, x1], [y0, y1]] = (this.focus && this.focus.bounds) || this.bounds();
    const px = (x) => P.x + ((x - x0) / (x1 - x0)) * P.w;
    const py = (y) => P.y + P.h - ((y - y0) / (y1 - y0)) * P.h;
    const s = this.surface;
    const layer = this.planeLayer();
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, SIZE, SIZE);
    ctx.save();
    ctx.beginPath();
    ctx.rect(P.x, P.y, P.w, P.h);
    ctx.clip();
    if (layer.values) {
      ctx.translate(P.x, P.y);
      paintGrid(ctx, layer.values, layer.res, P.w, P.h, layer.paint, { smooth: layer.smooth !== false });
      ctx.translate(-P.x, -P.y);
    } else {
      ctx.fillStyle = "#fafafa";
      ctx.fillRect(P.x, P.y, P.w, P.h);
    }
    // axes through the origin, faint, as a reference
    ctx.strokeStyle = "rgba(0,0,0,.12)";
    ctx.beginPath();
    ctx.moveTo(px(0), P.y); ctx.lineTo(px(0), P.y + P.h); ctx.moveTo(P.x, py(0)); ctx.lineTo(P.x + P.w, py(0));
    ctx.stroke();
    const regression = this.regression();
    const scale = regression ? this.valueScale() : 1;
    const color = regression ? (v) => `rgb(${probColor(Math.max(0, Math.min(1, 0.5 + 0.5 * v / scale)))})`
      : (k) => classColor(k, this.data.n_classes);
    // the student's own points are all shown (validation ones as rings): none vanishes when drawing
    const all = this.showVal || this.data.name === "custom";
    this.drawn = 0;
    for (const [x, y, label, split] of this.data.points || []) {
      if (split === "val" && !all) continue;
      this.drawn++;
      ctx.beginPath();
      ctx.arc(px(x), py(y), split === "val" ? 3.2 : 3.6, 0, 2 * Math.PI);
      if (split === "val") {
        ctx.strokeStyle = color(label);
        ctx.lineWidth = 1.6;
        ctx.fillStyle = "rgba(255,255,255,.8)";
        ctx.fill();
        ctx.stroke();
      } else {
        ctx.fillStyle = color(label);
        // a target near 0 is white: a grey rim keeps it visible on the pale middle of the scale
        ctx.strokeStyle = regression ? "rgba(31,36,48,.45)" : "#fff";
        ctx.lineWidth = 1.3;
        ctx.fill();
        ctx.stroke();
      }
    }
    ctx.restore();
    ctx.strokeStyle = "#8b93a1";
    ctx.lineWidth = 1;
    ctx.strokeRect(P.x - 0.5, P.y - 0.5, P.w + 1, P.h + 1);
    this.axes(ctx, P, [x0, x1], [y0, y1], px, py);
    this.scaleLegend(layer.legend);
    c.style.cursor = this.drawMode ? "crosshair" : "default";
    c.onclick = (ev) => {
      if (!this.drawMode) return;
      const r = c.getBoundingClientRect();
      const fx = (ev.clientX - r.left - P.x) / P.w, fy = (ev.clientY - r.top - P.y) / P.h;
      if (fx < 0 || fx > 1 || fy < 0 || fy > 1) return; // a click on the axes or the legend
      this.onAddPoint(x0 + fx * (x1 - x0), y0 + (1 - fy) * (y1 - y0), ev.shiftKey ? 0 : 1);
    };
    if (!s && !this.focus) this.empty(this.drawMode ? "" : t("out.press"), true);
  }

  // Tick marks on the canvas, their labels (raw x1, x2 units) as text the page can read and size
  axes(ctx, P, [x0, x1], [y0, y1], px, py) {
    this.ticks = { x: niceTicks(x0, x1, 4), y: niceTicks(y0, y1, 4) };
    ctx.strokeStyle = "#8b93a1";
    ctx.beginPath();
    for (const v of this.ticks.x) { ctx.moveTo(px(v), P.y + P.h); ctx.lineTo(px(v), P.y + P.h + 4); }
    for (const v of this.ticks.y) { ctx.moveTo(P.x - 4, py(v)); ctx.lineTo(P.x, py(v)); }
    ctx.stroke();
    const box = document.createElement("div");
    box.className = "axes";
    const label = (cls, v, style) => {
      const e = document.createElement("span");
      e.className = `tick ${cls}`;
      e.dataset.v = v;
      e.textContent = tickText(v);
      Object.assign(e.style, style);
      box.append(e);
    };
    for (const v of this.ticks.x) label("x", v, { left: `${px(v)}px`, top: `${P.y + P.h + 4}px` });
    for (const v of this.ticks.y) label("y", v, { left: `${P.x - 6}px`, top: `${py(v)}px` });
    for (const [cls, text, style] of [["x name", "x₁", { left: `${P.x + P.w - 20}px`, top: `${P.y + P.h - 16}px` }],
                                      ["y name", "x₂", { left: `${P.x + 4}px`, top: `${P.y + 2}px` }]]) {
      const e = document.createElement("span");
      e.className = `tick ${cls}`;
      e.textContent = text;
      Object.assign(e.style, style);
      box.append(e);
    }
    this.host.append(box);
  }

  // The legend bar under the plot: a continuous scale (its two ends and a title) or class swatches.
  scaleLegend(lg) {
    const box = document.createElement("div");
    box.className = "legend scale";
    // under the plot, inside the canvas (a stage short of height may make the panel less tall than wide)
    box.style.left = `${this.plot.x}px`;
    box.style.width = `${this.size - this.plot.x - MARGIN.right}px`;
    box.style.top = `${this.plot.y + this.plot.h + 22}px`;
    const span = (cls, text) => {
      const e = document.createElement("span");
      e.className = cls;
      e.textContent = text;
      return e;
    };
    if (lg.classes) {
      for (const [name, rgb] of lg.classes.slice(0, 9)) {
        const sw = span("swatch", "");
        sw.style.background = `rgb(${rgb})`;
        box.append(sw, span("cls", name));
      }
    } else {
      const bar = span("bar", "");
      const stops = Array.from({ length: 11 }, (_, i) => `rgb(${lg.color(i / 10)}) ${i * 10}%`);
      bar.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
      box.append(span("lo", tickText(lg.min)), bar, span("hi", tickText(lg.max)));
    }
    const title = span("title", lg.title);
    title.title = lg.title;
    box.append(title);
    this.host.append(box);
  }

  empty(text, note = false) {
    if (!text) return;
    const e = document.createElement("div");
    e.className = note ? "empty note" : "empty";
    e.textContent = text;
    this.host.append(e);
  }

  renderCurve() {
    const [, ctx] = this.canvas();
    const SIZE = this.size;
    const pts = this.data.points || [];
    const [[x0, x1]] = this.bounds();
    let ys = pts.map((p) => p[1]);
    const s = this.surface;
    if (s && s.ys) ys = ys.concat(s.ys);
    let y0 = Math.min(...ys), y1 = Math.max(...ys);
    const pad = (y1 - y0) * 0.1 || 1;
    y0 -= pad; y1 += pad;
    const px = (x) => ((x - x0) / (x1 - x0)) * SIZE;
    const py = (y) => SIZE - ((y - y0) / (y1 - y0)) * SIZE;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, SIZE, SIZE);
    ctx.strokeStyle = "rgba(0,0,0,.12)";
    ctx.beginPath(); ctx.moveTo(0, py(0)); ctx.lineTo(SIZE, py(0)); ctx.stroke();
    if (s && s.ys) {
      const unc = this.showUncertainty && (s.uncertainty || (this.uncertainty && this.uncertainty.values));
      if (unc) {
        ctx.fillStyle = "rgba(106,27,154,.18)";
        ctx.beginPath();
        s.xs.forEach((x, i) => ctx.lineTo(px(x), py(s.ys[i] + 2 * unc[i])));
        for (let i = s.xs.length - 1; i >= 0; i--) ctx.lineTo(px(s.xs[i]), py(s.ys[i] - 2 * unc[i]));
        ctx.fill();
      }
      ctx.strokeStyle = COLORS.navy;
      ctx.lineWidth = 2.2;
      ctx.beginPath();
      s.xs.forEach((x, i) => (i ? ctx.lineTo(px(x), py(s.ys[i])) : ctx.moveTo(px(x), py(s.ys[i]))));
      ctx.stroke();
    }
    for (const [x, y, split] of pts.map((p) => [p[0], p[1], p[2]])) {
      if (split === "val" && !this.showVal) continue;
      ctx.beginPath();
      ctx.arc(px(x), py(y), 3.5, 0, 2 * Math.PI);
      ctx.fillStyle = split === "val" ? "rgba(8,119,189,.35)" : COLORS.orange;
      ctx.fill();
    }
    this.legend(s ? t("out.curve_legend") : t("out.train_points"));
    if (!s) this.empty(t("out.press"), true);
  }

  renderImages() {
    const d = this.data;
    const s = this.surface && this.surface.kind === "images" ? this.surface : null;
    const grid = document.createElement("div");
    grid.className = "images";
    const n = Math.min(d.images.length, 40);
    for (let i = 0; i < n; i++) {
      const fig = document.createElement("figure");
      const c = grayCanvas(d.images[i]);
      const label = d.class_names[d.image_labels[i]];
      let caption = `${label}`;
      if (s && i < s.pred.length) {
        const pred = d.class_names[s.pred[i]];
        const wrong = s.pred[i] !== s.labels[i];
        fig.classList.toggle("wrong", wrong);
        // a diverged model's confidence and spread are null (NaN on the server)
        caption = s.confidence[i] == null ? `${pred} –` : `${pred} ${(s.confidence[i] * 100).toFixed(0)}%`;
        if (this.showUncertainty && s.uncertainty && s.uncertainty[i] != null) caption += ` ±${s.uncertainty[i].toFixed(2)}`;
        fig.title = t("out.true_predicted", { label, pred });
      }
      const cap = document.createElement("figcaption");
      cap.textContent = caption;
      fig.append(c, cap);
      grid.append(fig);
    }
    this.host.replaceChildren(grid);
    this.legend(s ? t("out.images_legend") : t("out.val_images"));
  }

  renderConfusion() {
    const d = this.data;
    const s = this.surface && this.surface.kind === "confusion" ? this.surface : null;
    if (!s) {
      this.host.replaceChildren();
      this.empty(t("out.confusion_empty", { name: d.name, f: d.input_shape[0], n: d.n_classes }));
      return;
    }
    const table = document.createElement("table");
    table.className = "confusion";
    const max = Math.max(1, ...s.matrix.flat());
    const head = table.insertRow();
    head.append(Object.assign(document.createElement("th"), { textContent: t("out.true_pred") }));
    s.class_names.forEach((n) => { const th = document.createElement("th"); th.textContent = n; head.append(th); });
    s.matrix.forEach((row, i) => {
      const tr = table.insertRow();
      const th = document.createElement("th");
      th.textContent = s.class_names[i];
      tr.append(th);
      row.forEach((v, j) => {
        const td = tr.insertCell();
        td.textContent = v;
        const a = v / max;
        td.style.background = i === j ? `rgba(8,119,189,${a})` : `rgba(197,34,31,${a})`;
        td.style.color = a > 0.5 ? "#fff" : "#000";
      });
    });
    this.host.replaceChildren(table);
    this.legend(t("out.confusion_legend"));
  }
}
