// The input sequence around the cursor, with the current step marked: for text, the
// characters (as text, never markup); for numbers, the current row.

import { formatNumber } from "./math_text.js";

const AROUND = 24;

export function showInput(el, state) {
  const s = state.session;
  if (!s) {
    el.replaceChildren();
    return;
  }
  const t = state.frame?.t ?? state.t;
  const label = document.createElement("span");
  label.className = "hint";
  label.textContent = `input at t = ${t}: `;
  const parts = [label];
  const text = s.sequence?.text;
  if (typeof text === "string" && text.length) {
    const chars = Array.from(text);
    const a = Math.max(0, t - AROUND);
    const b = Math.min(chars.length, t + AROUND + 1);
    const before = document.createElement("span");
    before.textContent = (a > 0 ? "…" : "") + chars.slice(a, t).join("");
    const mark = document.createElement("mark");
    mark.textContent = chars[t] === undefined ? "" : chars[t] === " " ? "␣" : chars[t];
    mark.title = "x_t";
    const after = document.createElement("span");
    after.textContent = chars.slice(t + 1, b).join("") + (b < chars.length ? "…" : "");
    parts.push(before, mark, after);
  } else {
    const x = state.frame?.signals?.x;
    const row = document.createElement("span");
    row.textContent = x ? `x_t = [${Array.from(x.slice(0, 12), (v) => formatNumber(v, 2)).join(", ")}${x.length > 12 ? ", …" : ""}]` : "";
    parts.push(row);
  }
  el.replaceChildren(...parts);
  el.classList.add("sequence-line");
}
