// The caption of an exported picture of the diagram: what it shows, so that a PNG or SVG
// taken out of the page still says it — the kind and where its weights came from (the
// preset, the seed, the file or the session), the step and its input, the unit, the layer
// and direction of a model's cell, the stage and anything held. Built from the store's state
// only (the numbers stay the server's).

import { stepsOf } from "./sequence_view.js";
import { formatNumber } from "./math_text.js";

const quoted = (token) => `“${token === " " ? "␣" : token === "\n" ? "↵" : token}”`;

/** Where the weights of the session on screen came from, in words. */
function sourceOf(s) {
  if (s.preset) return `preset “${s.preset}”`;
  const file = s.weights?.filename ?? s.weights?.name;
  if (file) return `weights file “${file}”`;
  if (s.seed !== null && s.seed !== undefined) return `random weights, seed ${s.seed}`;
  return "weights of this session";
}

/** The input step t reads: its token (text) or its first values (numbers). */
function inputOf(s, time, frame) {
  const text = s.sequence?.text;
  if (typeof text === "string" && text.length) {
    const token = stepsOf(text, s.sequence.clusters)[time];
    return token === undefined ? "" : `input ${quoted(token)}`;
  }
  const x = frame?.signals?.x;
  if (!x) return "";
  const shown = Array.from(x.slice(0, 4), (n) => formatNumber(n, 3));
  return `input x_t = [${shown.join(", ")}${x.length > 4 ? ", …" : ""}]`;
}

/** The caption's lines for `state` (the store's). */
export function captionLines(state) {
  const s = state.session;
  if (!s) return [];
  const unitName = s.unit_labels?.[state.unit] ?? "";
  const t = state.frame?.t ?? state.t;
  const backward = s.direction === "backward";
  const time = backward ? s.steps - 1 - t : t;
  const model = s.layers > 1 || s.directions.length > 1;
  const first = [`${s.cell} cell`, sourceOf(s), `session ${s.id}`];
  if (model) first.push(`layer ${s.layer}, ${s.direction}`); // partOf names both
  const step = backward ? `step ${t} (time ${time}) of ${s.steps}` : `step t = ${t} of ${s.steps}`;
  const second = [step, inputOf(s, time, state.frame), `unit ${state.unit}${unitName ? ` (${unitName})` : ""}`];
  if (state.stage !== undefined && state.stage !== null && state.stage !== "" && state.stage !== "all") {
    second.push(`stage ${state.stage}`);
  }
  const lines = [first.join(" · "), second.filter(Boolean).join(" · ")];
  const held = (s.interventions ?? []).map((iv) => `${iv.signal} = ${iv.value} from step ${iv.start}`);
  if (held.length) lines.push(`held: ${held.join("; ")}`);
  if (s.weight_edits?.length) lines.push(`${s.weight_edits.length} weight(s) edited`);
  return lines;
}
