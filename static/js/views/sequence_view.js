// The input sequence around the cursor, with the current step marked: for text, the
// characters (as text, never markup); for numbers, the current row. The nodes are built
// once and only their text changes per step. Text steps are the server's: one per grapheme
// (cells/text.py), told by the session's `sequence.clusters` ([step, code points] of each
// step longer than one code point), so the page never segments text itself.

import { formatNumber } from "./math_text.js";

const AROUND = 24;
const views = new WeakMap(); // element -> {label, before, mark, after, row, session, chars}

function nodesOf(el) {
  let v = views.get(el);
  if (!v) {
    const span = (cls) => {
      const node = document.createElement("span");
      if (cls) node.className = cls;
      return node;
    };
    v = { label: span("hint"), before: span(), mark: document.createElement("mark"), after: span(), row: span() };
    v.mark.title = "x_t";
    el.replaceChildren(v.label, v.before, v.mark, v.after, v.row);
    el.classList.add("sequence-line");
    views.set(el, v);
  }
  return v;
}

/** The text of each step: the model's own tokens where the server sends them (words,
 *  subwords), else code points joined where the server says a step has several. */
export function stepsOf(text, clusters, tokens) {
  if (tokens?.length) return tokens;
  const points = Array.from(text);
  if (!clusters?.length) return points;
  const out = [];
  let at = 0;
  for (const [step, size] of clusters) {
    while (out.length < step && at < points.length) out.push(points[at++]);
    out.push(points.slice(at, at + size).join(""));
    at += size;
  }
  while (at < points.length) out.push(points[at++]);
  return out;
}

/** Whether step `steps − 1` of `before` has more code points in `after` (an accent typed
 *  after its letter, a skin tone after its emoji): the server changed that step's input. */
export function lastStepGrew(before, after, steps) {
  const sizeAt = (sequence) => {
    const clusters = sequence?.clusters ?? [];
    for (let k = clusters.length - 1; k >= 0 && clusters[k][0] >= steps - 1; k--) {
      if (clusters[k][0] === steps - 1) return clusters[k][1];
    }
    return 1;
  };
  return steps > 0 && sizeAt(after) !== sizeAt(before);
}

const setText = (node, text) => {
  if (node.textContent !== text) node.textContent = text;
};

export function showInput(el, state) {
  const s = state.session;
  const v = nodesOf(el);
  if (!s) {
    for (const node of [v.label, v.before, v.mark, v.after, v.row]) setText(node, "");
    return;
  }
  const t = state.frame?.t ?? state.t;
  // a backward cell's step t reads time T−1−t: the readout names both and marks that time
  const backward = s.direction === "backward";
  const time = backward ? s.steps - 1 - t : t;
  setText(v.label, backward ? `step ${t}, time ${time}: input ` : `input at t = ${t}: `);
  const text = s.sequence?.text;
  if (typeof text === "string" && text.length) {
    if (v.session !== s) {
      v.session = s; // split once per session: a 100,000-character text is not split per step
      v.chars = stepsOf(text, s.sequence.clusters, s.sequence.tokens);
    }
    const chars = v.chars;
    const a = Math.max(0, time - AROUND);
    const b = Math.min(chars.length, time + AROUND + 1);
    setText(v.before, (a > 0 ? "…" : "") + chars.slice(a, time).join(""));
    setText(v.mark, chars[time] === undefined ? "" : chars[time] === " " ? "␣" : chars[time]);
    setText(v.after, chars.slice(time + 1, b).join("") + (b < chars.length ? "…" : ""));
    v.mark.hidden = false;
    setText(v.row, "");
  } else {
    const x = state.frame?.signals?.x;
    for (const node of [v.before, v.mark, v.after]) setText(node, "");
    v.mark.hidden = true;
    setText(v.row, x ? `x_t = [${Array.from(x.slice(0, 12), (n) => formatNumber(n, 2)).join(", ")}${x.length > 12 ? ", …" : ""}]` : "");
  }
}
