// How many values a signal has in the cell on screen, from its description's `size`: I (the
// input), P (an LSTM with proj_size: its h and h_{t−1} are the projection W_hr·m) or H. The
// unit picker spans H, so where the selected unit is past a projection's P values the views
// say so instead of showing a number of another unit.

import { plainLabel } from "./keyboard.js";

/** sizes: {hidden, input, projection}; sig: a signal description. */
export function lengthOf(sig, sizes) {
  if (sig?.size === "shaped" && sizes.dims) return sig.shape.reduce((n, d) => n * sizes.dims[d], 1);
  if (sig?.size === "input") return sizes.input;
  if (sig?.size === "projection" && sizes.projection) return sizes.projection;
  return sizes.hidden;
}

/** Whether `unit` is past the values `sig` has (only a projection's h is shorter than H). */
export const beyond = (sig, unit, sizes) => sig?.size === "projection" && Boolean(sizes.projection)
  && unit >= sizes.projection;

/** The short mark shown in place of a value past the projection ("— (P = 3)"). */
export const beyondMark = (sizes) => `— (P = ${sizes.projection})`;

/** The sentence said there (screen readers, equations). */
export const beyondText = (sig, unit, sizes) => `${plainLabel(sig.label)} has P = ${sizes.projection} values `
  + `(units 0–${sizes.projection - 1}); unit ${unit} is one of the H = ${sizes.hidden} units of m_t and c_t only`;
