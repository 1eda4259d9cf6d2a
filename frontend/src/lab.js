// The optimizer lab: paths of several optimizers over a 2-D function (POST /api/landscape), drawn
// over its contour map. Click the plot to move the start point.
import { api } from "./api.js";
import { relevant } from "./controls.js";
import { $ } from "./dom.js";
import { applyI18n, lang, setLang, t } from "./i18n.js";
import { COLORS, PALETTE } from "./theme.js";
import { toast } from "./toast.js";

// The optimizers and which of them read momentum or betas come from the catalog (the engine's registry).
let NAMES = [];
let FIELDS = {};
const reads = (field, name) => relevant(FIELDS[field].relevant_when, { optimizer: { name } });
const PRESETS = {
  rosenbrock: { start: [-1.5, 2], steps: 600, opts: [["sgd", 0.001], ["momentum", 0.001], ["nesterov", 0.001], ["rmsprop", 0.01], ["adam", 0.05]] },
  // quadratic: lr 0.078 sits just under plain SGD's limit 2/25 on the steep axis: SGD zig-zags (a path ~6x longer)
  // while momentum takes the damped, direct path and ends lower (tests/engine/test_lesson_claims.py)
  quadratic: { start: [-2.5, 2], steps: 60, opts: [["sgd", 0.078], ["momentum", 0.078], ["nesterov", 0.078], ["rmsprop", 0.05], ["adam", 0.3]] },
  saddle: { start: [-1.8, 0.001], steps: 80, opts: [["sgd", 0.05], ["momentum", 0.05], ["rmsprop", 0.02], ["adam", 0.05]] },
};

let state = { fn: "rosenbrock", start: [-1.5, 2], steps: 600, opts: [] };
let result = null;

function loadPreset(fn) {
  const p = PRESETS[fn];
  state = { fn, start: [...p.start], steps: p.steps, opts: p.opts.map(([name, lr]) => ({ name, lr, momentum: 0.9, beta1: 0.9 })) };
  $("fn").value = fn;
  $("steps").value = p.steps;
  renderTable();
}

function renderTable() {
  const body = $("opts").querySelector("tbody");
  body.replaceChildren();
  state.opts.forEach((o, i) => {
    const tr = body.insertRow();
    const sw = tr.insertCell();
    const swatch = Object.assign(document.createElement("span"), { className: "swatch" });
    swatch.style.background = PALETTE[i % PALETTE.length]; // a style property, which the page's CSP allows
    sw.append(swatch);
    const sel = document.createElement("select");
    for (const n of NAMES) sel.append(new Option(n, n, false, n === o.name));
    sel.onchange = () => { o.name = sel.value; renderTable(); run(); };
    tr.insertCell().append(sel);
    const lr = Object.assign(document.createElement("input"), { type: "number", step: "any", value: o.lr, min: 0 });
    lr.onchange = () => { o.lr = Number(lr.value); run(); };
    tr.insertCell().append(lr);
    const a = Object.assign(document.createElement("input"), { type: "number", step: "any", min: 0, max: 0.999 });
    const uses = reads("momentum", o.name) ? "momentum" : reads("betas", o.name) ? "beta1" : null;
    a.disabled = !uses;
    a.value = uses ? o[uses] : "";
    a.onchange = () => { o[uses] = Number(a.value); run(); };
    tr.insertCell().append(a);
    const del = Object.assign(document.createElement("button"), { className: "small", textContent: "×", title: t("lab.remove") });
    del.onclick = () => { state.opts.splice(i, 1); renderTable(); run(); };
    tr.insertCell().append(del);
  });
  $("start").textContent = `(${state.start[0].toFixed(2)}, ${state.start[1].toFixed(2)})`;
}

async function run() {
  if (!state.opts.length) return;
  const body = {
    function: state.fn, start: state.start, steps: state.steps, grid: 120,
    optimizers: state.opts.map((o) => ({ name: o.name, lr: o.lr, momentum: o.momentum, betas: [o.beta1, 0.999] })),
  };
  const ticket = (run.ticket = (run.ticket || 0) + 1);
  try {
    result = await api("/api/landscape", { method: "POST", body });
    if (ticket !== run.ticket) return;
    draw();
    legend();
  } catch (e) {
    if (ticket !== run.ticket) return;
    // the old paths answered another question: they go, and the error says why
    result = null;
    cancelAnimationFrame(frame);
    const c = $("plot"), ctx = c.getContext("2d");
    ctx.fillStyle = COLORS.bg;
    ctx.fillRect(0, 0, c.width, c.height);
    ctx.fillStyle = COLORS.bad;
    ctx.font = "18px system-ui";
    ctx.fillText(t("lab.failed"), 20, 40);
    $("finals").replaceChildren(e.message);
    toast(e.message);
  }
}

// One legend row per optimizer: its colour, name, learning rate and final value.
function legend() {
  const rows = state.opts.map((o, i) => {
    const row = document.createElement("div");
    row.className = "lab-legend-row";
    const sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = PALETTE[i % PALETTE.length];
    const diverged = result.paths[i].length <= state.steps;
    const text = `${o.name}: f = ${result.final_values[i].toExponential(2)}` + (diverged ? ` (${t("lab.diverged")})` : "") + ` · lr ${o.lr}`;
    row.append(sw, " ", text);
    return row;
  });
  $("finals").replaceChildren(...rows);
}

