// The playground page: wires the configuration (state.js, controls.js) to runs on the server
// (api.js) and the live views (charts.js, heatmap.js, network.js, histograms.js).
import { api, RunStream } from "./api.js";
import { LineChart, PALETTE } from "./charts.js";
import { Controls } from "./controls.js";
import { HistogramView } from "./histograms.js";
import { applyI18n, lang, setLang, t } from "./i18n.js";
import { NetworkView } from "./network.js";
import { OutputView } from "./heatmap.js";
import { ConfigState, mergeDeep } from "./state.js";
import { toast } from "./toast.js";
import { initClassroom } from "./classroom.js";

const $ = (id) => document.getElementById(id);
const ACTIVE = ["queued", "running", "paused"];
const TERMINAL = ["completed", "early_stopped", "diverged", "stopped", "failed", "interrupted"];
const SPEEDS = [0, 1, 2, 5, 10, 20, 50]; // epochs/s; 0 = as fast as possible
const DATA_PATHS = /^(dataset|preprocessing|augmentation)\b|^\*$/;
const fmt = (v, d = 4) => (v == null || !Number.isFinite(v) ? "–" : Number(v).toFixed(d));

// Which view each lesson's "look at" sentence names: it is brought into view and highlighted when the
// lesson's run starts. A preset may name its own target (look.target: an element id) instead.
const LOOK_AT = {
  "vanishing-gradients": "card-grad", "relu-he": "card-grad", "zero-init": "network",
  "overfitting-sine": "card-loss", momentum: "card-loss", "batch-norm": "card-hist", "dropout-mc": "output",
  "standardization-wine": "card-loss", "weight-decay": "card-loss", "lr-schedule": "card-lr", "adaptive-lr": "output",
  "augmentation-digits": "aug-preview", "transfer-digits": "card-score",
};
const PHONE = matchMedia("(max-width: 640px)");
const ONE_COLUMN = matchMedia("(max-width: 900px)");

// Sections a link can hide (hide=...): the keys are the ones a teacher's link names.
export const HIDEABLE = {
  data: ".col-data", network: ".col-net", layers: "details:has(#controls-model)", init: "details:has(#controls-init)",
  optimizer: "details:has(#controls-optimizer)", schedule: "details:has(#controls-schedule)",
  training: "details:has(#controls-training)", early_stopping: "details:has(#controls-early_stopping)",
  transfer: "details:has(#controls-transfer)", telemetry: "details.tel", charts: ".charts", runs: ".runs",
};

// The page's address with a new hash. The query stays: the teacher's projector view is /?room=CODE,
// read after boot (dropping it made the projector ignore the room's broadcast and spotlight).
function here(hash) {
  return location.pathname + location.search + (hash || "");
}

function configChangedHash(pg) {
  history.replaceState(null, "", here(pg.shareHash()));
}

// "continue from here" runs start at their source's epoch: their charts and counter go on from there
function epochOffset(config) {
  const tr = config && config.transfer;
  return tr && tr.strategy === "continue" && tr.epoch != null ? tr.epoch : 0;
}

const clientId = localStorage.nnpClient || (localStorage.nnpClient = Math.random().toString(36).slice(2));

class Playground {
  async boot() {
    this.catalog = await api("/api/catalog");
    this.presets = (await api("/api/presets")).presets;
    // in a classroom, a student's runs list shows their own runs (others may only be watched)
    this.me = await api("/api/me").catch(() => ({ classroom: false }));
    this.state = new ConfigState(this.catalog.defaults);
    const shared = ConfigState.fromHash(location.hash);
    if (shared) this.state.replace(shared);
    const params = new URLSearchParams(location.hash.slice(1));
    this.hidden = (params.get("hide") || "").split(",").filter((k) => HIDEABLE[k]);
    applyI18n();
    this.watchLayout();
    this.controls = new Controls(this.catalog, this.state);
    this.output = new OutputView($("output"), { onAddPoint: (x, y, label) => this.addPoint(x, y, label) });
    this.network = new NetworkView($("network"), { onWidth: (i, d) => this.changeWidth(i, d) });
    this.histograms = new HistogramView($("histograms"));
    this.charts = {
      // on a short screen (a projector) the loss chart gives the output some height back
      loss: new LineChart($("chart-loss"), { series: this.lossSeries(), yLabel: t("chart.yloss"), height: innerHeight < 800 ? 170 : 200 }),
      score: new LineChart($("chart-score"), { series: this.scoreSeries(), yLabel: "", floor: -1 }),
      grad: new LineChart($("chart-grad"), { series: [], log: true, yLabel: "‖∇W‖" }),
      lr: new LineChart($("chart-lr"), { series: [{ label: "LR", color: "#183153" }], yLabel: "LR" }),
    };
    this.baseline = null;
    this.run = null;
    this.wire();
    this.state.onChange((path) => this.configChanged(path));
    this.configChanged("*");
    this.applyHidden();
    if (params.get("lesson")) await this.choosePreset(params.get("lesson"), { keepConfig: !!shared });
    this.refreshRuns();
    setInterval(() => this.refreshRuns(), 4000);
    document.body.dataset.ready = "1";
  }

