// The epoch scrubber: look back at any kept epoch (its figures, output view, diagram and histograms,
// the charts marked there), continue a new run from that epoch's checkpoint, and the MC-dropout
// uncertainty of the epoch on screen.
// Mixed into the Playground class by main.js: `this` is the playground.
import { api } from "./api.js";
import { $ } from "./dom.js";
import { t } from "./i18n.js";

export class Scrubber {
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
    this.saveAddress();
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

  wireScrubber() {
    $("scrubber").oninput = () => {
      const e = Number($("scrubber").value);
      this.scrubTo(e === Number($("scrubber").max) && this.run && this.vocab.isActive(this.run.status) ? null : e);
    };
    $("btn-restore").onclick = () => this.continueFrom(this.scrubEpoch);
    $("btn-live").onclick = () => { $("scrubber").value = $("scrubber").max; this.scrubTo(null); };
  }
}
