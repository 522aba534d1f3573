// A matrix-memory cell (the mLSTM of Beck et al. 2024, "xLSTM: Extended Long Short-Term
// Memory") groups its H units into heads of d = H / heads. Its gates and stabilizer are one
// number per head (shape ["heads"]), its normalizer d per head (["heads", "d"], H in all)
// and its memory d × d per head (["heads", "d", "d"]). The renderer reads every signal at
// the selected unit, so this view gives it, per unit, the number of the unit's head, the
// normalizer entry of the unit, and no number for the matrix (the tank draws that).
// Indexing only: the numbers are the engine's.

const views = new WeakMap();

/** The head-indexing view of `signals` (a frame's {name: flat array}); `meta` the signal
 *  descriptions by name, `hidden` H. Signals without a "heads" axis pass unchanged. */
export function headView(signals, meta, hidden) {
  if (!signals) return signals;
  const cached = views.get(signals);
  if (cached) return cached;
  let out = signals;
  for (const [name, vec] of Object.entries(signals)) {
    const shape = meta[name]?.shape;
    if (!shape || shape[0] !== "heads" || !vec) continue;
    if (out === signals) out = { ...signals };
    if (shape.length === 1) {
      const d = Math.max(1, Math.floor(hidden / Math.max(1, vec.length)));
      out[name] = Array.from({ length: hidden }, (_, u) => vec[Math.min(vec.length - 1, Math.floor(u / d))]);
    } else if (shape.length > 2) {
      delete out[name]; // the d × d memory has no one number per unit
    }
  }
  views.set(signals, out);
  return out;
}

/** The head of unit `unit` and its index in the head, with H units in `heads` heads. */
export function headOf(unit, hidden, heads) {
  const d = Math.max(1, Math.floor(hidden / Math.max(1, heads)));
  return { head: Math.floor(unit / d), row: unit % d, d };
}

/** The row of the matrix memory `vec` (heads·d·d, row-major) that unit `unit` reads
 *  through: its head and its value dim, with H = `hidden` units (d = vec.length / H). */
export function memoryRow(vec, unit, hidden) {
  const d = Math.max(1, Math.round(vec.length / Math.max(1, hidden)));
  const head = Math.floor(unit / d);
  const row = unit % d;
  const start = (head * d + row) * d;
  return { head, row, values: Array.from(vec.slice(start, start + d)) };
}

/** Whether a signal description is a matrix per head (the mLSTM's C). */
export const isMemory = (sig) => (sig?.shape?.length ?? 0) > 2 && sig.shape[0] === "heads";

/** "C_t[head 1, row 0, ·] = [0.12, −0.30, …]": the row a unit reads, as the equations and
 *  the screen-reader sentences write it (the first `most` entries). */
export function memoryRowText(vec, unit, hidden, format, most = 8) {
  const { head, row, values } = memoryRow(vec, unit, hidden);
  const shown = values.slice(0, most).map((x) => format(x)).join(", ");
  return `[head ${head}, row ${row}, ·] = [${shown}${values.length > most ? ", …" : ""}]`;
}
