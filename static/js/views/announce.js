// One sentence per step change for screen readers (an aria-live region): where the cursor
// is, the input, and the kind's state for the selected unit. Quiet while playing (a
// sentence per step would drown everything); pausing says where play stopped.

import { heldNote } from "./held.js";
import { formatNumber } from "./math_text.js";
import { plainLabel } from "../diagram/keyboard.js";
import { headView, isMemory, memoryRowText } from "../diagram/heads.js";

let said = "";

export function announce(el, state, stateNames) {
  const s = state.session;
  const f = state.frame;
  if (!s || !f || state.playing) return;
  const chars = typeof s.sequence?.text === "string" ? Array.from(s.sequence.text) : null;
  const input = chars && chars[f.t] !== undefined ? `, input “${chars[f.t] === " " ? "space" : chars[f.t]}”` : "";
  const stage = state.stage === "all" ? "" : `, stage ${state.stage}`;
  const meta = Object.fromEntries(s.signals.map((x) => [x.name, x]));
  // an mLSTM's per-head numbers at the unit's head; its matrix memory as the row it reads
  const sigs = headView(f.signals, meta, s.hidden_size);
  const values = stateNames.filter((n) => f.signals[n]).map((n) => {
    const label = plainLabel(s.signals.find((x) => x.name === n)?.label ?? n);
    if (isMemory(meta[n])) return `${label} ${memoryRowText(f.signals[n], state.unit, s.hidden_size, formatNumber, 4)}`;
    if (meta[n]?.shape?.[0] === "heads") return `${label} = ${formatNumber(sigs[n][state.unit])}${heldNote(state, meta[n] ?? { name: n })}`;
    // a projection's h has P values (proj_size): past them there is no number to say
    if (f.signals[n][state.unit] === undefined) return `${label}: none (${f.signals[n].length} values)`;
    return `${label} = ${formatNumber(f.signals[n][state.unit])}${heldNote(state, s.signals.find((x) => x.name === n) ?? { name: n })}`;
  });
  const text = `Step ${f.t} of ${s.steps - 1}${stage}${input}; unit ${state.unit}: ${values.join(", ")}.`;
  if (text !== said) {
    said = text;
    el.textContent = text;
  }
}