  // ---- layout -------------------------------------------------------------------------------
  watchLayout() {
    // The stage and the lesson are pinned under the top bar, whose height depends on the width.
    const root = document.documentElement.style;
    const bar = document.querySelector(".topbar");
    new ResizeObserver(() => root.setProperty("--top", `${bar.offsetHeight}px`)).observe(bar);
    new ResizeObserver(() => root.setProperty("--lesson-h", `${ONE_COLUMN.matches ? 0 : $("lesson").offsetHeight}px`))
      .observe($("lesson"));
    // on a phone the controls start folded: the output and the loss chart come first
    if (PHONE.matches) for (const d of document.querySelectorAll("details.fold")) d.open = false;
  }

  // After ▶: on one column the stage (output, loss) is scrolled into view; with a lesson, the view
  // its "look at" sentence names is brought into view too and highlighted.
  focusViews() {
    for (const e of document.querySelectorAll(".look-here")) e.classList.remove("look-here");
    const p = this.preset;
    const target = p && ((p.look && p.look.target) || LOOK_AT[p.name]);
    if (ONE_COLUMN.matches) $("stage").scrollIntoView({ block: "start" });
    if (!target || !$(target)) return;
    $(target).classList.add("look-here");
    const inStage = $("stage").contains($(target));
    if (!ONE_COLUMN.matches && !inStage) $(target).scrollIntoView({ block: "start" });
  }

  // ---- configuration ------------------------------------------------------------------------
  layersText() {
    const m = this.state.get("model");
    const n = m.hidden.length;
    const dense = t(n === 1 ? "layers.one" : "layers.n", { n });
    const conv = this.state.get("dataset.name") === "digits" && m.arch && m.arch !== "mlp";
    return conv ? t("layers.cnn", { c: (m.conv_channels || []).length, dense }) : dense;
  }

  // The address bar holds the configuration, and the lesson and hidden sections when there are any
  // (a shared lesson link opens the lesson; hide= lists the sections a lesson does not need).
  shareHash() {
    const h = this.state.toHash();
    let out = h === "#c=e30" ? "" : h;
    if (this.preset) out += `${out ? "&" : "#"}lesson=${encodeURIComponent(this.preset.name)}`;
    if (this.hidden && this.hidden.length) out += `${out ? "&" : "#"}hide=${this.hidden.join(",")}`;
    return out;
  }

  configChanged(path) {
    if (path === "dataset.name" && this.state.get("dataset.name") === "custom" && !this.state.get("dataset.points")) {
      if (!this.startDrawing()) return;
    }
    if (this.state.get("dataset.name") !== "custom") this.lastDataset = this.state.get("dataset.name");
    history.replaceState(null, "", here(this.shareHash()));
    this.drawNetwork();
    $("layers-label").textContent = this.layersText();
    if (path === "*" || !path.startsWith("telemetry")) this.abandonRun();
    if (DATA_PATHS.test(path)) this.loadData();
  }

  configChangedLabels() {
    $("layers-label").textContent = this.layersText();
    if (this.dataView) this.describeData(this.dataView);
    $("status").textContent = this.run ? this.statusText(this.run.status, this.run.position) : t("status.ready");
    this.refreshRuns();
  }

  async loadData() {
    const body = {
      dataset: this.state.get("dataset"),
      preprocessing: this.state.get("preprocessing"),
      augmentation: this.state.get("augmentation"),
    };
    const ticket = (this.dataTicket = (this.dataTicket || 0) + 1);
    try {
      const view = await api("/api/data/preview", { method: "POST", body });
      if (ticket !== this.dataTicket) return; // a newer request is on its way
      this.dataView = view;
      this.output.setData(view);
      this.drawAugPreview(view.augmented);
      this.describeData(view);
      this.drawNetwork();
      this.controls.showErrors([]);
    } catch (e) {
      if (ticket !== this.dataTicket) return;
      this.showError(e);
    }
  }

  describeData(d) {
    // a data set smaller than "samples" (wine has 178) uses all it has: the box says so
    const total = d.n_train + d.n_val;
    if (d.name === "wine" && this.state.get("dataset.n_samples") > total) {
      this.state.set("dataset.n_samples", total, { silent: true });
      this.controls.refresh("*");
      history.replaceState(null, "", here(this.shareHash()));
    }
    const task = d.task === "regression" ? t("data.regression") : t("data.classes", { n: d.n_classes });
    $("data-hint").textContent = t("data.summary", { train: d.n_train, val: d.n_val, task });
    $("fig-score-label").textContent = t(d.task === "regression" ? "fig.r2" : "fig.acc");
    $("score-title").textContent = t(d.task === "regression" ? "chart.r2" : "chart.acc");
    $("show-mc").disabled = false;
    $("draw").disabled = d.input_shape.length !== 1 || d.input_shape[0] !== 2;
    $("output-hint").textContent = $("draw").disabled || !$("draw").checked ? "" : t("out.drawhint");
  }

