// Per-layer histograms over time, TensorBoard-style: a ridgeline where each epoch's histogram is a
// filled curve, the newest at the front (bottom) in full colour and older ones behind, fading. A
// shared x range per layer keeps the epochs comparable.

const KEEP = 16;
const COLORS = { pre: "#7b1fa2", act: "#0877bd", weight: "#f59322", grad: "#2e7d32" };

export class HistogramView {
  constructor(host) {
    this.host = host;
    this.kind = "pre";
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
    for (const name of Object.keys(last.layers)) {
      const series = this.history.map((h) => ({ epoch: h.epoch, h: h.layers[name] && h.layers[name][this.kind] }))
        .filter((s) => s.h);
      const card = this.card(name);
      card.querySelector("b").textContent = name;
      const dead = this.fractions.dead && this.fractions.dead[name];
      const sat = this.fractions.saturated && this.fractions.saturated[name];
      const notes = [];
      if (dead !== undefined) notes.push(`dead ${(dead * 100).toFixed(0)}%`);
      if (sat !== undefined) notes.push(`saturated ${(sat * 100).toFixed(0)}%`);
      // NaN/inf values have no bin: the newest histogram's count of them is shown instead
      const bad = series.length ? series.at(-1).h.nonfinite : 0;
      if (bad) notes.push(`${bad} NaN/inf`);
      card.querySelector("span").textContent = series.length
        ? `${notes.join(" · ")}  epochs ${series[0].epoch}–${series.at(-1).epoch}` : `no ${this.kind} data`;
      this.ridgeline(card.querySelector("canvas"), series);
    }
  }

  ridgeline(canvas, series) {
    const w = canvas.clientWidth || 230, h = canvas.clientHeight || 150;
    canvas.width = w * devicePixelRatio;
    canvas.height = h * devicePixelRatio;
    const ctx = canvas.getContext("2d");
    ctx.scale(devicePixelRatio, devicePixelRatio);
    ctx.clearRect(0, 0, w, h);
    // a histogram without one finite value has min = max = null and nothing to draw
    const drawn = series.filter((s) => s.h.min != null && s.h.max != null);
    if (!drawn.length) return;
    const lo = Math.min(...drawn.map((s) => s.h.min));
    const hi = Math.max(...drawn.map((s) => s.h.max));
    const span = hi - lo || 1;
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
      ctx.beginPath();
      ctx.moveTo(((s.h.min - lo) / span) * w, base);
      counts.forEach((c, k) => {
        const x = ((s.h.min + (k + 0.5) * bw - lo) / span) * w;
        ctx.lineTo(x, base - (c / max) * peakH);
      });
      ctx.lineTo(((s.h.max - lo) / span) * w, base);
      ctx.closePath();
      const newest = i === n - 1;
      ctx.globalAlpha = newest ? 0.85 : 0.05 + 0.25 * (i / n);
      ctx.fillStyle = newest ? color : "#9aa3b2";
      ctx.fill();
      ctx.globalAlpha = newest ? 1 : 0.4;
      ctx.strokeStyle = newest ? color : "#6b7280";
      ctx.lineWidth = newest ? 1.4 : 0.6;
      ctx.stroke();
    });
    ctx.globalAlpha = 1;
    ctx.fillStyle = "#6b7280";
    ctx.font = "10px system-ui";
    ctx.fillText(lo.toPrecision(3), 2, h - 2);
    const t = hi.toPrecision(3);
    ctx.fillText(t, w - ctx.measureText(t).width - 2, h - 2);
  }
}
