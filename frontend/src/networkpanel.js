// The network panel: the diagram of the configured (or running) network, its layer count label and
// the +/- buttons that change a layer's width or the number of layers.
// Mixed into the Playground class by main.js: `this` is the playground.
import { t } from "./i18n.js";

export class NetworkPanel {
  layersText() {
    const m = this.state.get("model");
    const n = m.hidden.length;
    const dense = t(n === 1 ? "layers.one" : "layers.n", { n });
    const conv = this.state.get("dataset.name") === "digits" && m.arch && m.arch !== "mlp";
    return conv ? t("layers.cnn", { c: (m.conv_channels || []).length, dense }) : dense;
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
}
