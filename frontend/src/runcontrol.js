// Run control: start a run from the configuration on screen, pause / resume / step / stop it, its
// speed, and the status pill and transport buttons that follow the run's status.
// Mixed into the Playground class by main.js: `this` is the playground. Which action a status allows
// is the server's rule, read from the catalog (this.vocab, api.js).
import { api, RunStream } from "./api.js";
import { $ } from "./dom.js";
import { t } from "./i18n.js";

const SPEEDS = [0, 1, 2, 5, 10, 20, 50]; // epochs/s; 0 = as fast as possible
// the runs this browser starts carry its id: their owner when there is no classroom token
const clientId = localStorage.nnpClient || (localStorage.nnpClient = Math.random().toString(36).slice(2));

// "continue from here" runs start at their source's epoch: their charts and counter go on from there
function epochOffset(config) {
  const tr = config && config.transfer;
  return tr && tr.strategy === "continue" && tr.epoch != null ? tr.epoch : 0;
}

export class RunControl {
  abandonRun() {
    // A new configuration means a new network (as in TensorFlow Playground); the old run stays
    // in the runs list, and an unfinished one is stopped so it does not hold a worker.
    if (this.run && this.vocab.allows("stop", this.run.status)) api(`/api/runs/${this.run.id}/stop`, { method: "POST" }).catch(() => {});
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
    if (!this.run || this.vocab.isTerminal(this.run.status)) return this.start();
    if (this.run.status === "running") return this.control("pause");
    if (this.run.status === "paused") return this.control("resume");
  }

  step() {
    if (this.watching && window.classroom) return window.classroom.ownRun({ paused: true });
    if (!this.run || this.vocab.isTerminal(this.run.status)) return this.start({ paused: true });
    if (this.run.status === "running") return this.control("pause");
    if (this.vocab.allows("step", this.run.status)) return this.control("step");
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
    if (this.run && this.vocab.isTerminal(this.run.status) && !this.vocab.isTerminal(status)) return;
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
    $("btn-stop").disabled = !this.vocab.allows("stop", status);
    if ((status === "diverged" || status === "failed") && message) this.toast(message);
    if (this.network) this.drawNetwork(); // paused: weights editable, units knockable
  }

  // A run that "completed" with a validation loss far above where it started did not learn: the
  // learning rate is the usual cause (gauss at LR 10 ends near 10^6). Said in the status and a toast.
  blewUp() {
    const r = this.records || [];
    if (r.length < 2) return false;
    const first = r[0].val_loss, last = r.at(-1).val_loss;
    return !Number.isFinite(last) || (Number.isFinite(first) && last > 10 * Math.max(first, 1e-3));
  }

  // the transport buttons, the speed slider and the keys (space: play/pause, s: one epoch, r: reset)
  wireRunControl() {
    $("btn-play").onclick = () => this.playPause();
    $("btn-step").onclick = () => this.step();
    $("btn-stop").onclick = () => this.control("stop");
    $("btn-reset").onclick = () => this.abandonRun();
    $("speed").oninput = () => {
      const v = SPEEDS[Number($("speed").value)];
      $("speed-label").textContent = v ? `${v}/s` : t("top.max");
    };
    $("speed").onchange = () => {
      if (this.run && this.vocab.allows("speed", this.run.status)) {
        api(`/api/runs/${this.run.id}/speed`, { method: "POST", body: { epochs_per_second: SPEEDS[Number($("speed").value)] } })
          .catch((e) => this.showError(e));
      }
    };
    document.addEventListener("keydown", (ev) => {
      if (["INPUT", "SELECT", "TEXTAREA"].includes(ev.target.tagName)) return;
      if (ev.key === " ") { ev.preventDefault(); this.playPause(); }
      else if (ev.key === "s") this.step();
      else if (ev.key === "r") this.abandonRun();
    });
  }
}
