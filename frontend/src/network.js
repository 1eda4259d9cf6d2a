// The network diagram: one column per layer, a node per unit with a thumbnail of that unit's output
// over the input (a heat map over the plane for 2-D data, a curve over x for 1-D regression; output
// units show their class's probability or the fitted curve), and links coloured by the weight's sign
// (orange < 0 < blue) with a width that grows with its magnitude, refreshed live as in TensorFlow
// Playground. A wide layer shows its first 16 units and "… N more" (the server sends those only).
// The +/- under each hidden column changes its width.
// For points of the plane the input column holds every input feature (x₁, x₂, x₁², …) with its own
// thumbnail, the features in use solid and the others faded; clicking one toggles it. Hovering (or
// tapping) a unit focuses it; a shift/alt-click (or a long press, or a click in knock-out mode) on a
// hidden unit knocks it out; while the run is paused a click on a link or on a unit's bias square
// (bottom left of the node) edits that weight. Links whose |w| is under ZERO are drawn dotted.
import { paintGrid } from "./canvas.js";
import { t } from "./i18n.js";
import { COLORS, probColor } from "./theme.js";

const NODE = 34;
const GAP = 12;
const MAX_COL = 118;
const MAX_DRAWN = 16;
const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

// A unit's output over the plane; `probability`: values are already in [0, 1] (output units).
function thumbnail(values, res, scale, probability) {
  const c = document.createElement("canvas");
  c.width = c.height = NODE * 2;
  const color = probability ? (v) => probColor(v ?? 0.5)
    : (v) => probColor(0.5 + 0.5 * Math.max(-1, Math.min(1, (v ?? 0) / scale)));
  paintGrid(c.getContext("2d"), values, res, NODE * 2, NODE * 2, color);
  return c.toDataURL();
}

// A unit's response over x (1-D regression): a line on the layer's common scale, with the zero line.
function curveThumbnail(values, scale) {
  const c = document.createElement("canvas");
  const S = NODE * 2;
  c.width = c.height = S;
  const ctx = c.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, S, S);
  const y = (v) => S / 2 - (0.42 * S * Math.max(-1, Math.min(1, v / scale)));
  ctx.strokeStyle = COLORS.faint;
  ctx.lineWidth = 1.5;
  ctx.beginPath(); ctx.moveTo(0, S / 2); ctx.lineTo(S, S / 2); ctx.stroke();
  ctx.strokeStyle = COLORS.blue;
  ctx.lineWidth = 4;
  ctx.beginPath();
  let pen = false;
  values.forEach((v, k) => {
    const x = (k / Math.max(1, values.length - 1)) * S;
    if (v == null) { pen = false; return; }
    if (pen) ctx.lineTo(x, y(v)); else ctx.moveTo(x, y(v));
    pen = true;
  });
  ctx.stroke();
  return c.toDataURL();
}

// The input features' formulas (engine/choices.py FEATURES, computed from the raw coordinates): the
// input nodes' thumbnails are drawn here, before any run, from the data's bounds alone.
export const FEATURES = {
  x1: { label: "x₁", f: (x) => x },
  x2: { label: "x₂", f: (x, y) => y },
  x1_squared: { label: "x₁²", f: (x) => x * x },
  x2_squared: { label: "x₂²", f: (x, y) => y * y },
  x1_times_x2: { label: "x₁x₂", f: (x, y) => x * y },
  sin_x1: { label: "sin x₁", f: (x) => Math.sin(x) },
  sin_x2: { label: "sin x₂", f: (x, y) => Math.sin(y) },
};

// A feature over the plane: res² values, row-major with y rising from the first row (the server's grid).
export function featureGrid(name, bounds, res = 24) {
  const [[x0, x1], [y0, y1]] = bounds;
  const f = FEATURES[name].f;
  const out = [];
  for (let r = 0; r < res; r++) {
    for (let c = 0; c < res; c++) out.push(f(x0 + ((x1 - x0) * c) / (res - 1), y0 + ((y1 - y0) * r) / (res - 1)));
  }
  return out;
}

// The weights counted as zero: the epoch record's `zero_fraction` uses the same |w| < 0.01.
export const ZERO = 0.01;
const LONG_PRESS_MS = 550;

