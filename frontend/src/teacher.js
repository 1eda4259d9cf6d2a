// The teacher dashboard: sign in with the teacher link's secret (read from the URL fragment, which
// the browser never sends to the server, then exchanged for a cookie and removed from the address
// bar), create a room and show its join code, broadcast a run, push a lesson, and watch the
// students' table (a sortable leaderboard) live over /ws/rooms/{code}. Every student-provided string
// is set with textContent.
import { api, loadVocabulary, roomSocket } from "./api.js";
import { $, el, fmt, pct, smallButton } from "./dom.js";
import { applyI18n, lang, setLang, t } from "./i18n.js";
import { lessonHash } from "./lesson.js";
import { toast } from "./toast.js";

function toggleText(k) {
  if (!k) return "";
  const parts = [k.dataset, `[${(k.hidden || []).join(",")}]`, k.activation, `${k.optimizer} ${k.lr}`];
  if (k.batch_norm) parts.push("BN");
  if (k.dropout) parts.push(`drop ${k.dropout}`);
  if (k.weight_decay) parts.push(`λ ${k.weight_decay}`);
  if (k.early_stopping) parts.push("early stop");
  if (k.transfer) parts.push(t("t.transferred")); // started from another model's weights
  if (k.n_params != null) parts.push(t("net.params", { n: k.n_params }));
  return parts.join(" · ");
}

const roomLabel = (code, n) => t(n === 1 ? "t.room_1" : "t.room_n", { code, n });

class Teacher {
  constructor() {
    this.code = null;
    this.students = [];
    this.sort = { key: "best_val_acc", dir: -1 };
    this.socket = null;
    this.members = {}; // room code -> students, for the room picker
  }

