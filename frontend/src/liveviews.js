// The live views of one run: its stream's messages (snapshot, epoch, histograms, surface, marker,
// status, end) drawn into the charts, figures, output view, diagram and histograms.
// Mixed into the Playground class by main.js: `this` is the playground.
import { $, fmt } from "./dom.js";
import { t } from "./i18n.js";
import { COLORS, PALETTE } from "./theme.js";

export class LiveViews {
  resetViews() {
    this.records = [];
    this.markers = [];
    this.surfaces = {};
    this.lastNetwork = null;
    this.charts.loss.reset(this.lossSeries());
    this.charts.score.reset(this.scoreSeries());
    this.charts.grad.reset([]);
    this.charts.lr.reset();
    this.applyBaseline();
    this.histograms.reset();
    this.histEvents = [];
    if (this.dataView) this.output.setData(this.dataView);
    this.drawNetwork();
    $("epoch").textContent = "000,000";
    for (const id of ["fig-train", "fig-val", "fig-score", "fig-best"]) $(id).textContent = "–";
    this.scrubTo(null);
    $("scrubber").max = 0;
    $("scrubber").disabled = true;
    this.renderExport();
  }

  onMessage(m) {
    switch (m.type) {
      case "snapshot":
        // a first snapshot is the whole history; after a reconnect (?since=E) it holds only what was missed
        if (m.since == null) this.resetViews();
        this.run = { ...this.run, ...m.run };
        this.drawNetwork();
        m.epochs.forEach((r) => this.onEpoch(r));
        m.markers.forEach((k) => this.onMarker(k));
        m.histograms.forEach((h) => this.onHistograms(h));
        m.surfaces.forEach((s) => this.onSurface(s));
        this.setStatus(m.run.status, m.run.position, m.run.message);
        break;
      case "epoch": this.onEpoch(m); break;
      case "histograms": this.onHistograms(m); break;
      case "surface": this.onSurface(m); break;
      case "marker": this.onMarker(m); break;
      case "run_start":
        this.run.model = { n_params: m.n_params, layers: m.layers, dataset: m.dataset };
        this.drawNetwork();
        break;
      case "status": this.setStatus(m.status, m.position); break;
      case "run_end":
        this.setStatus(m.status, null, m.message);
        this.showClaims(m.summary && m.summary.claims);
        if (m.status === "completed" && this.blewUp()) {
          this.toast(t("msg.blewup", { a: fmt(this.records[0].val_loss), b: fmt(this.records.at(-1).val_loss) }));
        }
        this.renderExport();
        this.refreshRuns();
        break;
      case "coalesced":
        m.epochs.forEach((r) => this.onEpoch(r));
        m.markers.forEach((k) => this.onMarker(k));
        if (m.histograms) this.onHistograms(m.histograms);
        if (m.surface) this.onSurface(m.surface);
        (m.events || []).forEach((e) => this.onMessage(e));
        break;
      case "error": this.toast(m.message); break;
      case "deleted": this.detach(); break;
      default: break;
    }
  }

  onEpoch(r) {
    this.records.push(r);
    const regression = r.val_r2 !== undefined;
    const x = r.epoch + this.offset();
    this.charts.loss.push(x, [r.train_loss, r.val_loss, r.penalty || null]);
    this.charts.score.push(x, regression ? [r.train_r2, r.val_r2] : [r.train_acc, r.val_acc]);
    this.charts.lr.push(x, [r.lr]);
    const layers = Object.keys(r.grad_norm || {});
    if (layers.length && this.charts.grad.series.length !== layers.length) {
      this.charts.grad.reset(layers.map((name, i) => ({ label: name, color: PALETTE[i % PALETTE.length] })));
      for (const old of this.records.slice(0, -1)) this.charts.grad.push(old.epoch + this.offset(), layers.map((n) => old.grad_norm[n]));
    }
    if (layers.length) this.charts.grad.push(x, layers.map((n) => r.grad_norm[n]));
    this.histograms.setFractions(r);
    $("epoch").textContent = String(r.epoch + this.offset()).padStart(6, "0").replace(/(\d{3})$/, ",$1");
    if (this.scrubEpoch == null) this.showFigures(r);
    const scrub = $("scrubber");
    scrub.max = r.epoch;
    scrub.disabled = false;
    if (this.scrubEpoch == null) scrub.value = r.epoch;
  }

  // a continued run ("continue from here") counts on from the epoch it started at
  offset() {
    return (this.run && this.run.epochOffset) || 0;
  }

  showFigures(r) {
    const regression = r.val_r2 !== undefined;
    $("fig-train").textContent = fmt(r.train_loss);
    $("fig-val").textContent = fmt(r.val_loss);
    $("fig-score").textContent = regression ? fmt(r.val_r2, 3) : r.val_acc == null ? "–" : `${(r.val_acc * 100).toFixed(1)}%`;
  }

  onHistograms(h) {
    this.histEvents = (this.histEvents || []).filter((e) => e.epoch < h.epoch).concat([h]).slice(-60);
    if (this.scrubEpoch == null) this.histograms.add(h);
  }

  onSurface(s) {
    this.surfaces[s.epoch] = s;
    const keys = Object.keys(this.surfaces).map(Number).sort((a, b) => a - b);
    while (keys.length > 300) delete this.surfaces[keys.shift()];
    if (this.scrubEpoch != null) return;
    this.output.uncertainty = null;
    this.output.setSurface(s);
    if (s.network) {
      this.lastNetwork = s.network;
      this.drawNetwork(s.network);
    }
  }

  onMarker(m) {
    this.markers.push(m);
    if (m.kind === "restore_best" && m.restored_epoch != null) {
      // the model handed back is the best epoch's: show its surface and diagram, not the last epoch's
      $("scrubber").value = m.restored_epoch;
      setTimeout(() => this.scrubTo(m.restored_epoch), 0);
    }
    if (m.kind === "best") $("fig-best").textContent = m.epoch + this.offset();
    this.drawMarkers();
  }

  drawMarkers() {
    const off = this.offset();
    const lines = [];
    const best = this.markers.filter((k) => k.kind === "best").at(-1);
    if (best) lines.push({ epoch: best.epoch + off, color: COLORS.good, label: t("mark.best"), dash: [4, 3] });
    for (const k of this.markers) {
      if (k.kind === "early_stop") lines.push({ epoch: k.epoch + off, color: COLORS.bad, label: t("mark.early_stop") });
      if (k.kind === "lr_change") lines.push({ epoch: k.epoch + off, color: COLORS.slate, label: "LR↓", dash: [2, 3], lr: true });
      if (k.kind === "weight_edit") lines.push({ epoch: k.epoch + off, color: COLORS.navy, label: t("mark.weight_edit"), dash: [1, 3] });
      if (k.kind === "diverged") lines.push({ epoch: k.epoch + off, color: COLORS.bad, label: t("mark.diverged") });
    }
    this.charts.loss.setMarkers(lines);
    this.charts.score.setMarkers(lines.filter((l) => !l.lr));
    this.charts.lr.setMarkers(lines.filter((l) => l.lr));
  }
}
