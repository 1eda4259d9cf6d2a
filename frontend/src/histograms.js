// Per-layer histograms over time, TensorBoard-style: a ridgeline where each epoch's histogram is a
// filled step outline, the newest at the front (bottom) in full colour and older ones behind, fading.
// A shared x range per layer keeps the epochs comparable; "same x-range for every layer" (shared)
// puts every layer on one axis, so layers can be compared too (batch norm, saturated sigmoids).
import { hidpi } from "./canvas.js";
import { t } from "./i18n.js";
import { COLORS as THEME } from "./theme.js";

const KEEP = 12;
const COLORS = { pre: "#7b1fa2", act: THEME.blue, weight: THEME.orange, grad: "#2e7d32" };

export class HistogramView {
  constructor(host) {
    this.host = host;
    this.kind = "pre";
    this.shared = false;
    this.reset();
  }

  reset() {
    this.history = []; // [{epoch, layers}]
    this.fractions = {};
    this.host.replaceChildren();
    this.cards = {};
  }

  add(event) {
    const i = this.history.findIndex((h) => h.epoch >= event.epoch);
    if (i >= 0) this.history.length = i;
    this.history.push(event);
    if (this.history.length > KEEP) this.history.shift();
    this.schedule();
  }

  setHistory(events) {
    this.history = events.slice(-KEEP);
    this.schedule();
  }

  setFractions(record) {
    this.fractions = { dead: record.dead_fraction || {}, saturated: record.saturated_fraction || {} };
  }

  setShared(shared) {
    this.shared = shared;
    this.schedule();
  }

  setKind(kind) {
    this.kind = kind;
    this.schedule();
  }

  schedule() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = null;
      this.draw();
    });
  }

  card(name) {
    if (!this.cards[name]) {
      const div = document.createElement("div");
      div.className = "hist-layer";
      div.innerHTML = `<div class="name"><b></b><span></span></div><canvas></canvas>`;
      this.host.append(div);
      this.cards[name] = div;
    }
    return this.cards[name];
  }

  draw() {
    const last = this.history.at(-1);
    if (!last) return;
    const all = {};
    for (const name of Object.keys(last.layers)) {
      all[name] = this.history.map((h) => ({ epoch: h.epoch, h: h.layers[name] && h.layers[name][this.kind] }))
        .filter((s) => s.h);
    }
    const every = Object.values(all).flat().filter((s) => s.h.min != null && s.h.max != null);
    this.range = this.shared && every.length
      ? [Math.min(...every.map((s) => s.h.min)), Math.max(...every.map((s) => s.h.max))] : null;
    for (const name of Object.keys(last.layers)) {
      const series = all[name];
      const card = this.card(name);
      card.querySelector("b").textContent = name;
      const dead = this.fractions.dead && this.fractions.dead[name];
      const sat = this.fractions.saturated && this.fractions.saturated[name];
      const notes = [];
      if (dead !== undefined) notes.push(t("hist.dead", { p: (dead * 100).toFixed(0) }));
      if (sat !== undefined) notes.push(t("hist.saturated", { p: (sat * 100).toFixed(0) }));
      // NaN/inf values have no bin: the newest histogram's count of them is shown instead
      const bad = series.length ? series.at(-1).h.nonfinite : 0;
      if (bad) notes.push(`${bad} NaN/inf`);
      card.querySelector("span").textContent = series.length
        ? `${notes.join(" · ")}  ${t("hist.epochs", { a: series[0].epoch, b: series.at(-1).epoch })}`
        : t("hist.nodata", { kind: this.kind });
      this.ridgeline(card.querySelector("canvas"), series);
    }
  }

  ridgeline(canvas, series) {
    const w = canvas.clientWidth || 230, h = canvas.clientHeight || 150;
    const ctx = hidpi(canvas, w, h);
    ctx.clearRect(0, 0, w, h);
    // a histogram without one finite value (a diverged run) has min = max = null: nothing to draw
    series = series.filter((s) => s.h.min != null && s.h.max != null);
    if (!series.length) return;
    let lo = this.range ? this.range[0] : Math.min(...series.map((s) => s.h.min));
    let hi = this.range ? this.range[1] : Math.max(...series.map((s) => s.h.max));
    if (!(hi - lo > 1e-9 * Math.max(1, Math.abs(hi)))) { // every value equal: a band around it
      const pad = Math.abs(hi) * 0.1 || 0.5;
      lo -= pad; hi += pad;
    }
    const span = hi - lo;
    const X = (v) => ((v - lo) / span) * w;
    const n = series.length;
    const ridge = Math.min(8, (h - 60) / Math.max(1, n - 1));
    const peakH = h - 18 - ridge * (n - 1);
    const color = COLORS[this.kind];
    series.forEach((s, i) => {
      if (s.h.min == null || s.h.max == null) return;
      const base = h - 14 - ridge * (n - 1 - i);
      const counts = s.h.counts;
      const max = Math.max(1, ...counts);
      const bw = (s.h.max - s.h.min) / counts.length;
      // bars (a step outline), at least 1.5 px wide: a histogram squeezed into one or two bins
      // (an output layer, a saturated sigmoid) stays a block instead of a spike
      const grow = Math.max(0, 1.5 - X(s.h.min + bw) + X(s.h.min)) / 2;
      ctx.beginPath();
      ctx.moveTo(X(s.h.min) - grow, base);
      counts.forEach((c, k) => {
        const y = base - (c / max) * peakH;
        ctx.lineTo(X(s.h.min + k * bw) - grow, y);
        ctx.lineTo(X(s.h.min + (k + 1) * bw) + grow, y);
      });
      ctx.lineTo(X(s.h.max) + grow, base);
      ctx.closePath();
      const newest = i === n - 1;
      // older epochs are faint outlines only (fills piled on each other garbled deep layers)
      if (newest) {
        ctx.globalAlpha = 0.85;
        ctx.fillStyle = color;
        ctx.fill();
      }
      ctx.globalAlpha = newest ? 1 : 0.12 + 0.4 * (i / n);
      ctx.strokeStyle = newest ? color : THEME.muted;
      ctx.lineWidth = newest ? 1.4 : 0.6;
      ctx.stroke();
    });
    ctx.globalAlpha = 1;
    ctx.fillStyle = THEME.muted;
    ctx.font = "12px system-ui";
    ctx.fillText(lo.toPrecision(3), 2, h - 2);
    const t = hi.toPrecision(3);
    ctx.fillText(t, w - ctx.measureText(t).width - 2, h - 2);
    if (lo < 0 && hi > 0) { // where zero is: centred or not is the question most lessons ask
      ctx.strokeStyle = "rgba(0,0,0,.35)";
      ctx.setLineDash([3, 3]);
      ctx.beginPath(); ctx.moveTo(X(0), 4); ctx.lineTo(X(0), h - 14); ctx.stroke();
      ctx.setLineDash([]);
      if (X(0) > 30 && X(0) < w - 30) ctx.fillText("0", X(0) - 3, h - 2);
    }
  }
}
