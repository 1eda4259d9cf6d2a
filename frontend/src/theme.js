// The colours every view paints with, in one place: the page's CSS variables (static/css/app.css
// :root) read once when the module loads, and the colour scales built on them. A view never writes
// its own hex for a class, a split or a marker.

const css = typeof document !== "undefined" ? getComputedStyle(document.documentElement) : null;
// the stylesheet's value, or the same colour when a page loads without app.css
const cssVar = (name, fallback) => (css && css.getPropertyValue(name).trim()) || fallback;

export const COLORS = {
  orange: cssVar("--orange", "#f59322"), // class 0, training curves, negative weights
  blue: cssVar("--blue", "#0877bd"), // class 1, validation curves, positive weights
  good: cssVar("--good", "#188038"), // the best epoch
  bad: cssVar("--bad", "#c5221f"), // early stop, divergence
  ink: cssVar("--ink", "#1f2430"),
  muted: cssVar("--muted", "#6b7280"),
  bg: cssVar("--bg", "#f4f5f7"),
  navy: "#183153", // cursors and the learning-rate curve
  slate: "#5f6b7a", // learning-rate change markers
  grey: "#9aa3b2", // the penalty term
  faint: "#c9ced6", // zero lines and weightless links
  orangeLight: "#f5b66b", // a pinned baseline's training curve
  blueLight: "#6aa9d6", // a pinned baseline's validation curve
};

// One colour per series or class beyond the first two
export const PALETTE = [COLORS.orange, COLORS.blue, "#7b1fa2", "#2e7d32", "#c62828", "#00838f", "#6d4c41", "#ad1457", "#455a64"];

// "#rrggbb" -> [r, g, b]
export function hexRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

const ORANGE = hexRgb(COLORS.orange);
const BLUE = hexRgb(COLORS.blue);
export const WHITE = [255, 255, 255];
export const NONFINITE = [200, 200, 200]; // a diverged model's cells

export function mix(a, b, f) {
  return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * f));
}

// TensorFlow Playground's diverging scale: orange for class 0, white at 0.5, blue for class 1.
export function probColor(p) {
  return p < 0.5 ? mix(ORANGE, WHITE, p * 2) : mix(WHITE, BLUE, (p - 0.5) * 2);
}

// The same scale washed out, as a background: the data points on top keep their full colour.
export const surfaceColor = (p) => mix(probColor(p), WHITE, 0.45);

// A class's colour: orange/blue for two classes (as the surface), the palette beyond
export const classColor = (k, nClasses) => (nClasses <= 2 ? (k ? COLORS.blue : COLORS.orange) : PALETTE[k % PALETTE.length]);
