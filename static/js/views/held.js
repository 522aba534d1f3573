// Honest holds: a held signal says so, with what the cell would have computed there. The
// page computes no cell math: those numbers are the run without holds (the what-if's
// original, `orig`), read from its trace at the cursor — the held signal and the arguments
// of its op (f = σ(f_pre): f_pre and f) — and kept in the store as `held`.

import { getTrace } from "../net/api.js";
import { partKey, samePart } from "../state/parts.js";
import * as store from "../state/store.js";
import { OPS, formatNumber } from "./math_text.js";

const cursorOf = (state) => state.frame?.t ?? state.t;

/** The holds of the drawn cell active at the cursor for the selected unit. */
function activeHolds(state) {
  const s = state.session;
  const t = cursorOf(state);
  return (s?.interventions ?? []).filter((iv) => samePart(iv, s) && t >= iv.start && t < iv.stop
    && (!iv.units || iv.units.includes(state.unit)));
}

const keyOf = (state) => `${state.orig}|${partKey(state.session)}|${cursorOf(state)}`;

/** " (held; the cell would compute σ(20.0000) = 1.0000 in the run without holds)" for a
 *  signal held at the cursor ("(held)" until the original's numbers are in), else "". */
export function heldNote(state, sig) {
  if (!activeHolds(state).some((iv) => iv.signal === sig.name)) return "";
  const got = state.held;
  if (!got || got.key !== keyOf(state)) return " (held)";
  const at = (name) => {
    const vec = got.signals[name]?.[0];
    if (!vec) return undefined;
    // an mLSTM's per-head numbers: the unit's head's; its normalizer (heads × d): the
    // unit's entry; its matrix memory has no one number per unit
    const shape = state.session?.signals?.find((s) => s.name === name)?.shape;
    if (shape?.[0] === "heads") {
      if (shape.length === 1) return vec[Math.floor(state.unit / Math.max(1, state.session.hidden_size / vec.length))];
      return shape.length === 2 ? vec.flat()[state.unit] : undefined;
    }
    return vec[state.unit] ?? vec[0];
  };
  const value = at(sig.name);
  if (value === undefined) return " (held)";
  const args = (sig.args ?? []).map(at);
  const form = OPS[sig.op];
  const rhs = form && args.length && args.every((a) => a !== undefined)
    ? `${form(args.map((a) => formatNumber(a, 4))).join("")} = ` : "";
  return ` (held; the cell would compute ${rhs}${formatNumber(value, 4)} in the run without holds)`;
}

/** The view that reads the original's numbers at the cursor while something is held. */
export function createHeldView() {
  let asked = "";
  return {
    keys: ["frame", "t", "unit", "orig", "session"],
    async update(state) {
      const holds = activeHolds(state);
      if (!holds.length || !state.orig || state.orig === state.session.id) return;
      const key = keyOf(state);
      if (key === asked || state.held?.key === key) return;
      asked = key;
      const sigs = state.session.signals;
      const names = new Set(holds.flatMap((iv) => [iv.signal, ...(sigs.find((x) => x.name === iv.signal)?.args ?? [])]));
      const t = cursorOf(state);
      try {
        const w = await getTrace(state.orig, t, t + 1, [...names], state.session);
        if (asked === key) store.set({ held: { key, signals: w.signals } });
      } catch {
        asked = ""; // the original is gone or shorter: the note stays "(held)"
      }
    },
  };
}
