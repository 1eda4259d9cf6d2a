// The playground page, wired: the configuration (state.js, controls.js) drives the data panel
// (data.js), the network diagram (networkpanel.js) and runs on the server (runcontrol.js, api.js),
// whose stream feeds the live views (liveviews.js: charts.js, outputview.js, network.js,
// histograms.js); the epoch scrubber (scrubber.js), the baseline comparison (baseline.js), the runs
// list (runslist.js) and the lessons (lesson.js) are each their own module, mixed into the one
// Playground whose state they share.
import { api, Vocabulary } from "./api.js";
import { Baseline } from "./baseline.js";
import { LineChart } from "./charts.js";
import { initClassroom } from "./classroom.js";
import { Controls } from "./controls.js";
import { DataPanel } from "./data.js";
import { $, ONE_COLUMN, PHONE } from "./dom.js";
import { HistogramView } from "./histograms.js";
import { applyI18n, lang, setLang, t } from "./i18n.js";
import { HIDEABLE, Lessons } from "./lesson.js";
import { LiveViews } from "./liveviews.js";
import { NetworkView } from "./network.js";
import { NetworkPanel } from "./networkpanel.js";
import { OutputView } from "./outputview.js";
import { RunControl } from "./runcontrol.js";
import { RunsList } from "./runslist.js";
import { Scrubber } from "./scrubber.js";
import { ConfigState, VIEW_OPTIONS, viewFromHash, viewToHash } from "./state.js";
import { sweepable, Sweeps } from "./sweep.js";
import { COLORS } from "./theme.js";
import { toast } from "./toast.js";

const DATA_PATHS = /^(dataset|preprocessing|augmentation)\b|^\*$/;

class Playground {
  async boot() {
    this.catalog = await api("/api/catalog");
    this.vocab = new Vocabulary(this.catalog); // run statuses and control actions
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
    this.sweeps = new Sweeps(this);
    this.controls = new Controls(this.catalog, this.state, { sweep: { when: sweepable, ask: (path, f) => this.sweeps.ask(path, f) } });
    this.output = new OutputView($("output"), { onAddPoint: (x, y, label) => this.addPoint(x, y, label) });
    this.network = new NetworkView($("network"), {
      onWidth: (i, d) => this.changeWidth(i, d), onFeature: (f) => this.toggleFeature(f), onFocus: (u) => this.focusUnit(u),
      onEdit: (w) => this.editWeight(w), onKnockout: (layer, unit) => this.toggleKnockout(layer, unit),
    });
    this.histograms = new HistogramView($("histograms"));
    this.charts = {
      // on a short screen (a projector) the loss chart gives the output some height back
      loss: new LineChart($("chart-loss"), { series: this.lossSeries(), yLabel: t("chart.yloss"), height: innerHeight < 800 ? 170 : 200 }),
      score: new LineChart($("chart-score"), { series: this.scoreSeries(), yLabel: "", floor: -1 }),
      grad: new LineChart($("chart-grad"), { series: [], log: true, yLabel: "‖∇W‖" }),
      lr: new LineChart($("chart-lr"), { series: [{ label: "LR", color: COLORS.navy }], yLabel: "LR" }),
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

  // The address bar holds the configuration, and the lesson and hidden sections when there are any
  // (a shared lesson link opens the lesson; hide= lists the sections a lesson does not need).
  shareHash() {
    const h = this.state.toHash();
    let out = h === "#c=e30" ? "" : h;
    if (this.preset) out += `${out ? "&" : "#"}lesson=${encodeURIComponent(this.preset.name)}`;
    if (this.hidden && this.hidden.length) out += `${out ? "&" : "#"}hide=${this.hidden.join(",")}`;
    const view = viewToHash(this.output.options);
    if (view) out += `${out ? "&" : "#"}${view}`;
    return out;
  }

  // The page's address with the current hash. The query stays: the teacher's projector view is
  // /?room=CODE, read after boot (dropping it made the projector ignore the room's broadcast).
  saveAddress() {
    history.replaceState(null, "", location.pathname + location.search + (this.shareHash() || ""));
  }

  configChanged(path) {
    if (path === "dataset.name" && this.state.get("dataset.name") === "custom" && !this.state.get("dataset.points")) {
      if (!this.startDrawing()) return;
    }
    if (this.state.get("dataset.name") !== "custom") this.lastDataset = this.state.get("dataset.name");
    this.saveAddress();
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

  showError(e) {
    const unplaced = this.controls.showErrors(e.detail || []);
    const text = e.message.replaceAll("Value error, ", "");
    this.toast(e.detail && e.detail.length && !unplaced.length ? t("msg.seefields", { error: text.split("\n")[0] }) : text);
  }

  toast(text, kind = "error") {
    toast(text, kind);
  }

  wire() {
    this.wireRunControl();
    this.wireScrubber();
    const sel = $("preset");
    this.fillPresets();
    sel.onchange = async () => {
      await this.choosePreset(sel.value);
      if (this.preset && this.preset.sweep) this.sweeps.startLesson(this.preset); // a sweep lesson starts as one
    };
    $("btn-lang").textContent = lang().toUpperCase();
    $("btn-lang").onclick = () => {
      setLang(lang() === "en" ? "es" : "en");
      $("btn-lang").textContent = lang().toUpperCase();
      applyI18n();
      this.controls.relabel();
      this.sweeps.relabel();
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
      this.saveAddress();
    };
    $("csv").onchange = (e) => e.target.files[0] && this.loadCsv(e.target.files[0]);
    $("loss-log").onchange = () => this.charts.loss.setLog($("loss-log").checked);
    $("hist-kind").onchange = () => this.histograms.setKind($("hist-kind").value);
    $("hist-shared").onchange = () => this.histograms.setShared($("hist-shared").checked);
    $("show-val").onchange = () => { this.output.showVal = $("show-val").checked; this.output.render(); };
    $("show-mc").onchange = () => this.mcUncertainty();
    this.output.options = viewFromHash(location.hash);
    for (const [name, { input }] of Object.entries(VIEW_OPTIONS)) {
      $(input).checked = this.output.options[name];
      $(input).onchange = () => { this.output.setOption(name, $(input).checked); this.saveAddress(); };
    }
    $("draw").onchange = () => {
      this.output.drawMode = $("draw").checked;
      if (this.dataView) this.describeData(this.dataView); // the drawing hint shows while drawing
      this.output.render();
    };
  }
}

// each part's methods become the playground's (they share its state: run, records, charts, ...)
for (const part of [DataPanel, NetworkPanel, RunControl, LiveViews, Scrubber, Baseline, RunsList, Lessons]) {
  for (const name of Object.getOwnPropertyNames(part.prototype)) {
    if (name === "constructor") continue;
    if (name in Playground.prototype) throw new Error(`playground: ${name} defined twice`);
    Object.defineProperty(Playground.prototype, name, Object.getOwnPropertyDescriptor(part.prototype, name));
  }
}

window.playground = new Playground();
window.playground.boot().then(() => initClassroom(window.playground)).catch((e) => {
  document.body.dataset.ready = "error";
  toast(t("msg.nostart", { message: e.message }));
});
