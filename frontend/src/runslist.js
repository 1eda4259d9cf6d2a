// The runs list (this session's recent runs with their status and scores), opening one of them,
// and the current run's export links.
// Mixed into the Playground class by main.js: `this` is the playground.
import { api } from "./api.js";
import { $, el, fmt, smallButton } from "./dom.js";
import { t } from "./i18n.js";

export class RunsList {
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
        const del = smallButton(t("runs.delete"), async (ev) => {
          ev.stopPropagation();
          try {
            await api(`/api/runs/${r.id}`, { method: "DELETE" });
            if (this.run && this.run.id === r.id) this.detach();
            this.refreshRuns();
          } catch (e) { this.showError(e); }
        });
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
      host.append(el("a", { href: `/api/runs/${this.run.id}/export?format=${f}`, text: f, class: "ghost" }));
    }
  }
}