// A sequential light-to-dark palette (low values light): readable for colour-blind viewers.
const STOPS = [[255, 255, 229], [199, 233, 180], [65, 182, 196], [34, 94, 168], [8, 29, 88]];
function ylgnbu(v) {
  const x = Math.min(0.9999, Math.max(0, v)) * (STOPS.length - 1);
  const i = Math.floor(x), f = x - i;
  return STOPS[i].map((c, j) => c + (STOPS[i + 1][j] - c) * f);
}

// The contour map is drawn once; the paths then race: every optimizer's first k steps, k growing
// frame by frame over about two seconds, so the student sees which one gets there first.
let frame = 0;
function draw() {
  cancelAnimationFrame(frame);
  const c = $("plot");
  const background = document.createElement("canvas");
  background.width = c.width;
  background.height = c.height;
  contours(background.getContext("2d"), c.width, c.height);
  const longest = Math.max(...result.paths.map((p) => p.length));
  const t0 = performance.now();
  const tick = (now) => {
    const k = Math.max(1, Math.ceil(Math.min(1, (now - t0) / 2000) * longest));
    const ctx = c.getContext("2d");
    ctx.drawImage(background, 0, 0);
    paths(ctx, c.width, c.height, k);
    c.dataset.shown = k;
    if (k < longest) frame = requestAnimationFrame(tick);
  };
  frame = requestAnimationFrame(tick);
}

function contours(ctx, W, H) {
  const [[x0, x1], [y0, y1]] = result.bounds;
  const px = (x) => ((x - x0) / (x1 - x0)) * W, py = (y) => H - ((y - y0) / (y1 - y0)) * H;
  const { resolution: n, values } = result.grid;
  const lo = Math.min(...values), hi = Math.max(...values);
  // log-spaced colour levels: Rosenbrock's valley spans many orders of magnitude
  const level = (v) => Math.log1p(v - lo) / Math.log1p(hi - lo);
  const img = ctx.createImageData(n, n);
  for (let r = 0; r < n; r++) for (let k = 0; k < n; k++) {
    const v = level(values[(n - 1 - r) * n + k]);
    const band = Math.floor(v * 14) / 14; // stepped colours: each band is one contour level
    img.data.set([...ylgnbu(band).map(Math.round), 255], (r * n + k) * 4);
  }
  const off = new OffscreenCanvas(n, n);
  off.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, W, H);
  if (result.minimum) {
    ctx.fillStyle = COLORS.good;
    ctx.font = "18px system-ui";
    ctx.fillText("★", px(result.minimum[0]) - 7, py(result.minimum[1]) + 6);
  }
}

function paths(ctx, W, H, steps) {
  const c = $("plot");
  const [[x0, x1], [y0, y1]] = result.bounds;
  const px = (x) => ((x - x0) / (x1 - x0)) * W, py = (y) => H - ((y - y0) / (y1 - y0)) * H;
  result.paths.forEach((full, i) => {
    const path = full.slice(0, steps);
    ctx.strokeStyle = PALETTE[i % PALETTE.length];
    ctx.lineWidth = 2;
    ctx.beginPath();
    path.forEach(([x, y], k) => (k ? ctx.lineTo(px(x), py(y)) : ctx.moveTo(px(x), py(y))));
    ctx.stroke();
    const [ex, ey] = path.at(-1);
    ctx.fillStyle = ctx.strokeStyle;
    ctx.beginPath();
    ctx.arc(px(ex), py(ey), 4, 0, 2 * Math.PI);
    ctx.fill();
  });
  ctx.fillStyle = "#000";
  ctx.beginPath();
  ctx.arc(px(state.start[0]), py(state.start[1]), 5, 0, 2 * Math.PI);
  ctx.fill();
  c.onclick = (ev) => {
    const r = c.getBoundingClientRect();
    state.start = [x0 + ((ev.clientX - r.left) / r.width) * (x1 - x0), y0 + ((r.height - (ev.clientY - r.top)) / r.height) * (y1 - y0)];
    renderTable();
    run();
  };
}

$("fn").onchange = () => { loadPreset($("fn").value); run(); };
$("steps").onchange = () => {
  // the box shows the number of steps the paths take: a value out of range is brought into it, and said
  // (the box's max is the server's limit for POST /api/landscape)
  const asked = Number($("steps").value), max = Number($("steps").max);
  state.steps = Math.round(Math.max(1, Math.min(max, Number.isFinite(asked) ? asked : state.steps)));
  $("steps").value = state.steps;
  $("steps-note").textContent = state.steps !== asked ? t("lab.steps_range", { n: state.steps, max }) : "";
  run();
};
$("add").onclick = () => { state.opts.push({ name: "adam", lr: 0.01, momentum: 0.9, beta1: 0.9 }); renderTable(); run(); };
$("run").onclick = run;
$("btn-lang").onclick = () => { setLang(lang() === "en" ? "es" : "en"); applyI18n(); $("btn-lang").textContent = lang().toUpperCase(); };
$("btn-lang").textContent = lang().toUpperCase();
applyI18n();
api("/api/catalog").then(async (catalog) => {
  NAMES = catalog.choices.optimizers;
  FIELDS = catalog.sections.optimizer.fields;
  loadPreset("rosenbrock");
  await run();
  document.body.dataset.ready = "1";
});
