// The output panel: decision surface with the data points (2-D), fitted curve (1-D regression),
// predicted validation images (digits) or a confusion matrix (tabular), plus MC-dropout uncertainty.
import { PALETTE } from "./charts.js";
import { t } from "./i18n.js";

const ORANGE = [245, 147, 34];
const BLUE = [8, 119, 189];
const WHITE = [255, 255, 255];

function mix(a, b, t) {
  return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t));
}

// TensorFlow Playground's diverging scale: orange for class 0, white at 0.5, blue for class 1.
export function probColor(p) {
  return p < 0.5 ? mix(ORANGE, WHITE, p * 2) : mix(WHITE, BLUE, (p - 0.5) * 2);
}

// The same scale washed out, as a background: the data points on top keep their full colour.
const surfaceColor = (p) => mix(probColor(p), WHITE, 0.45);

function hexRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

export function paintGrid(ctx, values, res, w, h, color) {
  const img = ctx.createImageData(res, res);
  for (let r = 0; r < res; r++) {
    for (let c = 0; c < res; c++) {
      const v = values[(res - 1 - r) * res + c]; // grid rows go up in y; canvas rows go down
      const [R, G, B] = color(v, (res - 1 - r) * res + c);
      const o = (r * res + c) * 4;
      img.data[o] = R; img.data[o + 1] = G; img.data[o + 2] = B; img.data[o + 3] = 255;
    }
  }
  const off = new OffscreenCanvas(res, res);
  off.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(off, 0, 0, w, h);
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
    c.width = SIZE * devicePixelRatio;
    c.height = SIZE * devicePixelRatio;
    c.style.width = c.style.height = `${SIZE}px`;
    this.host.replaceChildren(c);
    const ctx = c.getContext("2d");
    ctx.scale(devicePixelRatio, devicePixelRatio);
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
      this.legend(`MC-dropout spread (std), max ${max.toFixed(3)}`);
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
    const classColor = (k) => (this.data.n_classes <= 2 ? (k ? "#0877bd" : "#f59322") : PALETTE[k % PALETTE.length]);
    // the student's own points are all shown (validation ones as rings): none vanishes when drawing
    const all = this.showVal || this.data.name === "custom";
    this.drawn = 0;
    for (const [x, y, label, split] of this.data.points || []) {
      if (split === "val" && !all) continue;
      this.drawn++;
      ctx.beginPath();
      ctx.arc(px(x), py(y), split === "val" ? 3.2 : 3.6, 0, 2 * Math.PI);
      if (split === "val") {
        ctx.strokeStyle = classColor(label);
        ctx.lineWidth = 1.6;
        ctx.fillStyle = "rgba(255,255,255,.8)";
        ctx.fill();
        ctx.stroke();
      } else {
        ctx.fillStyle = classColor(label);
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
      ctx.strokeStyle = "#183153";
      ctx.lineWidth = 2.2;
      ctx.beginPath();
      s.xs.forEach((x, i) => (i ? ctx.lineTo(px(x), py(s.ys[i])) : ctx.moveTo(px(x), py(s.ys[i]))));
      ctx.stroke();
    }
    for (const [x, y, split] of pts.map((p) => [p[0], p[1], p[2]])) {
      if (split === "val" && !this.showVal) continue;
      ctx.beginPath();
      ctx.arc(px(x), py(y), 3.5, 0, 2 * Math.PI);
      ctx.fillStyle = split === "val" ? "rgba(8,119,189,.35)" : "#f59322";
      ctx.fill();
    }
    this.legend(s ? "fitted curve (line), training points (orange)" : "training points");
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
      const c = document.createElement("canvas");
      c.width = c.height = 8;
      const ctx = c.getContext("2d");
      const img = ctx.createImageData(8, 8);
      d.images[i].flat().forEach((v, k) => {
        const g = 255 - Math.round(Math.min(1, Math.max(0, v)) * 255);
        img.data.set([g, g, g, 255], k * 4);
      });
      ctx.putImageData(img, 0, 0);
      const label = d.class_names[d.image_labels[i]];
      let caption = `${label}`;
      if (s && i < s.pred.length) {
        const pred = d.class_names[s.pred[i]];
        const wrong = s.pred[i] !== s.labels[i];
        fig.classList.toggle("wrong", wrong);
        // a diverged model's confidence and spread are null (NaN on the server)
        caption = s.confidence[i] == null ? `${pred} –` : `${pred} ${(s.confidence[i] * 100).toFixed(0)}%`;
        if (this.showUncertainty && s.uncertainty && s.uncertainty[i] != null) caption += ` ±${s.uncertainty[i].toFixed(2)}`;
        fig.title = `true ${label}, predicted ${pred}`;
      }
      const cap = document.createElement("figcaption");
      cap.textContent = caption;
      fig.append(c, cap);
      grid.append(fig);
    }
    this.host.replaceChildren(grid);
    this.legend(s ? "predicted label and confidence; red frame = wrong" : "validation images");
  }

  renderConfusion() {
    const d = this.data;
    const s = this.surface && this.surface.kind === "confusion" ? this.surface : null;
    if (!s) {
      this.host.replaceChildren();
      this.empty(`${d.name}: ${d.input_shape[0]} features, ${d.n_classes} classes.\nThe confusion matrix appears when training starts.`);
      return;
    }
    const t = document.createElement("table");
    t.className = "confusion";
    const max = Math.max(1, ...s.matrix.flat());
    const head = t.insertRow();
    head.insertCell().outerHTML = "<th>true \\ pred</th>";
    s.class_names.forEach((n) => { const th = document.createElement("th"); th.textContent = n; head.append(th); });
    s.matrix.forEach((row, i) => {
      const tr = t.insertRow();
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
    this.host.replaceChildren(t);
    this.legend("validation confusion matrix");
  }
}
