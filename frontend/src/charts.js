// Streaming line charts on uPlot (vendored in /static/vendor). Redraws are batched to one per
// animation frame, so a fast run does not redraw per epoch message.
import uPlot from "/static/vendor/uPlot.esm.js";
import { t } from "./i18n.js";

export const PALETTE = ["#f59322", "#0877bd", "#7b1fa2", "#2e7d32", "#c62828", "#00838f", "#6d4c41", "#ad1457", "#455a64"];

// Vertical marker lines (best epoch, early stop) drawn under the series.
function markersPlugin(chart) {
  return {
    hooks: {
      drawClear: (u) => {
        const ctx = u.ctx;
        for (const m of chart.markers) {
          const x = u.valToPos(m.epoch, "x", true);
          if (!Number.isFinite(x)) continue;
          ctx.save();
          ctx.strokeStyle = m.color;
          ctx.setLineDash(m.dash || []);
          ctx.lineWidth = 1.5 * devicePixelRatio;
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.fillStyle = m.color;
          ctx.font = `${10 * devicePixelRatio}px system-ui`;
          ctx.fillText(m.label, x + 3 * devicePixelRatio, u.bbox.top + 11 * devicePixelRatio);
          ctx.restore();
        }
      },
    },
  };
}

export class LineChart {
  constructor(host, { series, log = false, height = 170, yLabel = "", floor = null }) {
    this.floor = floor; // lowest y shown (R² of a fresh network can be -50: the chart keeps to [-1, 1])
    this.host = host;
    this.series = series; // [{label, color, dash}]
    this.log = log;
    this.height = height;
    this.yLabel = yLabel;
    this.markers = [];
    this.reset();
  }

  reset(series) {
    if (series) this.series = series;
    this.x = [];
    this.ys = this.series.map(() => []);
    this.extra = null; // a baseline: {x, ys, series}
    this.markers = [];
    this.build();
  }

  build() {
    this.host.replaceChildren();
    const width = Math.max(200, this.host.clientWidth || 300);
    const all = [...this.series, ...(this.extra ? this.extra.series : [])];
    const opts = {
      width,
      height: this.height,
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      scales: {
        x: { time: false },
        y: this.log ? { distr: 3 }
          : this.floor == null ? { auto: true }
          : { range: (u, lo, hi) => [Math.max(lo, this.floor), Math.max(hi, this.floor + 1e-3)] },
      },
      axes: [
        { label: t("runs.epoch"), size: 30, labelSize: 14, font: "11px system-ui", labelFont: "11px system-ui" },
        { label: this.yLabel, size: 52, font: "11px system-ui", labelFont: "11px system-ui",
          values: (u, ticks) => ticks.map((v) => (v == null ? "" : Math.abs(v) < 0.01 && v !== 0 ? v.toExponential(0) : +v.toPrecision(3))) },
      ],
      series: [{ label: t("runs.epoch") }, ...all.map((s) => ({ label: s.label, stroke: s.color, width: s.width || 1.6, dash: s.dash,
                                         points: { show: false }, spanGaps: true }))],
      plugins: [markersPlugin(this)],
    };
    this.plot = new uPlot(opts, this.data(), this.host);
  }

  data() {
    if (!this.extra) return [this.x, ...this.ys];
    // Align a baseline run's curves on one epoch axis (uPlot wants one x array).
    const n = Math.max(this.x.length ? this.x.at(-1) + 1 : 0, this.extra.x.length ? this.extra.x.at(-1) + 1 : 0);
    const xs = Array.from({ length: n }, (_, i) => i);
    const place = (x, y) => {
      const out = new Array(n).fill(null);
      x.forEach((e, i) => { out[e] = y[i]; });
      return out;
    };
    return [xs, ...this.ys.map((y) => place(this.x, y)), ...this.extra.ys.map((y) => place(this.extra.x, y))];
  }

  clean(v) {
    if (v == null || !Number.isFinite(v)) return null;
    return this.log && v <= 0 ? null : v;
  }

  push(epoch, values) {
    const i = this.x.length && this.x.at(-1) >= epoch ? this.x.findIndex((e) => e >= epoch) : -1;
    if (i >= 0) { // a replay after reconnect or restore: drop what follows
      this.x.length = i;
      this.ys.forEach((y) => { y.length = i; });
    }
    this.x.push(epoch);
    values.forEach((v, k) => this.ys[k].push(this.clean(v)));
    this.schedule();
  }

  relabel(labels) {
    labels.forEach((l, i) => { if (this.series[i]) this.series[i].label = l; });
    this.build();
  }

  setBaseline(baseline) {
    this.extra = baseline;
    this.build();
  }

  setLog(log) {
    this.log = log;
    this.ys = this.ys.map((y) => y.map((v) => this.clean(v)));
    this.build();
  }

  setMarkers(markers) {
    this.markers = markers;
    this.schedule();
  }

  schedule() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = null;
      this.plot.setData(this.data());
    });
  }

  resize() {
    const width = Math.max(200, this.host.clientWidth || 300);
    this.plot.setSize({ width, height: this.height });
  }
}
