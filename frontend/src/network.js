// The network diagram: one column per layer, a node per unit with a thumbnail of that unit's output
// over the plane (2-D data), and links coloured by the weight's sign (orange < 0 < blue) with a width
// that grows with its magnitude, refreshed live as in TensorFlow Playground. Wide layers are drawn as
// a single box. The +/- under each hidden column changes its width.
import { paintGrid, probColor } from "./heatmap.js";
import { t } from "./i18n.js";

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

function thumbnail(values, res, scale) {
  const c = document.createElement("canvas");
  c.width = c.height = NODE * 2;
  paintGrid(c.getContext("2d"), values, res, NODE * 2, NODE * 2, (v) => probColor(0.5 + 0.5 * Math.max(-1, Math.min(1, v / scale))));
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
      const w = network && network.weights[cols[i].name];
      const maxW = w ? Math.max(1e-6, ...w.flat().map(Math.abs)) : 1;
      pos[i].forEach(([x2, y2], to) => {
        pos[i - 1].forEach(([x1, y1], from) => {
          const v = w && w[to] ? w[to][from] : null;
          const a = v == null ? 0.25 : Math.abs(v) / maxW;
          const line = svg("path", {
            d: `M${x1 + NODE},${y1 + NODE / 2} C${x1 + NODE + 30},${y1 + NODE / 2} ${x2 - 30},${y2 + NODE / 2} ${x2},${y2 + NODE / 2}`,
            fill: "none",
            stroke: v == null ? "#c9ced6" : v < 0 ? "#f59322" : "#0877bd",
            "stroke-width": (0.4 + 3.6 * a).toFixed(2),
            "stroke-opacity": (0.25 + 0.65 * a).toFixed(2),
          });
          if (v != null) {
            const t = svg("title");
            t.textContent = `${cols[i].name}: weight from ${from + 1} to ${to + 1} = ${v}`;
            line.append(t);
          }
          linkLayer.append(line);
        });
      });
    }

    cols.forEach((c, i) => {
      const x = 16 + i * COL;
      const title = svg("text", { x, y: 14, "font-size": 11, fill: "#1f2430" });
      title.textContent = i === 0 ? t("net.input") : c.name === "out" ? t("net.output") : `${c.units} ${c.activation}`;
      root.append(title);
      if (i > 0 && i < cols.length - 1 && editable) {
        for (const [dx, label, delta] of [[0, "+", 1], [22, "−", -1]]) {
          const b = svg("text", { x: x + dx, y: 31, class: "unit-ctl", "data-layer": i - 1, "data-delta": delta,
                                  "font-size": 15 });
          b.textContent = label;
          const tip = svg("title");
          tip.textContent = delta > 0 ? "add a unit" : "remove a unit";
          b.append(tip);
          b.addEventListener("click", () => this.onWidth(i - 1, delta));
          root.append(b);
        }
      }
      const units = network && network.units && network.units[c.name];
      const scale = units ? Math.max(1e-6, ...units.flat().map(Math.abs)) : 1;
      pos[i].forEach(([nx, ny], k) => {
        root.append(svg("rect", { x: nx, y: ny, width: NODE, height: NODE, rx: 4, fill: "#fff", stroke: "#8b93a1" }));
        if (units && units[k]) {
          root.append(svg("image", { x: nx + 1, y: ny + 1, width: NODE - 2, height: NODE - 2,
                                     href: thumbnail(units[k], network.unit_resolution, scale) }));
        } else if (i === 0 && c.labels[k]) {
          const t = svg("text", { x: nx + NODE / 2, y: ny + NODE / 2 + 4, "text-anchor": "middle", "font-size": 11 });
          t.textContent = c.labels[k];
          root.append(t);
        }
        if (network && network.biases[c.name] && k < network.biases[c.name].length) {
          const b = network.biases[c.name][k];
          const bt = svg("title");
          bt.textContent = `${c.name} unit ${k + 1}: bias ${b}`;
          root.lastChild.append(bt);
        }
      });
      if (c.units > MAX_DRAWN) {
        const more = svg("text", { x, y: pos[i].at(-1)[1] + NODE + 16, "font-size": 11, fill: "#6b7280" });
        more.textContent = t("net.more", { n: c.units - MAX_DRAWN });
        root.append(more);
      }
    });
    if (note) {
      const t = svg("text", { x: 16, y: height - 6, "font-size": 11, fill: "#6b7280" });
      t.textContent = note;
      root.append(t);
    }
    this.host.replaceChildren(root);
  }
}
