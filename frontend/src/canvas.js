// Canvas helpers shared by the views: a canvas sharp on a HiDPI screen, a value grid painted as an
// image, and a small greyscale image (a digit) as its own canvas.
import { NONFINITE } from "./theme.js";

// Size `canvas` to w×h CSS pixels at the screen's pixel ratio; returns its 2-D context, scaled so
// that drawing uses CSS pixels. `style`: also set the element's CSS size (a canvas sized by CSS leaves it).
export function hidpi(canvas, w, h, { style = false } = {}) {
  const dpr = devicePixelRatio;
  canvas.width = w * dpr;
  canvas.height = h * dpr;
  if (style) {
    canvas.style.width = `${w}px`;
    canvas.style.height = `${h}px`;
  }
  const ctx = canvas.getContext("2d");
  ctx.scale(dpr, dpr);
  return ctx;
}

// A res×res grid of values (row 0 at the bottom, as the server sends it) painted over w×h; `color(v, i)`
// gives [r, g, b]. Non-finite values (a diverged model's nulls) are grey, not the colour of class 0.
// `smooth: false` keeps cells sharp (hard classes take only their own colours, no blend at a border).
export function paintGrid(ctx, values, res, w, h, color, { smooth = true } = {}) {
  const img = ctx.createImageData(res, res);
  for (let r = 0; r < res; r++) {
    for (let c = 0; c < res; c++) {
      const v = values[(res - 1 - r) * res + c]; // grid rows go up in y; canvas rows go down
      const [R, G, B] = Number.isFinite(v) ? color(v, (res - 1 - r) * res + c) : NONFINITE;
      const o = (r * res + c) * 4;
      img.data[o] = R; img.data[o + 1] = G; img.data[o + 2] = B; img.data[o + 3] = 255;
    }
  }
  const off = new OffscreenCanvas(res, res);
  off.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = smooth;
  ctx.drawImage(off, 0, 0, w, h);
  ctx.imageSmoothingEnabled = true;
}

// A small image (rows of intensities in [0, 1], e.g. an 8×8 digit) as a canvas of its own size,
// dark on light; CSS scales it up.
export function grayCanvas(rows) {
  const h = rows.length, w = rows[0].length;
  const c = document.createElement("canvas");
  c.width = w;
  c.height = h;
  const ctx = c.getContext("2d");
  const img = ctx.createImageData(w, h);
  rows.flat().forEach((v, k) => {
    const g = 255 - Math.round(Math.min(1, Math.max(0, v)) * 255);
    img.data.set([g, g, g, 255], k * 4);
  });
  ctx.putImageData(img, 0, 0);
  return c;
}
