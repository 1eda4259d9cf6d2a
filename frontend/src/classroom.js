// Classroom mode on the student's page: a "join room" box in the header, then the room's live
// events: follow the run the teacher broadcasts (or spotlights), apply the lessons the teacher
// pushes, and leave when the room closes. A reconnecting laptop is back in its room (the server
// keeps the membership under this browser's client cookie). Every user string is set as text.
//
// main.js calls initClassroom(playground) once the playground has booted. It uses the playground's
// own methods: detach(), open(runId), choosePreset(name), state.replace(config), showLesson(), toast().
import { api, roomSocket } from "./api.js";
import { $, el } from "./dom.js";
import { lang, t } from "./i18n.js";
import { mergeDeep } from "./state.js";

export class Classroom {
  constructor(pg) {
    this.pg = pg;
    this.socket = null;
    this.code = null;
  }

  async init() {
    let me;
    try { me = await api("/api/me"); } catch { return; }
    if (!me.classroom) return;
    this.me = me;
    this.box = el("div", { id: "classroom", class: "classroom", "aria-label": t("aria.classroom"), "data-i18n-aria": "aria.classroom" });
    this.banner = el("div", { id: "classroom-showing", class: "classroom-showing", hidden: "" });
    const spacer = document.querySelector(".topbar .spacer");
    spacer.parentNode.insertBefore(this.box, spacer);
    document.querySelector(".topbar").after(this.banner);
    const projector = new URLSearchParams(location.search).get("room");
    if (me.teacher && projector) {
      this.enter(projector.toUpperCase(), "projector");
    } else if (me.room) {
      this.enter(me.room, me.name);
    } else {
      this.joinForm();
    }
  }