  async boot() {
    $("btn-lang").textContent = lang().toUpperCase();
    applyI18n();
    const m = /[#&]key=([^&]+)/.exec(location.hash);
    if (m) {
      history.replaceState(null, "", location.pathname); // the secret leaves the address bar at once
      try {
        await api("/api/teacher/login", { method: "POST", headers: { Authorization: `Bearer ${decodeURIComponent(m[1])}` } });
      } catch (e) {
        toast(e.message);
      }
    }
    const me = await api("/api/me");
    if (!me.classroom || !me.teacher) {
      $("login").hidden = false;
      if (!me.classroom) $("login").textContent = t("t.not_classroom");
      document.body.dataset.ready = "login";
      return;
    }
    this.presets = (await api("/api/presets")).presets;
    this.vocab = await loadVocabulary(); // run statuses and control actions, from the catalog
    this.fillPresets();
    this.wire();
    await this.loadRooms(localStorage.nnpTeacherRoom);
    document.body.dataset.ready = "1";
  }

  fillPresets() {
    for (const id of ["bc-preset", "lesson-preset"]) {
      const sel = $(id), keep = sel.value;
      for (const o of [...sel.options].filter((o) => o.value)) o.remove();
      for (const p of this.presets) sel.append(new Option((lang() === "es" && p.title_es) || p.title, p.name));
      sel.value = keep;
    }
  }

  relabel() { // after a language switch
    $("btn-lang").textContent = lang().toUpperCase();
    applyI18n();
    this.fillPresets();
    for (const o of $("room-select").options) o.textContent = roomLabel(o.value, this.members[o.value] ?? 0);
    this.hint();
    this.showShowing(this.showingState);
  }

  hint() {
    const hint = $("join-hint");
    hint.hidden = !this.code;
    // what to put on the projector: where students go and what they type (the host as the teacher sees it)
    if (this.code) {
      hint.replaceChildren(t("t.hint1"), el("b", { text: `${location.origin}/` }), t("t.hint2"), el("b", { text: this.code }),
                           t("t.hint3"));
    }
  }

  async loadRooms(prefer) {
    const { rooms } = await api("/api/rooms");
    const open = rooms.filter((r) => !r.closed);
    const sel = $("room-select");
    sel.replaceChildren();
    this.members = Object.fromEntries(open.map((r) => [r.code, r.members]));
    for (const r of open) sel.append(new Option(roomLabel(r.code, r.members), r.code));
    const pick = open.find((r) => r.code === prefer) || open[0];
    this.select(pick ? pick.code : null);
  }

  select(code) {
    if (this.socket) this.socket.close();
    this.socket = null;
    this.code = code;
    this.students = [];
    this.render();
    $("room-code").textContent = code || "——————";
    $("room-select").value = code || "";
    $("btn-close-room").disabled = !code;
    $("projector-link").href = code ? `/?room=${code}` : "/";
    this.hint();
    if (!code) { this.showShowing(null); return; }
    localStorage.nnpTeacherRoom = code;
    this.connect(code);
  }

  connect(code) {
    this.socket = roomSocket(code, { message: (m) => this.onMessage(m) });
  }

  onMessage(m) {
    if (m.type === "room") this.showShowing(m.room.showing);
    else if (m.type === "students") {
      this.students = m.students;
      const opt = [...$("room-select").options].find((o) => o.value === this.code);
      this.members[this.code] = m.students.length;  // the count at load time goes stale
      if (opt) opt.textContent = roomLabel(this.code, m.students.length);
      this.render();
    }
    else if (m.type === "broadcast" || m.type === "spotlight") this.showShowing(m.run_id ? m : null);
    else if (m.type === "closed") { toast(t("t.room_closed", { code: m.room }), "info"); this.loadRooms(); }
    else if (m.type === "error") toast(m.message);
  }

  showShowing(s) {
    this.showingState = s;
    this.showingRun = s ? s.run_id : null;
    clearTimeout(this.showingTimer);
    $("showing-run").textContent = "";
    if (!this.code) { $("showing").textContent = t("t.create_start"); return; }
    const preset = s && s.preset && this.presets.find((p) => p.name === s.preset);
    const title = s && (s.title || (preset && ((lang() === "es" && preset.title_es) || preset.title)));
    $("showing").textContent = !s ? t("t.nothing")
      : s.kind === "spotlight" || s.type === "spotlight" ? t("t.spotlight_on", { name: s.name || t("room.a_student"), id: s.run_id })
      : title ? t("t.broadcasting_lesson", { title, id: s.run_id }) : t("t.broadcasting", { id: s.run_id });
    this.render();
    if (s) this.showProgress(s.run_id);
  }

  // the run shown to the room, as it trains (a broadcast run is no student's, so no table row has it)
  async showProgress(runId) {
    if (this.showingRun !== runId) return;
    let r = null;
    try { r = await api(`/api/runs/${runId}`); } catch { /* deleted: the line says what is shown */ }
    if (this.showingRun !== runId) return;
    const best = r && r.summary ? r.summary.best_val_loss : null;
    const line = r ? t("t.bc_progress", { status: t(`status.${r.status}`), epoch: r.epochs_run ?? 0, epochs: r.epochs,
                                         loss: fmt(best) }) : "";
    $("showing-run").textContent = line;
    if (r && this.vocab.isActive(r.status)) {
      this.showingTimer = setTimeout(() => this.showProgress(runId), 2000);
    }
  }

  value(s, key) {
    const r = s.run || {};
    switch (key) {
      case "name": return s.name.toLowerCase();
      case "online": return s.online ? 1 : 0;
      case "status": return r.status || "";
      case "epoch": return r.epoch ?? -1;
      case "val_loss": return r.val_loss ?? Infinity * this.sort.dir;
      case "val_acc": return r.val_acc ?? -1;
      case "best_val_acc": return s.best_val_acc ?? -1;
      case "toggles": return toggleText(r.toggles);
      default: return 0;
    }
  }

  render() {
    const body = $("students").querySelector("tbody");
    body.replaceChildren();
    const { key, dir } = this.sort;
    const rows = [...this.students].sort((a, b) => {
      const x = this.value(a, key), y = this.value(b, key);
      return (x < y ? -1 : x > y ? 1 : 0) * dir;
    });
    for (const th of $("students").querySelectorAll("th[data-key]")) {
      th.className = th.dataset.key === key ? (dir > 0 ? "sorted-asc" : "sorted-desc") : "";
    }
    for (const s of rows) {
      const r = s.run;
      const tr = body.insertRow();
      tr.dataset.member = s.member;
      tr.className = `${s.online ? "" : "offline"} ${r && r.id === this.showingRun ? "showing" : ""}`;
      const cells = [s.name, s.online ? "●" : "○", r ? t(`status.${r.status}`) : t("t.no_run"),
        r ? `${r.epoch}/${r.epochs}` : "–", r ? fmt(r.val_loss) : "–", r ? pct(r.val_acc) : "–", pct(s.best_val_acc)];
      for (const v of cells) tr.insertCell().textContent = v;
      const tg = tr.insertCell();
      tg.className = "toggles";
      tg.textContent = r ? toggleText(r.toggles) : "";
      const act = tr.insertCell();
      if (r) {
        act.append(smallButton(t("t.spot"), () => this.show("spotlight", r.id)));
        if (this.vocab.allows("stop", r.status)) {
          act.append(smallButton(t("t.stop"), () => api(`/api/runs/${r.id}/stop`, { method: "POST" }).catch((e) => toast(e.message))));
        }
      }
      act.append(
        smallButton(t("t.stop_all"), () => this.member(s, "stop"), { "data-action": "stop-all", title: t("t.stop_all_title", { name: s.name }) }),
        smallButton(t("t.remove"), () => confirm(t("t.remove_confirm", { name: s.name, code: this.code })) && this.member(s, "remove"),
                    { class: "small danger", "data-action": "remove" }),
      );
    }
    $("student-count").textContent = t("t.count", { n: this.students.length, online: this.students.filter((s) => s.online).length });
  }

  async member(s, what) { // stop every run of a member, or remove them from the room (and stop their runs)
    const path = `/api/rooms/${this.code}/members/${s.member}`;
    try {
      const out = what === "remove" ? await api(path, { method: "DELETE" }) : await api(`${path}/stop`, { method: "POST" });
      toast(t(what === "remove" ? "t.removed" : "t.stopped_all", { name: s.name, n: out.stopped.length }), "info");
    } catch (e) { toast(e.message); }
  }

  async show(kind, runId, lesson = {}) {
    if (!this.code) return toast(t("t.create_first"));
    try {
      await api(`/api/rooms/${this.code}/${kind}`, { method: "POST", body: { run_id: runId, ...lesson } });
    } catch (e) { toast(e.message); }
  }

  async startBroadcast() {
    if (!this.code) return toast(t("t.create_first"));
    try {
      const preset = await api(`/api/presets/${$("bc-preset").value}`);
      const run = await api(`/api/runs?speed=${$("bc-speed").value}`, { method: "POST", body: preset.config });
      $("bc-run").value = run.id;
      await this.show("broadcast", run.id, { preset: preset.name });
    } catch (e) { toast(e.message); }
  }

  // A link to the chosen preset that opens it with only the controls it needs (the playground's own
  // "Share this lesson" link), shown to copy or hand out.
  async lessonLink() {
    const name = $("lesson-preset").value;
    if (!name) return toast(t("t.pick_preset"));
    try {
      const [preset, catalog] = await Promise.all([api(`/api/presets/${name}`), api("/api/catalog")]);
      $("lesson-link").value = `${location.origin}/${lessonHash(preset, catalog.defaults)}`;
      $("lesson-link").hidden = $("btn-copy-lesson-link").hidden = false;
    } catch (e) { toast(e.message); }
  }

  async copyLessonLink() {
    try { await navigator.clipboard.writeText($("lesson-link").value); toast(t("t.link_copied"), "info"); }
    catch { $("lesson-link").select(); } // no clipboard (plain http): selected, for Ctrl+C
  }

  async push() {
    if (!this.code) return toast(t("t.create_first"));
    const body = { preset: $("lesson-preset").value || null, title: $("lesson-title").value || null,
                   text: $("lesson-text").value || null };
    const raw = $("lesson-config").value.trim();
    if (raw) {
      try { body.config = JSON.parse(raw); } catch { return toast(t("t.bad_json")); }
    }
    try {
      await api(`/api/rooms/${this.code}/lesson`, { method: "POST", body });
      toast(t("t.pushed"), "info");
    } catch (e) { toast(e.message); }
  }

  wire() {
    $("btn-new-room").onclick = async () => {
      try {
        const room = await api("/api/rooms", { method: "POST" });
        await this.loadRooms(room.code);
      } catch (e) { toast(e.message); }
    };
    $("room-select").onchange = () => this.select($("room-select").value);
    $("btn-close-room").onclick = async () => {
      if (!this.code || !confirm(t("t.close_confirm", { code: this.code }))) return;
      try { await api(`/api/rooms/${this.code}/close`, { method: "POST" }); } catch (e) { toast(e.message); }
      this.loadRooms();
    };
    $("btn-start-broadcast").onclick = () => this.startBroadcast();
    $("btn-broadcast").onclick = () => $("bc-run").value.trim() && this.show("broadcast", $("bc-run").value.trim());
    $("btn-unbroadcast").onclick = () => this.show("broadcast", null);
    $("btn-push").onclick = () => this.push();
    $("btn-lesson-link").onclick = () => this.lessonLink();
    $("btn-copy-lesson-link").onclick = () => this.copyLessonLink();
    // another preset: the old link no longer matches it
    $("lesson-preset").addEventListener("change", () => { $("lesson-link").hidden = $("btn-copy-lesson-link").hidden = true; });
    $("btn-lang").onclick = () => {
      setLang(lang() === "en" ? "es" : "en");
      this.relabel();
      this.render();
    };
    for (const th of $("students").querySelectorAll("th[data-key]")) {
      th.onclick = () => {
        const key = th.dataset.key;
        this.sort = { key, dir: this.sort.key === key ? -this.sort.dir : key === "name" ? 1 : -1 };
        this.render();
      };
    }
  }
}

window.teacher = new Teacher();
window.teacher.boot().catch((e) => {
  document.body.dataset.ready = "error";
  toast(t("t.failed", { message: e.message }));
});
