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

// Gates (0…1) have their own sequential scale, white to dark grey: never the blue or the
// vermillion of a sign. The charts' gate heatmaps use the same two ends.
export const GATE_ENDS = ["#f7f7f7", "#3d3d3d"];
const GATE_LO = [247, 247, 247];
const GATE_HI = [61, 61, 61];
export const GATE_RGB = Array.from({ length: STEPS + 1 }, (_, k) => mix(GATE_LO, GATE_HI, k / STEPS));
export const DIVERGING_ENDS = ["#0072B2", "#f6f6f6", "#D55E00"];

/** Index into GATE_RGB for a gate's value. */
export function gateIndex(v) {
  return Math.round(Math.max(0, Math.min(1, Number.isFinite(v) ? v : 1)) * STEPS);
}

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
