// The network diagram: one column per layer, a node per unit with a thumbnail of that unit's output
// over the input (a heat map over the plane for 2-D data, a curve over x for 1-D regression; output
// units show their class's probability or the fitted curve), and links coloured by the weight's sign
// (orange < 0 < blue) with a width that grows with its magnitude, refreshed live as in TensorFlow
// Playground. A wide layer shows its first 16 units and "… N more" (the server sends those only).
// The +/- under each hidden column changes its width.
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

export class NetworkView {
  constructor(host, { onWidth }) {
    this.host = host;
    this.onWidth = onWidth; // (layerIndex, delta)
  }

  // layers: [{name, units, activation}] hidden layers; inputs: labels; outputs: count.
  render({ inputs, hidden, outputs, network, editable = true, note = "" }) {
    const cols = [
      { name: "input", units: inputs.length, labels: inputs },
      ...hidden.map((h) => ({ ...h })),
      { name: "out", units: outputs, activation: "output" },
    ];
    const drawn = (u) => Math.min(u, MAX_DRAWN);
    // columns share the panel's width, so a deep network still fits without scrolling
    const COL = Math.max(64, Math.min(MAX_COL, ((this.host.clientWidth || 600) - NODE - 32) / (cols.length - 1)));
    const tallest = Math.max(...cols.map((c) => drawn(c.units)));
    const height = 46 + tallest * (NODE + GAP) + 24;
    const width = cols.length * COL + 20;
    const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
    const pos = cols.map((c, i) => {
      const n = drawn(c.units);
      const top = 40 + ((tallest - n) * (NODE + GAP)) / 2;
      return Array.from({ length: n }, (_, k) => [16 + i * COL, top + k * (NODE + GAP)]);
    });

    // links first, so nodes sit on top
    const linkLayer = svg("g");
    root.append(linkLayer);
    for (let i = 1; i < cols.length; i++) {
      let w = network && network.weights[cols[i].name];
      // weights from an input drawn as one node (an 8×8 image) do not belong to any link: grey
      if (w && w[0] && w[0].length !== drawn(cols[i - 1].units)) w = null;
      const maxW = w ? Math.max(1e-6, ...w.flat().map(Math.abs)) : 1;
      pos[i].forEach(([x2, y2], to) => {
        pos[i - 1].forEach(([x1, y1], from) => {
          const v = w && w[to] ? w[to][from] : null;
          const a = v == null ? 0.25 : Math.abs(v) / maxW;
          const line = svg("path", {
            d: `M${x1 + NODE},${y1 + NODE / 2} C${x1 + NODE + 30},${y1 + NODE / 2} ${x2 - 30},${y2 + NODE / 2} ${x2},${y2 + NODE / 2}`,
            fill: "none",
            stroke: v == null ? COLORS.faint : v < 0 ? COLORS.orange : COLORS.blue,
            "stroke-width": (0.4 + 3.6 * a).toFixed(2),
            "stroke-opacity": (0.25 + 0.65 * a).toFixed(2),
          });
          if (v != null) {
            const tip = svg("title");
            tip.textContent = t("net.weight", { layer: cols[i].name, from: from + 1, to: to + 1, v });
            line.append(tip);
          }
          linkLayer.append(line);
        });
      });
    }

    cols.forEach((c, i) => {
      const x = 16 + i * COL;
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
      const probability = !curve && c.name === "out";
      pos[i].forEach(([nx, ny], k) => {
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
      });
      if (c.units > MAX_DRAWN) {
        const more = svg("text", { x, y: pos[i].at(-1)[1] + NODE + 16, "font-size": 11, fill: COLORS.muted });
        more.textContent = t("net.more", { n: c.units - MAX_DRAWN });
        root.append(more);
      }
    });
    if (note) {
      const text = svg("text", { x: 16, y: height - 6, "font-size": 11, fill: COLORS.muted });
      text.textContent = note;
      root.append(text);
    }
    this.host.replaceChildren(root);
  }
}
