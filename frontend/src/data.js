// The data panel of the playground: the data preview (POST /api/data/preview), its summary and
// augmentation samples, drawing points on the output view and loading a CSV as the custom data set.
// Mixed into the Playground class by main.js: `this` is the playground.
import { api } from "./api.js";
import { grayCanvas } from "./canvas.js";
import { $ } from "./dom.js";
import { t } from "./i18n.js";

export class DataPanel {
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
      this.saveAddress();
    }
    const task = d.task === "regression" ? t("data.regression") : t("data.classes", { n: d.n_classes });
    $("data-hint").textContent = t("data.summary", { train: d.n_train, val: d.n_val, task });
    $("fig-score-label").textContent = t(d.task === "regression" ? "fig.r2" : "fig.acc");
    $("score-title").textContent = t(d.task === "regression" ? "chart.r2" : "chart.acc");
    $("show-mc").disabled = false;
    $("draw").disabled = d.input_shape.length !== 1 || d.input_shape[0] !== 2;
    $("discretize").disabled = $("draw").disabled || d.task === "regression"; // hard classes need classes
    $("output-hint").textContent = $("draw").disabled || !$("draw").checked ? "" : t("out.drawhint");
  }

  drawAugPreview(images) {
    const host = $("aug-preview");
    host.replaceChildren();
    for (const img of images || []) host.append(grayCanvas(img));
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
}
