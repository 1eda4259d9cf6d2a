// Lessons: the preset chosen (its text, "look at" and "now try"), the claims measured on its run,
// lesson links that hide the sections a lesson does not need, and bringing the named view into view.
// Mixed into the Playground class by main.js: `this` is the playground.
import { api } from "./api.js";
import { $, el, ONE_COLUMN, smallButton } from "./dom.js";
import { lang, t } from "./i18n.js";
import { ConfigState, mergeDeep } from "./state.js";

// Which view each lesson's "look at" sentence names: it is brought into view and highlighted when the
// lesson's run starts. A preset may name its own target (look.target: an element id) instead.
const LOOK_AT = {
  "vanishing-gradients": "card-grad", "relu-he": "card-grad", "zero-init": "network",
  "overfitting-sine": "card-loss", momentum: "card-loss", "batch-norm": "card-hist", "dropout-mc": "output",
  "standardization-wine": "card-loss", "weight-decay": "card-loss", "lr-schedule": "card-lr", "adaptive-lr": "output",
  "augmentation-digits": "aug-preview", "transfer-digits": "card-score",
};

// Sections a link can hide (hide=...): the keys are the ones a teacher's link names.
export const HIDEABLE = {
  data: ".col-data", network: ".col-net", layers: "details:has(#controls-model)", init: "details:has(#controls-init)",
  optimizer: "details:has(#controls-optimizer)", schedule: "details:has(#controls-schedule)",
  training: "details:has(#controls-training)", early_stopping: "details:has(#controls-early_stopping)",
  transfer: "details:has(#controls-transfer)", telemetry: "details.tel", charts: ".charts", runs: ".runs",
};

// The sections a lesson's link hides: those that neither its configuration nor its "now try" sets
// apart from the defaults (the data, the network, the charts always stay). These keys are also the
// configuration's section names.
export function lessonHidden(preset, defaults) {
  const differs = (cfg, k) => cfg && cfg[k] !== undefined && JSON.stringify(cfg[k]) !== JSON.stringify(defaults[k]);
  const used = new Set(Object.keys(defaults).filter((k) => differs(preset.config, k) || differs(preset.try && preset.try.config, k)));
  return ["init", "optimizer", "schedule", "early_stopping", "transfer", "telemetry"].filter((k) => !used.has(k));
}

// The hash of a lesson link ("#c=<config>&lesson=<name>&hide=<sections>"), the playground's own
// format (main.js shareHash), made from the preset alone: the link the teacher's dashboard hands out.
export function lessonHash(preset, defaults) {
  const state = new ConfigState(defaults);
  state.replace(preset.config);
  const h = state.toHash();
  let out = h === "#c=e30" ? "" : h;
  out += `${out ? "&" : "#"}lesson=${encodeURIComponent(preset.name)}`;
  const hidden = lessonHidden(preset, defaults);
  if (hidden.length) out += `&hide=${hidden.join(",")}`;
  return out;
}

export class Lessons {
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
      if (keepConfig) this.saveAddress();
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
    box.replaceChildren(el("b", { text: (l === "es" && p.title_es) || p.title }), p[l] || p.en);
    if (p.look) box.append(el("span", { class: "look", text: `${t("lesson.look")} ${p.look[l] || p.look.en}` }));
    if (p.try) {
      const apply = smallButton(t("lesson.apply"), () => {
        this.state.replace(mergeDeep(structuredClone(this.state.config), p.try.config));
      }, { id: "btn-try" });
      box.append(el("span", { class: "try", text: `${t("lesson.try")} ${p.try[l] || p.try.en}` }, apply));
    }
    if (p.sweep) box.append(smallButton(t("sweep.lesson"), () => this.sweeps.startLesson(p), { id: "btn-lesson-sweep" }));
    const link = smallButton(t("lesson.share"), () => this.shareLesson(),
                             { class: "small lesson-link", id: "btn-lesson-link", title: t("share.lesson") });
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
    const list = el("ul", { class: "claims", id: "lesson-claims", "aria-label": t("lesson.claims") });
    for (const c of results) {
      list.append(el("li", { class: c.holds ? "holds" : "fails", "data-claim": c.id, text: `${c.holds ? "✓" : "✗"} ${c[l] || c.en}`,
                             title: c.holds ? t("lesson.claim_holds") : t("lesson.claim_fails") }));
    }
    box.append(list);
  }

  // A link to this lesson that shows only the sections its configuration and its "now try" touch
  // (the data, the network, the charts always stay): the link a teacher hands out.
  async shareLesson() {
    this.hidden = lessonHidden(this.preset, this.state.defaults);
    this.applyHidden();
    const url = location.origin + location.pathname + this.shareHash();
    history.replaceState(null, "", this.shareHash());
    try { await navigator.clipboard.writeText(url); this.toast(t("msg.linkcopied"), "info"); }
    catch { this.toast(url, "info"); }
  }

  fillPresets() {
    const sel = $("preset");
    for (const o of [...sel.options].slice(1)) o.remove();
    for (const p of this.presets) sel.append(new Option((lang() === "es" && p.title_es) || p.title, p.name));
    if (this.preset) sel.value = this.preset.name;
  }
}
