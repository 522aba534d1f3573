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
