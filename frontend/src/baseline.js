// The baseline comparison: a pinned run's loss and score curves stay on the charts, dashed, under
// the runs that follow.
// Mixed into the Playground class by main.js: `this` is the playground.
import { $ } from "./dom.js";
import { t } from "./i18n.js";
import { COLORS } from "./theme.js";

export class Baseline {
  lossSeries() {
    return [
      { label: t("chart.train"), color: COLORS.orange },
      { label: t("chart.validation"), color: COLORS.blue },
      { label: t("chart.penalty"), color: COLORS.grey, dash: [4, 4] },
    ];
  }

  scoreSeries() {
    return [{ label: t("chart.train"), color: COLORS.orange }, { label: t("chart.validation"), color: COLORS.blue }];
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
    const series = () => [dashed("chart.train", COLORS.orangeLight), dashed("chart.validation", COLORS.blueLight)];
    this.charts.loss.setBaseline({ x: b.x, ys: b.loss, series: series() });
    this.charts.score.setBaseline({ x: b.x, ys: b.score, series: series() });
  }
}
