// The output panel: decision surface with the data points (2-D), fitted curve (1-D regression),
// predicted validation images (digits) or a confusion matrix (tabular), plus MC-dropout uncertainty.
import { grayCanvas, hidpi, paintGrid } from "./canvas.js";
import { t } from "./i18n.js";
import { classColor, COLORS, hexRgb, mix, PALETTE, surfaceColor, WHITE } from "./theme.js";

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
    this.size = 400;
    // the panel is as large as the stage allows (projector, phone): redraw when that changes
    new ResizeObserver(() => {
      const size = Math.floor(this.host.clientWidth);
      if (size && size !== this.size) this.render();
    }).observe(host);
  }

  setData(data) {
    this.data = data;
    this.surface = null;
    this.uncertainty = null;
    this.render();
  }

  setSurface(surface) {
    this.surface = surface;
    this.render();
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

  canvas() {
    const SIZE = (this.size = Math.floor(this.host.clientWidth) || 400);
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

  renderPlane() {
    const [c, ctx] = this.canvas();
    const SIZE = this.size;
    const [[x0, x1], [y0, y1]] = this.bounds();
    const px = (x) => ((x - x0) / (x1 - x0)) * SIZE;
    const py = (y) => SIZE - ((y - y0) / (y1 - y0)) * SIZE;
    const s = this.surface;
    if (this.showUncertainty && (this.uncertainty || (s && s.uncertainty))) {
      const u = this.uncertainty || { values: s.uncertainty, res: s.resolution };
      const max = Math.max(1e-6, ...u.values);
      paintGrid(ctx, u.values, u.res, SIZE, SIZE, (v) => mix(WHITE, [106, 27, 154], v / max));
      this.legend(t("out.mc_legend", { max: max.toFixed(3) }));
    } else if (s && s.values) {
      if (s.confidence) {
        const cols = PALETTE.map(hexRgb);
        paintGrid(ctx, s.values, s.resolution, SIZE, SIZE, (v, i) => mix(WHITE, cols[v % cols.length], 0.25 + 0.6 * s.confidence[i]));
      } else {
        paintGrid(ctx, s.values, s.resolution, SIZE, SIZE, surfaceColor);
      }
    } else {
      ctx.fillStyle = "#fafafa";
      ctx.fillRect(0, 0, SIZE, SIZE);
    }
    // axes through the origin, faint, as a reference
    ctx.strokeStyle = "rgba(0,0,0,.12)";
    ctx.beginPath();
    ctx.moveTo(px(0), 0); ctx.lineTo(px(0), SIZE); ctx.moveTo(0, py(0)); ctx.lineTo(SIZE, py(0));
    ctx.stroke();
    const color = (k) => classColor(k, this.data.n_classes);
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
        ctx.strokeStyle = "#fff";
        ctx.lineWidth = 1.3;
        ctx.fill();
        ctx.stroke();
      }
    }
    c.style.cursor = this.drawMode ? "crosshair" : "default";
    c.onclick = (ev) => {
      if (!this.drawMode) return;
      const r = c.getBoundingClientRect();
      const x = x0 + ((ev.clientX - r.left) / SIZE) * (x1 - x0);
      const y = y0 + ((SIZE - (ev.clientY - r.top)) / SIZE) * (y1 - y0);
      this.onAddPoint(x, y, ev.shiftKey ? 0 : 1);
    };
    if (!s) this.empty(this.drawMode ? "" : t("out.press"), true);
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
