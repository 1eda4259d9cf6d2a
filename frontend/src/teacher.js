// The teacher dashboard: sign in with the teacher link's secret (read from the URL fragment, which
// the browser never sends to the server, then exchanged for a cookie and removed from the address
// bar), create a room and show its join code, broadcast a run, push a lesson, and watch the
// students' table (a sortable leaderboard) live over /ws/rooms/{code}. Every student-provided string
// is set with textContent.
import { api } from "./api.js";
import { toast } from "./toast.js";

const $ = (id) => document.getElementById(id);
const fmt = (v, d = 4) => (v == null || !Number.isFinite(v) ? "–" : Number(v).toFixed(d));
const pct = (v) => (v == null || !Number.isFinite(v) ? "–" : `${(v * 100).toFixed(1)}%`);


function toggleText(t) {
  if (!t) return "";
  const parts = [t.dataset, `[${(t.hidden || []).join(",")}]`, t.activation, `${t.optimizer} ${t.lr}`];
  if (t.batch_norm) parts.push("BN");
  if (t.dropout) parts.push(`drop ${t.dropout}`);
  if (t.weight_decay) parts.push(`λ ${t.weight_decay}`);
  if (t.early_stopping) parts.push("early stop");
  if (t.n_params != null) parts.push(`${t.n_params} params`);
  return parts.join(" · ");
}

const roomLabel = (code, n) => `${code} · ${n} student${n === 1 ? "" : "s"}`;

class Teacher {
  constructor() {
    this.code = null;
    this.students = [];
    this.sort = { key: "best_val_acc", dir: -1 };
    this.ws = null;
  }