export const unitLabel = (layer, k) => `${layer}·${k + 1}`;

export class NetworkView {
  // onWidth(layerIndex, delta); onFeature(name); onFocus({layer, unit, values, scale, probability} | null);
  // onEdit({layer, index, value, label}); onKnockout(layer, unit)
  constructor(host, { onWidth, onFeature, onFocus, onEdit, onKnockout } = {}) {
    this.host = host;
    this.onWidth = onWidth;
    this.onFeature = onFeature;
    this.onFocus = onFocus;
    this.onEdit = onEdit;
    this.onKnockout = onKnockout;
    this.knockMode = false; // touch screens: a tap knocks a unit out instead of focusing it
    this.editor = null;
  }

  // hidden: [{name, units, activation}]; inputs: labels; outputs: count. features (points of the
  // plane): {names: every feature, active: those in use in their input order, bounds};
  // editing: links and biases open the editor (a paused run); knocked: Set of "layer:unit";
  // zeroFraction: {layer: share of |w| < ZERO} from the epoch record; knockable: units may be knocked out;
  // regression: the output unit is a fitted value (a diverging scale), not a class probability.
  render(opts) {
    this.last = opts;
    const { inputs, hidden, outputs, network, editable = true, note = "", features = null, editing = false,
            knocked = new Set(), zeroFraction = null, knockable = false, regression = false } = opts;
    const inputLabels = features ? features.names.map((n) => FEATURES[n].label) : inputs;
    const cols = [
      { name: "input", units: inputLabels.length, labels: inputLabels },
      ...hidden.map((h) => ({ ...h })),
      { name: "out", units: outputs, activation: "output" },
    ];
    const drawn = (u) => Math.min(u, MAX_DRAWN);
    const left = features ? 50 : 16; // room for the feature names left of their nodes
    // columns share the panel's width, so a deep network still fits without scrolling
    const COL = Math.max(64, Math.min(MAX_COL, ((this.host.clientWidth || 600) - NODE - left - 16) / (cols.length - 1)));
    const tallest = Math.max(...cols.map((c) => drawn(c.units)));
    const zeroRow = zeroFraction ? 14 : 0;
    const height = 46 + tallest * (NODE + GAP) + 24 + zeroRow;
    const width = left + (cols.length - 1) * COL + NODE + 24;
    const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
    const pos = cols.map((c, i) => {
      const n = drawn(c.units);
      const top = 40 + ((tallest - n) * (NODE + GAP)) / 2;
      return Array.from({ length: n }, (_, k) => [left + i * COL, top + k * (NODE + GAP)]);
    });
    // the model's input k is the k-th feature in use: a feature node's link reads that weight column
    const inputOf = (i, from) => (i === 1 && features ? features.active.indexOf(features.names[from]) : from);

    // links first, so nodes sit on top
    const linkLayer = svg("g");
    root.append(linkLayer);
    for (let i = 1; i < cols.length; i++) {
      let w = network && network.weights[cols[i].name];
      const fanIn = i === 1 && features ? features.active.length : drawn(cols[i - 1].units);
      // weights from an input drawn as one node (an 8×8 image) do not belong to any link: grey
      if (w && w[0] && w[0].length !== fanIn) w = null;
      const maxW = w ? Math.max(1e-6, ...w.flat().map(Math.abs)) : 1;
      pos[i].forEach(([x2, y2], to) => {
        pos[i - 1].forEach(([x1, y1], from) => {
          const input = inputOf(i, from);
          if (input < 0) return; // a feature not in use: no link
          const v = w && w[to] ? w[to][input] : null;
          const a = v == null ? 0.25 : Math.abs(v) / maxW;
          const off = knocked.has(`${cols[i - 1].name}:${from}`);
          const zero = v != null && Math.abs(v) < ZERO;
          const d = `M${x1 + NODE},${y1 + NODE / 2} C${x1 + NODE + 30},${y1 + NODE / 2} ${x2 - 30},${y2 + NODE / 2} ${x2},${y2 + NODE / 2}`;
          const line = svg("path", {
            d,
            fill: "none",
            stroke: v == null ? COLORS.faint : v < 0 ? COLORS.orange : COLORS.blue,
            "stroke-width": zero ? "0.8" : (0.4 + 3.6 * a).toFixed(2),
            "stroke-opacity": off ? "0.08" : zero ? "0.5" : (0.25 + 0.65 * a).toFixed(2),
            class: zero ? "link zero" : "link",
            "data-layer": cols[i].name, "data-to": to, "data-from": input,
          });
          if (zero) line.setAttribute("stroke-dasharray", "1.5 3"); // L1's vanished links: dotted
          if (v != null) {
            const tip = svg("title");
            tip.textContent = t("net.weight", { layer: cols[i].name, from: from + 1, to: to + 1, v });
            line.append(tip);
          }
          linkLayer.append(line);
          if (editing && v != null) { // a wide, invisible twin that is easy to click
            const hit = svg("path", { d, fill: "none", stroke: "transparent", "stroke-width": 9, class: "link-hit",
                                      "data-layer": cols[i].name, "data-to": to, "data-from": input });
            hit.append(line.firstChild.cloneNode(true));
            hit.addEventListener("click", () => this.onEdit && this.onEdit({
              layer: cols[i].name, index: [to, input], value: v,
              label: t("net.edit_weight", { layer: cols[i].name, from: cols[i - 1].labels ? cols[i - 1].labels[from] : from + 1, to: to + 1 }),
            }));
            linkLayer.append(hit);
          }
        });
      });
    }

    cols.forEach((c, i) => {
      const x = left + i * COL;
      const title = svg("text", { x, y: 14, "font-size": 11, fill: COLORS.ink });
      title.textContent = i === 0 ? t("net.input") : c.name === "out" ? t("net.output") : `${c.units} ${c.activation}`;
      root.append(title);
      if (i > 0 && i < cols.length - 1 && editable) {
        for (const [dx, label, delta] of [[0, "+", 1], [22, "−", -1]]) {
          const b = svg("text", { x: x + dx, y: 31, class: "unit-ctl", "data-layer": i - 1, "data-delta": delta,
                                  "font-size": 15 });
          b.textContent = label;
          const tip = svg("title");
          tip.textContent = t(delta > 0 ? "net.addunit" : "net.removeunit");
          b.append(tip);
          b.addEventListener("click", () => this.onWidth(i - 1, delta));
          root.append(b);
        }
      }
      const units = network && network.units && network.units[c.name];
      const scale = units ? Math.max(1e-6, ...units.flat().filter((v) => v != null).map(Math.abs)) : 1;
      const curve = network && network.unit_kind === "curve";
      const probability = !curve && !regression && c.name === "out";
      pos[i].forEach(([nx, ny], k) => {
        if (i === 0 && features) return this.featureNode(root, features, k, nx, ny);
        root.append(svg("rect", { x: nx, y: ny, width: NODE, height: NODE, rx: 4, fill: "#fff", stroke: "#8b93a1" }));
        if (units && units[k]) {
          const href = curve ? curveThumbnail(units[k], scale)
            : thumbnail(units[k], network.unit_resolution, scale, probability);
          root.append(svg("image", { x: nx + 1, y: ny + 1, width: NODE - 2, height: NODE - 2, href, class: "unit-thumb" }));
        } else if (i === 0 && c.labels[k]) {
          const label = svg("text", { x: nx + NODE / 2, y: ny + NODE / 2 + 4, "text-anchor": "middle", "font-size": 11 });
          label.textContent = c.labels[k];
          root.append(label);
        }
        if (network && network.biases[c.name] && k < network.biases[c.name].length) {
          const b = network.biases[c.name][k];
          const bt = svg("title");
          bt.textContent = t("net.bias", { layer: c.name, k: k + 1, b });
          root.lastChild.append(bt);
        }
        if (i === 0) return;
        const hiddenUnit = i < cols.length - 1;
        if (knocked.has(`${c.name}:${k}`)) { // crossed out
          root.append(svg("path", { d: `M${nx + 3},${ny + 3} L${nx + NODE - 3},${ny + NODE - 3} M${nx + NODE - 3},${ny + 3} L${nx + 3},${ny + NODE - 3}`,
                                    stroke: COLORS.bad, "stroke-width": 3, class: "knocked", "data-unit": unitLabel(c.name, k) }));
        }
        this.unitHit(root, { layer: c.name, unit: k, nx, ny, values: units && units[k], scale, probability,
                             curve, knockable: knockable && hiddenUnit });
        if (network && network.biases[c.name] && k < network.biases[c.name].length) {
          this.biasSquare(root, c.name, k, network.biases[c.name][k], nx, ny, editing);
        }
      });
      if (c.units > MAX_DRAWN) {
        const more = svg("text", { x, y: pos[i].at(-1)[1] + NODE + 16, "font-size": 11, fill: COLORS.muted });
        more.textContent = t("net.more", { n: c.units - MAX_DRAWN });
        root.append(more);
      }
      const zf = zeroFraction && zeroFraction[c.name];
      if (i > 0 && zf != null) { // L1 made visible: the layer's share of weights at zero
        const y = pos[i].at(-1)[1] + NODE + (c.units > MAX_DRAWN ? 30 : 16);
        const z = svg("text", { x, y, "font-size": 10, fill: COLORS.muted, class: "zero-frac", "data-layer": c.name });
        z.textContent = t("net.zero", { p: Math.round(zf * 100) });
        const tip = svg("title");
        tip.textContent = t("net.zero_tip", { layer: c.name, p: (zf * 100).toFixed(1), z: ZERO });
        z.append(tip);
        root.append(z);
      }
    });
    if (note) {
      const text = svg("text", { x: 16, y: height - 6, "font-size": 11, fill: COLORS.muted });
      text.textContent = note;
      root.append(text);
    }
    const parts = [root];
    if (knockable) parts.unshift(this.knockToggle());
    if (this.editor) parts.push(this.editor.box);
    this.host.replaceChildren(...parts);
  }