  drawAugPreview(images) {
    const host = $("aug-preview");
    host.replaceChildren();
    for (const img of images || []) {
      const c = document.createElement("canvas");
      c.width = c.height = 8;
      const ctx = c.getContext("2d");
      const data = ctx.createImageData(8, 8);
      img.flat().forEach((v, k) => {
        const g = 255 - Math.round(Math.min(1, Math.max(0, v)) * 255);
        data.data.set([g, g, g, 255], k * 4);
      });
      ctx.putImageData(data, 0, 0);
      host.append(c);
    }
  }

  drawNetwork(network) {
    const d = this.dataView;
    const layers = this.run && this.run.model ? this.run.model.layers : null;
    let hidden, inputs, outputs;
    if (layers) {
      hidden = layers.filter((l) => l.name !== "out").map((l) => ({ name: l.name, units: l.shape[0], activation: l.activation }));
      outputs = layers.at(-1).shape[0];
    } else {
      const m = this.state.get("model");
      hidden = m.hidden.map((u, i) => ({ name: `fc${i + 1}`, units: u, activation: (m.activations || [])[i] || m.activation }));
      outputs = d ? Math.max(1, d.n_classes) : 2;
    }
    if (d && d.input_shape.length === 1 && d.input_shape[0] <= 2) inputs = d.input_shape[0] === 2 ? ["x₁", "x₂"] : ["x"];
    else if (d && d.input_shape.length === 3) inputs = ["8×8"];
    else if (d) {
      // tabular data: one node per feature (the first 16 drawn), so the first layer's links carry colour
      const sub = (n) => String(n).replace(/\d/g, (c) => "₀₁₂₃₄₅₆₇₈₉"[c]);
      inputs = Array.from({ length: d.input_shape[0] }, (_, k) => `x${sub(k + 1)}`);
    } else inputs = ["x₁", "x₂"];
    const note = this.run && this.run.model ? t("net.params", { n: this.run.model.n_params }) : "";
    this.network.render({ inputs, hidden, outputs, network: network || this.lastNetwork, note,
                          editable: !(layers && layers.some((l) => l.kind === "conv")) });
  }

  changeWidth(i, delta) {
    const hidden = [...this.state.get("model.hidden")];
    hidden[i] = Math.max(1, Math.min(256, hidden[i] + delta));
    this.state.set("model.hidden", hidden);
  }

  changeDepth(delta) {
    const hidden = [...this.state.get("model.hidden")];
    if (delta > 0 && hidden.length < 8) hidden.push(hidden.at(-1) || 4);
    if (delta < 0 && hidden.length > 0) hidden.pop();
    const m = this.state.get("model");
    if (m.activations) this.state.set("model.activations", null, { silent: true });
    if (m.dropouts) this.state.set("model.dropouts", null, { silent: true });
    this.state.set("model.hidden", hidden);
  }

  // "custom" chosen with no data: the points on screen become the student's own, ready to draw on.
  // Without 2-D points on screen (digits, wine) there is nothing to draw on: say how to get data.
  startDrawing() {
    const pts = this.dataView && this.dataView.input_shape.length === 1 && this.dataView.input_shape[0] === 2
      ? this.dataView.points : null;
    if (!pts) {
      this.state.set("dataset.name", this.lastDataset || "circle", { silent: true });
      this.controls.refresh("*");
      this.toast(t("msg.customempty"), "info");
      return false;
    }
    this.state.set("dataset.points", pts.map((p) => [p[0], p[1], p[2]]), { silent: true });
    $("draw").checked = true;
    this.output.drawMode = true;
    $("output-hint").textContent = t("out.drawhint");
    this.toast(t("msg.customstart"), "info");
    return true;
  }

  addPoint(x, y, label) {
    let points = this.state.get("dataset.points");
    if (this.state.get("dataset.name") !== "custom" || !points) {
      // start from the data on screen, so drawing adds to what the student sees
      points = (this.dataView.points || []).map((p) => [p[0], p[1], p[2]]);
    }
    points = [...points, [Number(x.toFixed(3)), Number(y.toFixed(3)), label]];
    this.state.set("dataset.points", points, { silent: true });
    this.state.set("dataset.name", "custom");
  }

