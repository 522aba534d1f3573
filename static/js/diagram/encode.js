// How a value is shown: colour by sign, width / fill by magnitude. Display mapping only —
// the values themselves always come from the engine.

// Okabe–Ito: blue (#0072B2) for negative, vermillion (#D55E00) for positive.
const NEG = [0, 114, 178];
const MID = [246, 246, 246];
const POS = [213, 94, 0];
const STEPS = 20;

const mix = (a, b, k) => a.map((x, i) => Math.round(x + (b[i] - x) * k));

/** Palette of 2·STEPS+1 colours from −1 (blue) through 0 (light grey) to +1 (vermillion). */
export const PALETTE_RGB = Array.from({ length: 2 * STEPS + 1 }, (_, k) => {
  const x = k / STEPS - 1;
  return x < 0 ? mix(MID, NEG, -x) : mix(MID, POS, x);
});
export const PALETTE = PALETTE_RGB.map(([r, g, b]) => `rgb(${r},${g},${b})`);

/** Magnitude in [0, 1]: clipped for bounded signals, squashed as |v|/(1+|v|) otherwise. */
export function magnitude(v, bounded) {
  const a = Math.abs(v);
  if (!Number.isFinite(a)) return 1;
  return bounded ? Math.min(1, a) : a / (1 + a);
}

/** Index into PALETTE for value v. */
export function paletteIndex(v, bounded) {
  const m = magnitude(v, bounded) * Math.sign(v || 0);
  return Math.round((m + 1) * STEPS);
}

/** "pos" | "neg" | "zero" — the sign class of a pipe. */
export function signClass(v) {
  if (v > 1e-6) return "pos";
  if (v < -1e-6) return "neg";
  return "zero";
}

/** Stroke width of a pipe for value v. */
export function pipeWidth(v, bounded) {
  return 1.5 + 7 * magnitude(v, bounded);
}