  featureNode(root, features, k, nx, ny) {
    const name = features.names[k];
    const on = features.active.includes(name);
    const g = svg("g", { class: on ? "feature on" : "feature off", "data-feature": name, role: "button",
                         tabindex: 0, "aria-pressed": String(on) });
    g.append(svg("rect", { x: nx, y: ny, width: NODE, height: NODE, rx: 4, fill: "#fff",
                           stroke: on ? COLORS.ink : "#8b93a1", "stroke-width": on ? 1.6 : 1 }));
    if (features.bounds) {
      const values = featureGrid(name, features.bounds);
      const scale = Math.max(1e-6, ...values.map(Math.abs));
      g.append(svg("image", { x: nx + 1, y: ny + 1, width: NODE - 2, height: NODE - 2, class: "feature-thumb",
                              href: thumbnail(values, 24, scale, false) }));
    }
    const label = svg("text", { x: nx - 4, y: ny + NODE / 2 + 4, "text-anchor": "end", "font-size": 11, fill: COLORS.ink });
    label.textContent = FEATURES[name].label;
    g.append(label);
    const tip = svg("title");
    tip.textContent = t(on ? "net.feature_on" : "net.feature_off", { f: FEATURES[name].label });
    g.append(tip);
    const toggle = () => this.onFeature && this.onFeature(name);
    g.addEventListener("click", toggle);
    g.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); toggle(); } });
    root.append(g);
  }

  // A unit's invisible cover: hover (or tap) focuses it; shift/alt-click, a long press or a click in
  // knock-out mode knocks a hidden unit out (again: restores it).
  unitHit(root, { layer, unit, nx, ny, values, scale, probability, curve, knockable }) {
    const hit = svg("rect", { x: nx, y: ny, width: NODE, height: NODE, rx: 4, fill: "transparent", class: "unit-hit",
                              "data-unit": unitLabel(layer, unit) });
    const tip = svg("title");
    tip.textContent = t(knockable ? "net.unit_tip_ko" : "net.unit_tip", { u: unitLabel(layer, unit) });
    hit.append(tip);
    const focus = () => values && !curve && this.onFocus && this.onFocus({ layer, unit, values, scale, probability });
    const blur = () => this.onFocus && this.onFocus(null);
    const knock = () => knockable && this.onKnockout && this.onKnockout(layer, unit);
    let timer = null, pressed = false;
    hit.addEventListener("pointerenter", (ev) => { if (ev.pointerType === "mouse") focus(); });
    hit.addEventListener("pointerleave", (ev) => { if (ev.pointerType === "mouse") blur(); });
    hit.addEventListener("pointerdown", (ev) => {
      if (ev.pointerType === "mouse") return;
      pressed = false;
      timer = setTimeout(() => { pressed = true; knock(); }, LONG_PRESS_MS);
    });
    hit.addEventListener("pointerup", () => clearTimeout(timer));
    hit.addEventListener("pointercancel", () => clearTimeout(timer));
    hit.addEventListener("contextmenu", (ev) => ev.preventDefault()); // a long press is ours, not a menu
    hit.addEventListener("click", (ev) => {
      if (pressed) { pressed = false; return; }
      if (ev.shiftKey || ev.altKey || this.knockMode) return knock();
      if (ev.pointerType && ev.pointerType !== "mouse") { // a tap: focus, a second tap returns
        if (this.focused === hit.dataset.unit) { this.focused = null; blur(); }
        else { this.focused = hit.dataset.unit; focus(); }
      }
    });
    root.append(hit);
  }

  // The bias as a small square at the node's bottom left, coloured by its sign (as in TensorFlow
  // Playground); while paused a click edits it.
  biasSquare(root, layer, k, b, nx, ny, editing) {
    const sq = svg("rect", { x: nx - 5, y: ny + NODE - 9, width: 9, height: 9, rx: 1.5, class: editing ? "bias editing" : "bias",
                             fill: b == null ? COLORS.faint : b < 0 ? COLORS.orange : COLORS.blue,
                             stroke: "#fff", "data-unit": unitLabel(layer, k) });
    const tip = svg("title");
    tip.textContent = t("net.bias", { layer, k: k + 1, b });
    sq.append(tip);
    if (editing && b != null) {
      sq.addEventListener("click", () => this.onEdit && this.onEdit({
        layer, index: [k], value: b, label: t("net.edit_bias", { u: unitLabel(layer, k) }) }));
    }
    root.append(sq);
  }

  knockToggle() {
    const b = document.createElement("button");
    b.type = "button";
    b.className = `small knock-mode${this.knockMode ? " on" : ""}`;
    b.setAttribute("aria-pressed", String(this.knockMode));
    b.textContent = t("net.knockmode");
    b.title = t("net.knockmode_tip");
    b.onclick = () => {
      this.knockMode = !this.knockMode;
      if (this.last) this.render(this.last);
    };
    return b;
  }

  // The weight editor: a number box under the diagram; `submit(value)` sends it and throws the
  // server's error, shown next to the box (409 not paused, 422 out of range).
  openEditor({ label, value, submit }) {
    this.closeEditor();
    const box = document.createElement("form");
    box.className = "weight-editor";
    const title = document.createElement("label");
    title.textContent = label;
    const input = document.createElement("input");
    input.type = "number";
    input.step = "any";
    input.value = String(value);
    input.setAttribute("aria-label", label);
    const ok = document.createElement("button");
    ok.type = "submit";
    ok.textContent = t("net.edit_set");
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = t("net.edit_cancel");
    cancel.onclick = () => this.closeEditor();
    const err = document.createElement("div");
    err.className = "editor-error";
    err.setAttribute("role", "alert");
    title.append(input);
    box.append(title, ok, cancel, err);
    box.onsubmit = async (ev) => {
      ev.preventDefault();
      const v = Number(input.value);
      if (input.value.trim() === "" || !Number.isFinite(v)) { err.textContent = t("err.number"); return; }
      ok.disabled = true;
      try {
        await submit(v);
        this.closeEditor();
      } catch (e) {
        err.textContent = e.message;
        ok.disabled = false;
      }
    };
    this.editor = { box };
    this.host.append(box);
    input.focus();
    input.select();
  }

  closeEditor() {
    if (this.editor) this.editor.box.remove();
    this.editor = null;
  }
}
