// Streaming line charts on uPlot (vendored in /static/vendor). Redraws are batched to one per
// animation frame, so a fast run does not redraw per epoch message.
import uPlot from "/static/vendor/uPlot.esm.js";
import { t } from "./i18n.js";
import { COLORS } from "./theme.js";

// Marker lines (best epoch, early stop, LR cuts) drawn under the series. Markers closer than a
// label's width are merged into one label ("LR↓ ×25", "best · early stop"), so many markers never
// stack into an unreadable fence, and a label near the right edge is drawn to the left of its line.
function clusterMarkers(markers, toX, minGap) {
  const placed = markers.map((m) => ({ ...m, x: toX(m.epoch) })).filter((m) => Number.isFinite(m.x))
    .sort((a, b) => a.x - b.x);
  const groups = [];
  for (const m of placed) {
    const g = groups.at(-1);
    if (g && m.x - g.x0 < minGap) g.items.push(m);
    else groups.push({ x0: m.x, items: [m] });
  }
  return groups.map((g) => {
    const counts = new Map();
    for (const m of g.items) counts.set(m.label, (counts.get(m.label) || 0) + 1);
    const label = [...counts].map(([l, n]) => (n > 1 ? `${l} ×${n}` : l)).join(" · ");
    return { x: g.items[0].x, label, color: g.items.at(-1).color, items: g.items };
  });
}

function markersPlugin(chart) {
  const line = (u, ctx, x, color, width, dash) => {
    ctx.strokeStyle = color;
    ctx.setLineDash((dash || []).map((d) => d * devicePixelRatio));
    ctx.lineWidth = width * devicePixelRatio;
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
  };
  const label = (u, ctx, x, text, color, row) => {
    const dpr = devicePixelRatio;
    const w = ctx.measureText(text).width;
    // right of its line, pulled left only as far as the plot's edge needs: never clipped
    const at = Math.max(u.bbox.left + 2 * dpr, Math.min(x + 4 * dpr, u.bbox.left + u.bbox.width - w - 2 * dpr));
    const y = u.bbox.top + (14 + 16 * row) * dpr;
    ctx.fillStyle = "rgba(255,255,255,.85)";
    ctx.fillRect(at - 2 * dpr, y - 12 * dpr, w + 4 * dpr, 15 * dpr);
    ctx.fillStyle = color;
    ctx.fillText(text, at, y);
  };
  return {
    hooks: {
      drawClear: (u) => {
        const ctx = u.ctx;
        const dpr = devicePixelRatio;
        ctx.save();
        ctx.font = `600 ${13 * dpr}px system-ui`;
        const groups = clusterMarkers(chart.markers, (e) => u.valToPos(e, "x", true), 70 * dpr);
        chart.labels = groups.map((g) => g.label);
        groups.forEach((g, i) => {
          const xs = g.items.map((m) => m.x);
          if (g.items.length >= 3) { // many close markers: one shaded band, not a fence of lines
            ctx.fillStyle = g.color;
            ctx.globalAlpha = 0.12;
            ctx.fillRect(xs[0], u.bbox.top, Math.max(2 * dpr, xs.at(-1) - xs[0]), u.bbox.height);
            ctx.globalAlpha = 1;
            // the band's edges, and a marker of a kind seen once in it (best, early stop) keep their line
            const once = (m) => g.items.filter((k) => k.label === m.label).length === 1;
            for (const m of g.items.filter((m, k) => k === 0 || k === g.items.length - 1 || once(m))) {
              line(u, ctx, m.x, m.color, 1.5, m.dash);
            }
          } else {
            for (const m of g.items) line(u, ctx, m.x, m.color, 1.5, m.dash);
          }
          label(u, ctx, g.x, g.label, g.color, i % 2);
        });
        if (chart.cursorEpoch != null) { // the scrubbed epoch: its own line and label, on the row below
          const x = u.valToPos(chart.cursorEpoch, "x", true);
          if (Number.isFinite(x)) {
            line(u, ctx, x, COLORS.navy, 2.5);
            label(u, ctx, x, t("out.epoch_n", { n: chart.cursorEpoch }), COLORS.navy, 2);
            chart.labels.push(t("out.epoch_n", { n: chart.cursorEpoch }));
          }
        }
        ctx.restore();
      },
    },
  };
}

// A y range that is never empty: a constant series (accuracy stuck at 50% in the very runs a lesson
// is about) gets a band around its value instead of a zero-height axis that draws nothing.
function paddedRange(lo, hi, floor = null) {
  if (lo == null || hi == null || !Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (floor != null) { lo = Math.max(lo, floor); hi = Math.max(hi, lo); }
  const span = hi - lo;
  if (span < 1e-9 * Math.max(1, Math.abs(hi))) {
    const pad = Math.abs(hi) * 0.1 || 0.1;
    return [lo - pad, hi + pad];
  }
  return [lo - span * 0.05, hi + span * 0.05];
}

export class LineChart {
  constructor(host, { series, log = false, height = 190, yLabel = "", floor = null }) {
    this.floor = floor; // lowest y shown (R² of a fresh network can be -50: the chart keeps to [-1, 1])
    this.host = host;
    this.series = series; // [{label, color, dash}]
    this.log = log;
    this.height = height;
    this.yLabel = yLabel;
    this.markers = [];
    this.cursorEpoch = null; // the epoch the scrubber shows, marked on the chart
    this.reset();
    new ResizeObserver(() => {
      if (this.plot && Math.abs(Math.max(200, this.host.clientWidth) - this.plot.width) > 2) this.resize();
    }).observe(host);
  }

  reset(series) {
    if (series) this.series = series;
    this.x = [];
    this.ys = this.series.map(() => []);
    this.extra = null; // a baseline: {x, ys, series}
    this.markers = [];
    this.cursorEpoch = null;
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
        y: this.log ? { distr: 3 } : { range: (u, lo, hi) => paddedRange(lo, hi, this.floor) },
      },
      axes: [
        { label: t("runs.epoch"), size: 34, labelSize: 18, font: "13px system-ui", labelFont: "13px system-ui" },
        { label: this.yLabel, size: 60, labelSize: 18, font: "13px system-ui", labelFont: "13px system-ui",
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
    this.redraw();
  }

  setCursor(epoch) {
    this.cursorEpoch = epoch;
    this.redraw();
  }

  redraw() {
    // markers are drawn in a hook: a redraw without new data repaints them
    if (this.pendingRedraw) return;
    this.pendingRedraw = requestAnimationFrame(() => {
      this.pendingRedraw = null;
      this.plot.redraw(false, false);
    });
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
