// DOM helpers shared by the pages. Every user- or server-provided string goes in as text
// (textContent), never as HTML.

export const $ = (id) => document.getElementById(id);

// The page's two layouts (static/css/app.css): one column at <= 900 px, a phone at <= 640 px
export const ONE_COLUMN = matchMedia("(max-width: 900px)");
export const PHONE = matchMedia("(max-width: 640px)");

// el("button", {class: "small", text: "Go", onclick: fn, "data-x": 1}, child, ...): attributes are
// set as attributes, except `class`, `text` (the text content) and on* handlers (properties).
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

// A small button, the kind the run and student tables and the lesson box carry.
export function smallButton(text, onclick, attrs = {}) {
  return el("button", { class: "small", text, onclick, ...attrs });
}

// A number with d decimals, or "–" for a missing or non-finite value
export const fmt = (v, d = 4) => (v == null || !Number.isFinite(v) ? "–" : Number(v).toFixed(d));
export const pct = (v) => (v == null || !Number.isFinite(v) ? "–" : `${(v * 100).toFixed(1)}%`);