  async loadCsv(file) {
    const text = await file.text();
    const rows = text.trim().split(/\r?\n/).map((l) => l.split(",").map((c) => c.trim()));
    if (rows.length && rows[0].some((c) => c !== "" && Number.isNaN(Number(c)))) rows.shift(); // header
    const bad = rows.findIndex((r) => r.some((c) => c === "" || Number.isNaN(Number(c))));
    if (bad >= 0) return this.toast(t("msg.csvcell", { n: bad + 1 }));
    if (rows.length < 4) return this.toast(t("msg.csvrows"));
    this.state.set("dataset.points", rows.map((r) => r.map(Number)), { silent: true });
    this.state.set("dataset.name", "custom");
  }

  // ---- runs ---------------------------------------------------------------------------------
  abandonRun() {
    // A new configuration means a new network (as in TensorFlow Playground); the old run stays
    // in the runs list, and an unfinished one is stopped so it does not hold a worker.
    if (this.run && ACTIVE.includes(this.run.status)) api(`/api/runs/${this.run.id}/stop`, { method: "POST" }).catch(() => {});
    this.detach();
  }

  detach() {
    if (this.stream) this.stream.close();
    this.watching = null;
    this.stream = null;
    this.run = null;
    this.resetViews();
    this.setStatus("ready");
  }

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

  async start({ paused = false, offset = null } = {}) {
    // the run must use the values on screen: while a box holds a rejected value, ▶ refuses and says why
    const invalid = this.controls.invalidFields();
    if (invalid.length) {
      const first = invalid[0];
      first.row.closest("details.fold")?.setAttribute("open", "");
      first.row.scrollIntoView({ block: "center" });
      first.row.querySelector("input, select")?.focus();
      this.toast(t("msg.fixfirst", { fields: invalid.map((f) => `${f.label}: ${f.message}`).join("; ") }));
      return;
    }
    const speed = SPEEDS[Number($("speed").value)];
    try {
      // the lesson on screen names the run's lesson: its summary then measures the lesson's claims
      const body = { ...this.state.config, lesson: this.preset?.name ?? null };
      const run = await api(`/api/runs?speed=${speed}&paused=${paused}`, { method: "POST", body,
                                                                         headers: { "X-Client-Id": clientId } });
      if (offset != null) run.epochOffset = offset;
      this.controls.showErrors([]);
      this.attach(run);
      this.focusViews();
      this.refreshRuns();
    } catch (e) {
      this.showError(e);
    }
  }

  attach(run) {
    if (this.stream) this.stream.close();
    this.watching = null; // the classroom sets it again when this is the room's run
    this.resetViews();
    this.showClaims(null); // the claims are measured when this run ends
    this.run = run;
    if (run.epochOffset == null) run.epochOffset = epochOffset(run.submitted_config || run.config);
    this.setStatus(run.status, run.position);
    this.stream = new RunStream(run.id, {
      message: (m) => this.onMessage(m),
      lost: () => this.toast(t("msg.lost"), "info"),
      reconnected: () => this.toast(t("msg.back"), "info"),
    });
    this.renderExport();
  }

  async control(action) {
    if (!this.run || this.watching) return;
    try {
      const run = await api(`/api/runs/${this.run.id}/${action}`, { method: "POST" });
      this.setStatus(run.status, run.position);
    } catch (e) {
      this.showError(e);
    }
  }

  playPause() {
    // following the room's run (not ours to pause): ▶ starts the student's own run, on their own settings
    if (this.watching && window.classroom) return window.classroom.ownRun();
    if (!this.run || TERMINAL.includes(this.run.status)) return this.start();
    if (this.run.status === "running") return this.control("pause");
    if (this.run.status === "paused") return this.control("resume");
  }

  step() {
    if (this.watching && window.classroom) return window.classroom.ownRun({ paused: true });
    if (!this.run || TERMINAL.includes(this.run.status)) return this.start({ paused: true });
    if (this.run.status === "running") return this.control("pause");
    if (this.run.status === "paused") return this.control("step");
  }