  joinForm(message) {
    this.box.replaceChildren();
    const code = el("input", { id: "room-code", placeholder: t("room.code"), "data-i18n-placeholder": "room.code",
                               maxlength: "6", size: "7",
                               autocomplete: "off", "aria-label": t("aria.code"), "data-i18n-aria": "aria.code" });
    const name = el("input", { id: "room-name", placeholder: t("room.name"), "data-i18n-placeholder": "room.name",
                               maxlength: "32", size: "12",
                               "aria-label": t("aria.name"), "data-i18n-aria": "aria.name" });
    name.value = localStorage.nnpName || "";
    const join = el("button", { id: "btn-join", class: "small", text: t("room.join"), "data-i18n": "room.join" });
    const form = el("form", { class: "join" }, code, name, join);
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      try {
        const out = await api(`/api/rooms/${encodeURIComponent(code.value.trim().toUpperCase())}/join`,
                              { method: "POST", body: { name: name.value } });
        localStorage.nnpName = out.name;
        this.enter(out.room.code, out.name);
      } catch (e) {
        this.pg.toast(e.message);
      }
    };
    this.box.append(form);
    if (message) this.pg.toast(message, "info");
  }

  enter(code, name) {
    this.code = code;
    this.box.replaceChildren();
    const who = name === "projector" ? "projector" : name;
    const label = el("span", { class: "room-label", id: "room-label" });
    label.append(el("span", { class: "label", text: t("room.label"), "data-i18n": "room.label" }), el("b", { text: code }),
                 el("span", { class: "room-name", text: who || "" }));
    this.box.append(label);
    if (name !== "projector") {
      const leave = el("button", { class: "ghost small", id: "btn-leave", text: t("room.leave"), "data-i18n": "room.leave" });
      leave.onclick = async () => {
        try { await api(`/api/rooms/${code}/leave`, { method: "POST" }); } catch { /* gone already */ }
        this.leave();
        this.joinForm();
      };
      this.box.append(leave);
    }
    this.connect();
  }

  leave() {
    if (this.socket) this.socket.close();
    this.socket = null;
    this.code = null;
    this.showBanner(null);
  }

  connect() {
    if (this.socket) this.socket.close();
    this.socket = roomSocket(this.code, { message: (m) => this.onMessage(m) });
  }

  onMessage(m) {
    switch (m.type) {
      case "room": {
        const { showing, lesson } = m.room;
        const lessonNew = lesson && lesson.seq > this.seenLesson();
        // apply whichever came last: what the teacher shows, or the lesson
        if (lessonNew && (!showing || lesson.at > showing.at)) this.applyLesson(lesson);
        else {
          if (lessonNew) this.markLesson(lesson);
          if (showing) this.follow(showing);
        }
        break;
      }
      case "broadcast":
      case "spotlight":
        this.follow(m.run_id ? { run_id: m.run_id, kind: m.type, name: m.name, preset: m.preset, title: m.title, sweep_id: m.sweep_id } : null);
        break;
      case "lesson": this.applyLesson(m.lesson); break;
      case "closed":
        this.leave();
        this.joinForm(t("room.closed"));
        break;
      case "error":
        if (m.status === 403 || m.status === 404) { this.leave(); this.joinForm(m.message); }
        break;
      default: break;
    }
  }

  // Following the room's run replaces the page's settings with the run's; the student's own settings
  // (and own run) are kept and come back when the showing ends or when the student presses ▶.
  async follow(showing) {
    this.showBanner(showing);
    const pg = this.pg;
    // a broadcast sweep: its small multiples over the page (sweep.js), the first variant underneath
    if (showing && showing.sweep_id) pg.sweeps.watch(showing.sweep_id).catch((e) => pg.showError(e));
    else pg.sweeps.unwatch();
    if (!showing) { await this.restoreOwn(); return; }
    if (pg.run && pg.run.id === showing.run_id) { pg.watching = showing.run_id; return; }
    if (!this.saved) {
      this.saved = { config: structuredClone(pg.state.config), run: pg.run && !pg.watching ? pg.run.id : null };
    }
    pg.detach(); // not abandonRun(): following must not stop the student's own run
    await pg.open(showing.run_id);
    if (this.showing && this.showing.run_id === showing.run_id) pg.watching = showing.run_id;
  }

  async restoreOwn() {
    const saved = this.saved;
    this.saved = null;
    if (!saved) return;
    const pg = this.pg;
    pg.detach();
    pg.state.replace(saved.config);
    if (saved.run) {
      try { pg.attach(await api(`/api/runs/${saved.run}`)); } catch { /* deleted meanwhile: settings only */ }
    }
  }

  // ▶ (or +1) while following: back to the student's own settings and run; a new run when there is
  // none to go on with. The banner stays, the room's run is still on.
  async ownRun({ paused = false } = {}) {
    const pg = this.pg;
    await this.restoreOwn();
    pg.watching = null;
    if (!pg.run || !pg.vocab.isActive(pg.run.status)) {
      return pg.start({ paused });
    }
    if (pg.run.status === "paused" && !paused) return pg.control("resume");
  }

  lessonTitle(showing) {
    if (showing.title) return showing.title;
    const p = showing.preset && (this.pg.presets || []).find((q) => q.name === showing.preset);
    return p ? (lang() === "es" && p.title_es) || p.title : null;
  }

  showBanner(showing) {
    const b = this.banner;
    if (!b) return;
    this.showing = showing;
    b.replaceChildren();
    if (!showing) { b.hidden = true; return; }
    const who = showing.kind === "spotlight" ? t("room.spotlight", { name: showing.name || t("room.a_student") })
      : t("room.teacher_run");
    const title = this.lessonTitle(showing);
    b.append(el("b", { text: who }),
             el("span", { text: title ? t("room.following_lesson", { title }) : t("room.following_plain") }));
    b.hidden = false;
  }

  relabel() { // after a language switch; the fixed labels carry data-i18n and applyI18n() did them
    if (this.banner) this.showBanner(this.showing);
  }

  seenLesson() {
    return Number(localStorage[`nnpLesson:${this.code}`] || 0);
  }

  markLesson(lesson) {
    localStorage[`nnpLesson:${this.code}`] = String(lesson.seq);
  }

  async applyLesson(lesson) {
    this.markLesson(lesson);
    this.showBanner(null);
    this.pg.detach();
    if (lesson.preset) {
      const sel = $("preset");
      if (sel) sel.value = lesson.preset;
      await this.pg.choosePreset(lesson.preset);
      if (lesson.config) this.pg.state.replace(mergeDeep(structuredClone(this.pg.preset.config), lesson.config));
    } else if (lesson.config) {
      this.pg.state.replace(lesson.config);
    }
    if (lesson.title || lesson.text) {
      // the teacher's own words, in whichever language the page is in (they override the preset's both)
      const p = { ...(this.pg.preset || {}) };
      if (lesson.title) p.title = p.title_es = lesson.title;
      else if (!lesson.preset) p.title = p.title_es = t("room.lesson_title");
      if (lesson.text) p.en = p.es = lesson.text;
      this.pg.preset = p;
      this.pg.showLesson();
    }
    const preset = lesson.preset && (this.pg.presets || []).find((q) => q.name === lesson.preset);
    const presetTitle = preset ? (lang() === "es" && preset.title_es) || preset.title : lesson.preset;
    this.pg.toast(t("room.lesson", { title: lesson.title || presetTitle || t("room.config") }), "info");
  }
}

export function initClassroom(pg) {
  const c = new Classroom(pg);
  window.classroom = c;
  c.init().catch((e) => console.warn("classroom:", e));
  return c;
}