  async boot() {
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
      if (!me.classroom) $("login").textContent = "This server is not in classroom mode: start it with nnplayground serve --classroom.";
      document.body.dataset.ready = "login";
      return;
    }
    this.presets = (await api("/api/presets")).presets;
    for (const id of ["bc-preset", "lesson-preset"]) {
      for (const p of this.presets) $(id).append(new Option(p.title, p.name));
    }
    this.wire();
    await this.loadRooms(localStorage.nnpTeacherRoom);
    document.body.dataset.ready = "1";
  }

  async loadRooms(prefer) {
    const { rooms } = await api("/api/rooms");
    const open = rooms.filter((r) => !r.closed);
    const sel = $("room-select");
    sel.replaceChildren();
    for (const r of open) sel.append(new Option(roomLabel(r.code, r.members), r.code));
    const pick = open.find((r) => r.code === prefer) || open[0];
    this.select(pick ? pick.code : null);
  }

  select(code) {
    if (this.ws) { this.ws.onclose = null; this.ws.close(); }
    this.ws = null;
    this.code = code;
    this.students = [];
    this.render();
    $("room-code").textContent = code || "——————";
    $("room-select").value = code || "";
    $("btn-close-room").disabled = !code;
    $("projector-link").href = code ? `/?room=${code}` : "/";
    const hint = $("join-hint");
    hint.hidden = !code;
    if (code) {
      // what to put on the projector: where students go and what they type (the host as the teacher sees it)
      hint.replaceChildren("Students: open ", Object.assign(document.createElement("b"), { textContent: `${location.origin}/` }),
        " and join with the code ", Object.assign(document.createElement("b"), { textContent: code }), ".");
    }
    if (!code) { $("showing").textContent = "Create a room to start."; return; }
    localStorage.nnpTeacherRoom = code;
    this.connect(code);
  }

  connect(code) {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = (this.ws = new WebSocket(`${proto}://${location.host}/ws/rooms/${code}`));
    ws.onmessage = (m) => this.onMessage(JSON.parse(m.data));
    ws.onclose = () => {
      if (this.ws === ws && this.code === code) setTimeout(() => this.code === code && this.connect(code), 1000);
    };
  }

  onMessage(m) {
    if (m.type === "room") this.showShowing(m.room.showing);
    else if (m.type === "students") {
      this.students = m.students;
      const opt = [...$("room-select").options].find((o) => o.value === this.code);
      if (opt) opt.textContent = roomLabel(this.code, m.students.length);  // the count at load time goes stale
      this.render();
    }
    else if (m.type === "broadcast" || m.type === "spotlight") this.showShowing(m.run_id ? m : null);
    else if (m.type === "closed") { toast(`Room ${m.room} is closed.`, "info"); this.loadRooms(); }
    else if (m.type === "error") toast(m.message);
  }

  showShowing(s) {
    this.showingRun = s ? s.run_id : null;
    $("showing").textContent = !s ? "Nothing is shown to the room."
      : s.kind === "spotlight" || s.type === "spotlight" ? `Spotlight on ${s.name || "a student"}'s run ${s.run_id}.`
      : `Broadcasting run ${s.run_id}.`;
    this.render();
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
      const cells = [s.name, s.online ? "●" : "○", r ? r.status.replace("_", " ") : "no run yet",
        r ? `${r.epoch}/${r.epochs}` : "–", r ? fmt(r.val_loss) : "–", r ? pct(r.val_acc) : "–", pct(s.best_val_acc)];
      for (const v of cells) tr.insertCell().textContent = v;
      const tg = tr.insertCell();
      tg.className = "toggles";
      tg.textContent = r ? toggleText(r.toggles) : "";
      const act = tr.insertCell();
      if (r) {
        const spot = document.createElement("button");
        spot.className = "small";
        spot.textContent = "spotlight";
        spot.onclick = () => this.show("spotlight", r.id);
        act.append(spot);
        if (["queued", "running", "paused"].includes(r.status)) {
          const stop = document.createElement("button");
          stop.className = "small";
          stop.textContent = "stop";
          stop.onclick = () => api(`/api/runs/${r.id}/stop`, { method: "POST" }).catch((e) => toast(e.message));
          act.append(stop);
        }
      }
    }
    $("student-count").textContent = `${this.students.length} students, ${this.students.filter((s) => s.online).length} online`;
  }

  async show(kind, runId) {
    if (!this.code) return toast("Create a room first.");
    try {
      await api(`/api/rooms/${this.code}/${kind}`, { method: "POST", body: { run_id: runId } });
    } catch (e) { toast(e.message); }
  }

  async startBroadcast() {
    if (!this.code) return toast("Create a room first.");
    try {
      const preset = await api(`/api/presets/${$("bc-preset").value}`);
      const run = await api(`/api/runs?speed=${$("bc-speed").value}`, { method: "POST", body: preset.config });
      $("bc-run").value = run.id;
      await this.show("broadcast", run.id);
    } catch (e) { toast(e.message); }
  }

  async push() {
    if (!this.code) return toast("Create a room first.");
    const body = { preset: $("lesson-preset").value || null, title: $("lesson-title").value || null,
                   text: $("lesson-text").value || null };
    const raw = $("lesson-config").value.trim();
    if (raw) {
      try { body.config = JSON.parse(raw); } catch { return toast("The configuration is not valid JSON."); }
    }
    try {
      await api(`/api/rooms/${this.code}/lesson`, { method: "POST", body });
      toast("Lesson pushed to every student.", "info");
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
      if (!this.code || !confirm(`Close room ${this.code}? Students leave it.`)) return;
      try { await api(`/api/rooms/${this.code}/close`, { method: "POST" }); } catch (e) { toast(e.message); }
      this.loadRooms();
    };
    $("btn-start-broadcast").onclick = () => this.startBroadcast();
    $("btn-broadcast").onclick = () => $("bc-run").value.trim() && this.show("broadcast", $("bc-run").value.trim());
    $("btn-unbroadcast").onclick = () => this.show("broadcast", null);
    $("btn-push").onclick = () => this.push();
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
  toast(`The dashboard could not start: ${e.message}`);
});
