// The network panel: the diagram of the configured (or running) network, its layer count label and
// the +/- buttons that change a layer's width or the number of layers; the input features toggled on
// their nodes, a unit's response shown large in the output view (focus), weights and biases edited
// while paused, and hidden units knocked out of a paused or past epoch's model.
// Mixed into the Playground class by main.js: `this` is the playground.
import { api } from "./api.js";
import { $, fmt, pct } from "./dom.js";
import { t } from "./i18n.js";
import { FEATURES, unitLabel } from "./network.js";

export class NetworkPanel {
  layersText() {
    const m = this.state.get("model");
    const n = m.hidden.length;
    const dense = t(n === 1 ? "layers.one" : "layers.n", { n });
    const conv = this.state.get("dataset.name") === "digits" && m.arch && m.arch !== "mlp";
    return conv ? t("layers.cnn", { c: (m.conv_channels || []).length, dense }) : dense;
  }

  // Points of the plane (generated 2-D sets, two custom columns): whatever the input features, the
  // data view has two raw coordinates (one bounds pair each) and points.
  isPlane(d = this.dataView) {
    return !!(d && d.points && d.bounds && d.bounds.length === 2);
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
    const net = network || this.lastNetwork;
    this.shownNetwork = net;
    // a knock-out belongs to the model on screen: another epoch's diagram (or an edited one) drops it
    if (net !== this.knockNetwork) this.clearKnockout();
    const names = this.featureNames();
    const features = this.isPlane(d) && names.length ? { names, active: this.state.get("preprocessing.features"), bounds: d.bounds } : null;
    const paused = !!(this.run && this.run.status === "paused");
    const note = this.run && this.run.model ? t("net.params", { n: this.run.model.n_params }) : "";
    this.network.render({
      inputs, hidden, outputs, network: net, note, features, regression: !!(d && d.task === "regression"),
      editable: !(layers && layers.some((l) => l.kind === "conv")),
      editing: paused && this.scrubEpoch == null && !!net,
      knockable: !!(net && this.run && this.run.model && hidden.length && (paused || this.scrubEpoch != null
        || this.vocab.isTerminal(this.run.status))),
      knocked: new Set((this.knockout || []).map((u) => `${u.layer}:${u.unit}`)),
      // L1's effect, labelled when L1 is on (the same share is in the epoch record either way)
      zeroFraction: this.state.get("optimizer.l1") > 0 && this.shownRecord() ? this.shownRecord().zero_fraction || null : null,
    });
    if (!this.run) this.network.closeEditor(); // a run resumed elsewhere keeps it: its 409 is shown there
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

  // the catalog's input features (preprocessing.features' choices), in their order
  featureNames() {
    const f = this.catalog.sections.preprocessing && this.catalog.sections.preprocessing.fields.features;
    return ((f && f.items && f.items.choices) || []).filter((n) => FEATURES[n]);
  }

  // the epoch record of the diagram on screen (the scrubbed epoch's, else the latest)
  shownRecord() {
    const r = this.records || [];
    return this.scrubEpoch == null ? r.at(-1) : r.find((x) => x.epoch === this.scrubEpoch);
  }

  // Clicking an input feature's node: on or off in preprocessing.features, as its control would (the
  // URL, the share link, a new network); the last feature in use stays.
  toggleFeature(name) {
    const on = this.state.get("preprocessing.features") || [];
    if (on.includes(name)) {
      if (on.length === 1) return this.toast(t("net.feature_last", { f: FEATURES[name].label }), "info");
      this.state.set("preprocessing.features", on.filter((n) => n !== name));
    } else {
      const order = this.featureNames();
      this.state.set("preprocessing.features", [...on, name].sort((a, b) => order.indexOf(a) - order.indexOf(b)));
    }
  }

  // A unit's response over the plane, large in the output view (the output view's focus API); null: back.
  focusUnit(unit) {
    const out = this.output;
    if (!unit) {
      this.focused = null;
      if (out.clearFocus) out.clearFocus();
      return;
    }
    const net = this.shownNetwork || this.lastNetwork;
    const bounds = (out.bounds && out.bounds()) || (this.dataView && this.dataView.bounds);
    this.focused = {
      values: unit.values, resolution: net ? net.unit_resolution : Math.round(Math.sqrt(unit.values.length)), bounds,
      label: unitLabel(unit.layer, unit.unit),
      min: unit.probability ? 0 : -unit.scale, max: unit.probability ? 1 : unit.scale,
    };
    if (out.focusUnit) out.focusUnit(this.focused);
  }

  // Set one weight ([unit, input]) or bias ([unit]) of the paused run; the diagram shows it at once,
  // the server's weight_edit marker comes back on the stream.
  editWeight({ layer, index, value, label }) {
    this.network.openEditor({
      label, value,
      submit: async (v) => {
        const res = await api(`/api/runs/${this.run.id}/weights`, { method: "POST", body: { layer, index, value: v } });
        const net = structuredClone(this.lastNetwork);
        if (index.length === 2) net.weights[layer][index[0]][index[1]] = res.value;
        else net.biases[layer][index[0]] = res.value;
        this.lastNetwork = net;
        this.drawNetwork(net);
      },
    });
  }

  // every unit back on; the output view gets its own surface back unless another replaced it
  clearKnockout() {
    if (!this.knockNetwork && !(this.knockout || []).length) return;
    if (this.knockBase && this.output.surface === this.knockSurface) this.output.setSurface(this.knockBase);
    this.knockout = [];
    this.knockBase = this.knockSurface = this.knockNetwork = null;
    this.knockSeq = (this.knockSeq || 0) + 1; // an answer still on its way is dropped
    const note = $("knockout-note");
    if (note) note.hidden = true;
  }

  // Knock a hidden unit out (or back in): predict over the output view's grid with those units off, and
  // the validation loss / accuracy with and without them, for the epoch on screen.
  async toggleKnockout(layer, unit) {
    if (!this.run) return;
    const net = this.shownNetwork || this.lastNetwork;
    const before = this.knockout || [];
    const list = before.filter((u) => !(u.layer === layer && u.unit === unit));
    if (list.length === before.length) list.push({ layer, unit });
    if (!list.length) { // all back on: the output view's own surface again
      this.clearKnockout();
      return this.drawNetwork(net);
    }
    if (!before.length) this.knockBase = this.output.surface;
    this.knockout = list;
    this.knockNetwork = net;
    const base = this.knockBase;
    const grid = base && base.bounds && base.resolution ? gridInputs(base.bounds, base.resolution) : [];
    const seq = (this.knockSeq = (this.knockSeq || 0) + 1);
    const predict = (body) => api(`/api/runs/${this.run.id}/predict`, { method: "POST", body: { epoch: this.scrubEpoch, ...body } });
    try {
      const [off, intact] = await Promise.all([predict({ inputs: grid, knockout: list }), predict({ inputs: [] })]);
      if (seq !== this.knockSeq) return;
      this.knockResult = { off, intact, knockout: list };
      this.showKnockout(base, off);
    } catch (e) {
      if (seq !== this.knockSeq) return;
      this.clearKnockout();
      this.showError(e);
    }
    this.drawNetwork(net);
  }

  // the output view with the units off (or back), and "val acc 97% → 81% with fc1·3 off"
  showKnockout(surface, answer) {
    const { off, intact, knockout } = this.knockResult;
    if (surface && answer.mean.length) {
      const m = answer.mean;
      let values, extra = {};
      if (answer.task === "regression") values = m.map((r) => r[0]);
      else if (m[0].length === 2) values = m.map((r) => r[1]);
      else {
        values = m.map((r) => r.indexOf(Math.max(...r)));
        extra = { confidence: m.map((r) => Math.max(...r)) };
      }
      this.knockSurface = { ...surface, values, ...extra, uncertainty: undefined };
      this.output.setSurface(this.knockSurface);
    }
    let note = $("knockout-note");
    if (!note) {
      note = document.createElement("div");
      note.id = "knockout-note";
      note.className = "knockout-note";
      note.setAttribute("role", "status");
      $("output").after(note);
    }
    note.hidden = false;
    const units = knockout.map((u) => unitLabel(u.layer, u.unit)).join(", ");
    const regression = off.val_r2 !== undefined;
    const score = regression ? (v) => fmt(v, 3) : pct;
    note.textContent = t(regression ? "net.ko_r2" : "net.ko_acc", {
      a: score(regression ? intact.val_r2 : intact.val_acc), b: score(regression ? off.val_r2 : off.val_acc),
      la: fmt(intact.val_loss), lb: fmt(off.val_loss), units,
    });
    note.dataset.valLoss = off.val_loss;
    note.dataset.valScore = regression ? off.val_r2 : off.val_acc;
  }
}

// raw (x1, x2) points of the surface's grid: row-major, y rising from the first row (engine telemetry.grid)
function gridInputs([[x0, x1], [y0, y1]], res) {
  const out = [];
  for (let r = 0; r < res; r++) {
    for (let c = 0; c < res; c++) out.push([x0 + ((x1 - x0) * c) / (res - 1), y0 + ((y1 - y0) * r) / (res - 1)]);
  }
  return out;
}