  // ---- the stream ---------------------------------------------------------------------------
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
    if (best) lines.push({ epoch: best.epoch + off, color: "#188038", label: t("mark.best"), dash: [4, 3] });
    for (const k of this.markers) {
      if (k.kind === "early_stop") lines.push({ epoch: k.epoch + off, color: "#c5221f", label: t("mark.early_stop") });
      if (k.kind === "lr_change") lines.push({ epoch: k.epoch + off, color: "#5f6b7a", label: "LR↓", dash: [2, 3], lr: true });
      if (k.kind === "diverged") lines.push({ epoch: k.epoch + off, color: "#c5221f", label: t("mark.diverged") });
    }
    this.charts.loss.setMarkers(lines);
    this.charts.score.setMarkers(lines.filter((l) => !l.lr));
    this.charts.lr.setMarkers(lines.filter((l) => l.lr));
  }

  statusText(status, position) {
    if (status === "queued" && position != null) return t("status.queued_at", { n: position }); // 1-based
    const stop = status === "early_stopped" && this.markers.find((k) => k.kind === "early_stop");
    if (stop) return t("status.early_at", { e: stop.epoch + this.offset(), b: stop.best_epoch + this.offset() });
    if (status === "completed" && this.blewUp()) return t("status.blewup");
    return t(`status.${status}`);
  }

  setStatus(status, position, message) {
    // A REST answer can arrive after the stream already reported the end: the end wins.
    if (this.run && TERMINAL.includes(this.run.status) && !TERMINAL.includes(status)) return;
    if (this.run) {
      this.run.status = status;
      this.run.position = position;
    }
    const pill = $("status");
    pill.className = `status ${status}`;
    pill.textContent = this.statusText(status, position);
    pill.title = message || "";
    $("btn-play").innerHTML = status === "running" || status === "queued" ? "&#x23F8;" : "&#x25B6;";
    $("btn-play").setAttribute("aria-label", t(status === "running" ? "aria.pause" : "aria.play"));
    $("btn-stop").disabled = !ACTIVE.includes(status);
    if ((status === "diverged" || status === "failed") && message) this.toast(message);
  }

  // ---- epoch scrubber, MC dropout -----------------------------------------------------------
  // A run that "completed" with a validation loss far above where it started did not learn: the
  // learning rate is the usual cause (gauss at LR 10 ends near 10^6). Said in the status and a toast.
  blewUp() {
    const r = this.records || [];
    if (r.length < 2) return false;
    const first = r[0].val_loss, last = r.at(-1).val_loss;
    return !Number.isFinite(last) || (Number.isFinite(first) && last > 10 * Math.max(first, 1e-3));
  }

  async scrubTo(epoch) {
    this.scrubEpoch = epoch;
    $("scrub-label").textContent = epoch == null ? t("out.live") : t("out.epoch_n", { n: epoch + this.offset() });
    // the numbers and the charts follow the scrubber: the figures are that epoch's, the charts mark it
    const rec = (this.records || []).find((r) => r.epoch === epoch) || (epoch == null && (this.records || []).at(-1));
    if (rec) this.showFigures(rec);
    for (const c of Object.values(this.charts)) c.setCursor(epoch == null ? null : epoch + this.offset());
    $("btn-live").disabled = epoch == null;
    $("btn-restore").disabled = epoch == null || !this.run || !this.run.model;
    if (epoch == null || !this.run) {
      this.histograms.setHistory(this.histEvents || []);
      const latest = Object.keys(this.surfaces || {}).map(Number).sort((a, b) => a - b).at(-1);
      if (latest != null) this.output.setSurface(this.surfaces[latest]);
      if (this.lastNetwork) this.drawNetwork(this.lastNetwork);
      return;
    }
    try {
      const s = await api(`/api/runs/${this.run.id}/surface?epoch=${epoch}`);
      if (this.scrubEpoch !== epoch) return;
      this.output.setSurface(s);
      if (s.network) this.drawNetwork(s.network);
      const h = await api(`/api/runs/${this.run.id}/histograms?epoch=${epoch}`);
      if (this.scrubEpoch === epoch && h) {
        // the ridgeline as it was at that epoch; the live history is kept for "live"
        this.histograms.setHistory([...this.histEvents.filter((e) => e.epoch < h.epoch), h]);
      }
    } catch (e) {
      this.showError(e);
    }
  }

  // "Restore this epoch": a new run that starts from the scrubbed epoch's checkpoint of this run
  // (transfer strategy "continue": every weight, the output layer too) and trains on from there.
  async continueFrom(epoch) {
    if (epoch == null || !this.run) return;
    const source = this.run.id;
    const before = structuredClone(this.state.config.transfer);
    const off = this.offset();
    // the source run's curves stay on the charts (dashed) so the branch is seen leaving them
    if (!this.baseline) this.pinBaseline();
    const cfg = structuredClone(this.state.config);
    cfg.transfer = { source, strategy: "continue", epoch, k: 1, feature_lr_scale: 1 };
    this.state.replace(cfg); // an unfinished source run is stopped: the new run is its branch
    await this.start({ offset: off + epoch });
    // "continue" is this one run's start, not a setting: later runs train as before
    this.state.set("transfer", before, { silent: true });
    this.controls.refresh("*");
    history.replaceState(null, "", here(this.shareHash()));
  }

  async mcUncertainty() {
    const d = this.dataView;
    if (!$("show-mc").checked || !this.run || !d) {
      this.output.showUncertainty = false;
      this.output.render();
      return;
    }
    this.output.showUncertainty = true;
    const dropout = this.state.get("model.dropout") > 0 || (this.state.get("model.dropouts") || []).some((p) => p > 0);
    if (!dropout) this.toast(t("msg.nodropout"), "info");
    if (d.images && this.output.surface && this.output.surface.kind === "images") {
      // per-image spread for the validation digits on screen
      try {
        const p = await api(`/api/runs/${this.run.id}/predict`, { method: "POST",
          body: { inputs: d.images.map((img) => img.flat()), mc_samples: 20, epoch: this.scrubEpoch } });
        this.output.surface = { ...this.output.surface, uncertainty: p.std.map((row) => Math.max(...row)) };
      } catch (e) {
        return this.showError(e);
      }
    }
    if (d.input_shape.length === 1 && d.input_shape[0] === 2 && this.output.surface) {
      const res = 40;
      const [[x0, x1], [y0, y1]] = this.output.bounds();
      const inputs = [];
      for (let r = 0; r < res; r++) for (let c = 0; c < res; c++) {
        inputs.push([x0 + ((x1 - x0) * c) / (res - 1), y0 + ((y1 - y0) * r) / (res - 1)]);
      }
      try {
        const p = await api(`/api/runs/${this.run.id}/predict`, { method: "POST",
          body: { inputs, mc_samples: 20, epoch: this.scrubEpoch } });
        this.output.uncertainty = { res, values: p.std.map((row) => Math.max(...row)) };
      } catch (e) {
        return this.showError(e);
      }
    }
    this.output.render();
  }

  // ---- baseline, runs list, export ----------------------------------------------------------
  lossSeries() {
    return [
      { label: t("chart.train"), color: "#f59322" },
      { label: t("chart.validation"), color: "#0877bd" },
      { label: t("chart.penalty"), color: "#9aa3b2", dash: [4, 4] },
    ];
  }

  scoreSeries() {
    return [{ label: t("chart.train"), color: "#f59322" }, { label: t("chart.validation"), color: "#0877bd" }];
  }

  pinBaseline() {
    if (!this.records || !this.records.length) return this.toast(t("msg.pinfirst"), "info");
    const regression = this.records[0].val_r2 !== undefined;
    this.baseline = {
      id: this.run.id,
      x: this.records.map((r) => r.epoch + this.offset()),
      loss: [this.records.map((r) => r.train_loss), this.records.map((r) => r.val_loss)],
      score: [this.records.map((r) => (regression ? r.train_r2 : r.train_acc)), this.records.map((r) => (regression ? r.val_r2 : r.val_acc))],
    };
    $("baseline-label").textContent = t("chart.baseline_of", { id: this.run.id.slice(0, 6) });
    this.applyBaseline();
  }

  applyBaseline() {
    const b = this.baseline;
    if (!b) return;
    const dashed = (key, color) => ({ label: `${t(key)} (${t("chart.baseline")})`, color, dash: [6, 4], width: 1.2 });
    const series = () => [dashed("chart.train", "#f5b66b"), dashed("chart.validation", "#6aa9d6")];
    this.charts.loss.setBaseline({ x: b.x, ys: b.loss, series: series() });
    this.charts.score.setBaseline({ x: b.x, ys: b.score, series: series() });
  }

  async refreshRuns() {
    try {
      const mine = this.me && this.me.classroom && !this.me.teacher ? "&mine=true" : "";
      const [list, health] = await Promise.all([api(`/api/runs?limit=15${mine}`), api("/api/health")]);
      const w = health.workers || {};
      $("health").textContent = t("health", { alive: w.alive ?? "?", busy: w.busy ?? 0, queued: health.queue ? health.queue.length : 0 });
      const body = $("runs").querySelector("tbody");
      body.replaceChildren();
      for (const r of list.runs) {
        const tr = body.insertRow();
        if (this.run && r.id === this.run.id) tr.className = "current";
        const s = r.summary || {};
        const score = s.final_val_acc != null ? `${(s.final_val_acc * 100).toFixed(1)}%` : s.final_val_r2 != null ? `R² ${fmt(s.final_val_r2, 3)}` : "–";
        for (const v of [r.id.slice(0, 8), r.dataset, t(`status.${r.status}`), `${r.epochs_run}/${r.epochs}`, fmt(s.final_val_loss ?? s.best_val_loss), score]) {
          tr.insertCell().textContent = v;
        }
        const del = document.createElement("button");
        del.className = "small";
        del.textContent = t("runs.delete");
        del.onclick = async (ev) => {
          ev.stopPropagation();
          try {
            await api(`/api/runs/${r.id}`, { method: "DELETE" });
            if (this.run && this.run.id === r.id) this.detach();
            this.refreshRuns();
          } catch (e) { this.showError(e); }
        };
        tr.insertCell().append(del);
        tr.onclick = () => this.open(r.id);
      }
      this.controls.setTransferSources(list.runs.filter((r) => r.status !== "failed").map((r) => r.id));
    } catch {
      $("health").textContent = t("msg.unreachable");
    }
  }

  async open(id) {
    try {
      const run = await api(`/api/runs/${id}`);
      this.state.replace(run.submitted_config || run.config);
      this.attach(run);
    } catch (e) {
      this.showError(e);
    }
  }

  renderExport() {
    const host = $("export");
    host.replaceChildren();
    if (!this.run) return;
    host.append(t("runs.export"), " ");
    for (const f of ["python", "json", "csv", "state_dict", "torchscript"]) {
      const a = document.createElement("a");
      a.href = `/api/runs/${this.run.id}/export?format=${f}`;
      a.textContent = f;
      a.className = "ghost";
      host.append(a);
    }
  }

  // ---- messages -----------------------------------------------------------------------------
  showError(e) {
    const unplaced = this.controls.showErrors(e.detail || []);
    const text = e.message.replaceAll("Value error, ", "");
    this.toast(e.detail && e.detail.length && !unplaced.length ? t("msg.seefields", { error: text.split("\n")[0] }) : text);
  }

  toast(text, kind = "error") {
    toast(text, kind);
  }

  // A link may hide the sections a lesson does not need (hide=data,init,...), as TensorFlow
  // Playground's links do; a note says so and one click shows everything again.
  applyHidden() {
    for (const [key, sel] of Object.entries(HIDEABLE)) {
      for (const e of document.querySelectorAll(sel)) e.hidden = this.hidden.includes(key);
    }
    $("hidden-note").hidden = !this.hidden.length;
  }

  async choosePreset(name, { keepConfig = false } = {}) {
    const box = $("lesson");
    this.claimResults = null;
    if (!name) {
      box.hidden = true;
      this.preset = null;
      for (const e of document.querySelectorAll(".look-here")) e.classList.remove("look-here");
      return;
    }
    try {
      const p = await api(`/api/presets/${name}`);
      this.preset = p;
      $("preset").value = p.name;
      if (keepConfig) configChangedHash(this);
      else this.state.replace(p.config);
      this.showLesson();
    } catch (e) {
      this.showError(e);
    }
  }

  showLesson() {
    const p = this.preset;
    const box = $("lesson");
    if (!p) return;
    const l = lang();
    box.replaceChildren();
    const b = document.createElement("b");
    b.textContent = (l === "es" && p.title_es) || p.title;
    box.append(b, p[l] || p.en);
    if (p.look) {
      const look = document.createElement("span");
      look.className = "look";
      look.textContent = `${t("lesson.look")} ${p.look[l] || p.look.en}`;
      box.append(look);
    }
    if (p.try) {
      const tr = document.createElement("span");
      tr.className = "try";
      tr.textContent = `${t("lesson.try")} ${p.try[l] || p.try.en}`;
      const btn = document.createElement("button");
      btn.className = "small";
      btn.id = "btn-try";
      btn.textContent = t("lesson.apply");
      btn.onclick = () => {
        const cfg = structuredClone(this.state.config);
        this.state.replace(mergeDeep(cfg, p.try.config));
      };
      tr.append(btn);
      box.append(tr);
    }
    const link = document.createElement("button");
    link.className = "small lesson-link";
    link.id = "btn-lesson-link";
    link.textContent = t("lesson.share");
    link.title = t("share.lesson");
    link.onclick = () => this.shareLesson();
    (box.querySelector(".try") || box.querySelector(".look") || box).append(link);
    box.hidden = false;
    this.showClaims(this.claimResults);
  }

  // The lesson's claims measured on the run that just ended (summary.claims): one sentence each with
  // the measured figure, ✓ when it held, ✗ when it did not (the student changed something).
  showClaims(results) {
    this.claimResults = results || null;
    const box = $("lesson");
    box.querySelector(".claims")?.remove();
    if (!this.preset || !results || !results.length) return;
    const l = lang();
    const list = document.createElement("ul");
    list.className = "claims";
    list.id = "lesson-claims";
    list.setAttribute("aria-label", t("lesson.claims"));
    for (const c of results) {
      const li = document.createElement("li");
      li.className = c.holds ? "holds" : "fails";
      li.dataset.claim = c.id;
      li.textContent = `${c.holds ? "✓" : "✗"} ${c[l] || c.en}`;
      li.title = c.holds ? t("lesson.claim_holds") : t("lesson.claim_fails");
      list.append(li);
    }
    box.append(list);
  }

  // A link to this lesson that shows only the sections its configuration and its "now try" touch
  // (the data, the network, the charts always stay): the link a teacher hands out.
  async shareLesson() {
    const p = this.preset;
    // a section is the lesson's when its configuration or its "now try" sets it apart from the defaults
    const differs = (cfg, k) => cfg && cfg[k] !== undefined && JSON.stringify(cfg[k]) !== JSON.stringify(this.state.defaults[k]);
    const used = new Set(Object.keys(this.state.defaults).filter((k) => differs(p.config, k) || differs(p.try && p.try.config, k)));
    // these section keys are also the configuration's section names
    this.hidden = ["init", "optimizer", "schedule", "early_stopping", "transfer", "telemetry"].filter((k) => !used.has(k));
    this.applyHidden();
    const url = location.origin + location.pathname + this.shareHash();
    history.replaceState(null, "", this.shareHash());
    try { await navigator.clipboard.writeText(url); this.toast(t("msg.linkcopied"), "info"); }
    catch { this.toast(url, "info"); }
  }

  fillPresets() {
    const sel = $("preset");
    for (const o of [...sel.options].slice(1)) o.remove();
    for (const p of this.presets) {
      const o = document.createElement("option");
      o.value = p.name;
      o.textContent = (lang() === "es" && p.title_es) || p.title;
      sel.append(o);
    }
    if (this.preset) sel.value = this.preset.name;
  }

  wire() {
    const sel = $("preset");
    this.fillPresets();
    sel.onchange = () => this.choosePreset(sel.value);
    $("btn-lang").textContent = lang().toUpperCase();
    $("btn-lang").onclick = () => {
      setLang(lang() === "en" ? "es" : "en");
      $("btn-lang").textContent = lang().toUpperCase();
      applyI18n();
      this.controls.relabel();
      this.configChangedLabels();
      this.charts.loss.relabel(this.lossSeries().map((s) => s.label));
      this.charts.score.relabel(this.scoreSeries().map((s) => s.label));
      this.applyBaseline();
      this.drawMarkers();
      this.drawNetwork(this.lastNetwork);
      this.output.render();
      this.scrubTo(this.scrubEpoch);
      this.fillPresets();
      if (window.classroom) window.classroom.relabel();
      this.showLesson();
    };
    $("btn-play").onclick = () => this.playPause();
    $("btn-step").onclick = () => this.step();
    $("btn-stop").onclick = () => this.control("stop");
    $("btn-reset").onclick = () => this.abandonRun();
    $("btn-regenerate").onclick = () => this.state.set("dataset.seed", (this.state.get("dataset.seed") + 1) % 1000);
    $("btn-layer-add").onclick = () => this.changeDepth(1);
    $("btn-layer-del").onclick = () => this.changeDepth(-1);
    $("btn-share").onclick = async () => {
      const url = location.origin + location.pathname + (this.shareHash() || "");
      try { await navigator.clipboard.writeText(url); this.toast(t("msg.linkcopied"), "info"); }
      catch { this.toast(url, "info"); }
    };
    $("btn-pin").onclick = () => this.pinBaseline();
    $("btn-showall").onclick = () => {
      this.hidden = [];
      this.applyHidden();
      history.replaceState(null, "", here(this.shareHash()));
    };
    $("csv").onchange = (e) => e.target.files[0] && this.loadCsv(e.target.files[0]);
    $("speed").oninput = () => {
      const v = SPEEDS[Number($("speed").value)];
      $("speed-label").textContent = v ? `${v}/s` : t("top.max");
    };
    $("speed").onchange = () => {
      if (this.run && ACTIVE.includes(this.run.status)) {
        api(`/api/runs/${this.run.id}/speed`, { method: "POST", body: { epochs_per_second: SPEEDS[Number($("speed").value)] } })
          .catch((e) => this.showError(e));
      }
    };
    $("loss-log").onchange = () => this.charts.loss.setLog($("loss-log").checked);
    $("hist-kind").onchange = () => this.histograms.setKind($("hist-kind").value);
    $("hist-shared").onchange = () => this.histograms.setShared($("hist-shared").checked);
    $("show-val").onchange = () => { this.output.showVal = $("show-val").checked; this.output.render(); };
    $("show-mc").onchange = () => this.mcUncertainty();
    $("draw").onchange = () => {
      this.output.drawMode = $("draw").checked;
      if (this.dataView) this.describeData(this.dataView); // the drawing hint shows while drawing
      this.output.render();
    };
    $("scrubber").oninput = () => {
      const e = Number($("scrubber").value);
      this.scrubTo(e === Number($("scrubber").max) && this.run && ACTIVE.includes(this.run.status) ? null : e);
    };
    $("btn-restore").onclick = () => this.continueFrom(this.scrubEpoch);
    $("btn-live").onclick = () => { $("scrubber").value = $("scrubber").max; this.scrubTo(null); };
    document.addEventListener("keydown", (ev) => {
      if (["INPUT", "SELECT", "TEXTAREA"].includes(ev.target.tagName)) return;
      if (ev.key === " ") { ev.preventDefault(); this.playPause(); }
      else if (ev.key === "s") this.step();
      else if (ev.key === "r") this.abandonRun();
    });
  }
}

window.playground = new Playground();
window.playground.boot().then(() => initClassroom(window.playground)).catch((e) => {
  document.body.dataset.ready = "error";
  toast(t("msg.nostart", { message: e.message }));
});
