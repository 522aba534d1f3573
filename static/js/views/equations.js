// Equations with live numbers, generated from the engine's signal descriptions
// (equation, op, args). The page never evaluates cell math: it formats the numbers the
// engine sent for the selected unit, e.g. f_t[3] = σ(W_f·[h_{t−1}, x_t] + b_f)[3] = σ(1.27) = 0.781.

import { heldNote } from "./held.js";
import { OPS, appendHtmlMath, formatNumber } from "./math_text.js";
import { beyond, beyondText } from "../diagram/widths.js";
import { partKey } from "../state/parts.js";
import { headView, isMemory, memoryRowText } from "../diagram/heads.js";


function h(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

const rhsOf = (equation) => {
  const k = String(equation || "").indexOf(" = ");
  return k >= 0 ? equation.slice(k + 3) : "";
};

/** Value of `name` at `unit` in the frame (scalars broadcast, e.g. a normaliser; a
 *  projection's h of P = 1 value is a vector, never broadcast). */
function valueAt(frame, name, unit, sig) {
  const vec = frame?.signals?.[name];
  if (!vec) return undefined;
  return vec.length === 1 && sig?.size !== "projection" ? vec[0] : vec[unit];
}

/** The numbers of a signal that is not one per unit (a Mamba's ["E", "N"] state: the
 *  selected channel's N; its ["N"] B and C: all N), or null. */
function rowOf(frame, sig, unit, dims) {
  const vec = frame?.signals?.[sig.name];
  const shape = sig.shape ?? [];
  if (!vec || !dims || sig.size !== "shaped" || shape.length === 1 && shape[0] === "E") return null;
  const n = dims[shape.at(-1)];
  return shape.length === 2 ? Array.from(vec.slice(unit * n, unit * n + n)) : Array.from(vec);
}

const listText = (row) => `[${row.slice(0, 12).map((x) => formatNumber(x, 3)).join(", ")}${row.length > 12 ? ", …" : ""}]`;

/** The cell's sizes as the diagram's widths module reads them. */
const sizesOf = (session) => ({ hidden: session.hidden_size, input: session.input_size, projection: session.proj_size ?? null });

/** Fill `el` with the live equation of `sig` for `unit`. */
function liveEquation(el, sig, frame, unit, note = "", dims = null) {
  el.replaceChildren();
  if (frame?.memory?.[sig.name]) { // a matrix memory: the row the unit reads
    appendHtmlMath(el, sig.label);
    el.appendChild(document.createTextNode(` ${memoryRowText(frame.memory[sig.name], unit, frame.hidden, (x) => formatNumber(x, 4))}${note}`));
    return;
  }
  const row = rowOf(frame, sig, unit, dims);
  if (row) {
    appendHtmlMath(el, sig.label);
    el.appendChild(document.createTextNode(`${sig.shape.length === 2 ? `[${unit}, ·]` : ""} = ${listText(row)}${note}`));
    return;
  }
  const v = valueAt(frame, sig.name, unit, sig);
  if (sig.size === "input") {
    const vec = frame?.signals?.[sig.name] || [];
    appendHtmlMath(el, sig.label);
    const shown = Array.from(vec.slice(0, 12), (x) => formatNumber(x, 2)).join(", ");
    el.appendChild(document.createTextNode(` = [${shown}${vec.length > 12 ? ", …" : ""}]`));
    return;
  }
  appendHtmlMath(el, /\s/.test(sig.label) ? `(${sig.label})[${unit}]` : `${sig.label}[${unit}]`);
  const rhs = rhsOf(sig.equation);
  if (rhs && sig.op !== "input") {
    el.appendChild(document.createTextNode(" = ("));
    appendHtmlMath(el, rhs);
    el.appendChild(document.createTextNode(`)[${unit}]`));
  }
  const form = OPS[sig.op];
  if (form && sig.args?.length) {
    const args = sig.args.map((a) => formatNumber(valueAt(frame, a, unit), 4));
    el.appendChild(document.createTextNode(` = ${form(args).join("")}`));
  }
  const out = h("strong", "eq-value", ` = ${formatNumber(v, 4)}`);
  el.appendChild(out);
  if (note) el.appendChild(document.createTextNode(note));
}

/** Build the list of the kind's equations (once per session). */
export function buildEquationList(listEl, titleEl, session, stages, onFocus) {
  listEl.replaceChildren();
  titleEl.textContent = `Equations of ${session.cell}${optionText(session.options)}`;
  const rows = [];
  for (const stage of stages) {
    const group = session.signals.filter((s) => s.stage === stage && s.kind !== "input");
    if (!group.length) continue;
    const head = h("li", "eq-stage", stage);
    head.dataset.stage = stage;
    listEl.appendChild(head);
    for (const sig of group) {
      const li = h("li", `eq-row kind-${sig.kind}`);
      li.dataset.signal = sig.name;
      li.dataset.stage = stage;
      li.tabIndex = 0;
      const eq = h("span", "eq-text");
      appendHtmlMath(eq, sig.equation || sig.label);
      const val = h("span", "eq-live");
      li.append(eq, val);
      li.addEventListener("click", () => onFocus(sig.name));
      li.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter") onFocus(sig.name);
      });
      listEl.appendChild(li);
      rows.push({ sig, li, val });
    }
  }
  return rows;
}

function optionText(options) {
  const entries = Object.entries(options || {});
  return entries.length ? ` (${entries.map(([k, v]) => `${k}=${v}`).join(", ")})` : "";
}

// What the focus panel shows now, so that a step rewrites only what changed.
const focusShown = { el: null, sig: null, live: null, where: null, liveKey: "", whereText: "" };

/** Update live values in the list and the focus panel (writing only what changed). */
export function updateEquations(rows, focusEl, state) {
  const { unit, session } = state;
  if (!session || !state.frame) return;
  const frame = perUnit(state.frame, session);
  const cur = state.stage === "all" ? null : state.stage;
  const focused = state.hover || state.signal || null;
  // in stage mode a signal of a later stage has no number yet, here as in the diagram
  const at = cur === null ? Infinity : state.stages.indexOf(cur);
  const later = (sig) => state.stages.indexOf(sig.stage) > at;
  for (const row of rows) {
    const { sig, li, val } = row;
    const numbers = later(sig) ? null : rowOf(frame, sig, unit, session.dims);
    const text = sig.size === "input" ? "" : later(sig) ? `[${unit}] not yet`
      : frame.memory?.[sig.name] ? `${memoryRowText(frame.memory[sig.name], unit, session.hidden_size, (x) => formatNumber(x, 3), 4)}${heldNote(state, sig)}`
      : numbers ? `${sig.shape.length === 2 ? `[${unit}, ·]` : ""} = ${listText(numbers)}${heldNote(state, sig)}`
      : beyond(sig, unit, sizesOf(session)) ? `[${unit}] none (P = ${session.proj_size} values)`
        : `[${unit}] = ${formatNumber(valueAt(frame, sig.name, unit, sig), 4)}${heldNote(state, sig)}`;
    if (row.text !== text) {
      row.text = text;
      val.textContent = text;
    }
    li.classList.toggle("current", sig.stage === cur);
    li.classList.toggle("focused", sig.name === focused);
  }
  const name = focused || defaultFocus(session);
  const sig = session.signals.find((s) => s.name === name);
  const f = focusShown;
  if (f.el !== focusEl || f.sig !== sig) {
    focusEl.replaceChildren();
    Object.assign(f, { el: focusEl, sig, live: null, where: null, liveKey: "", whereText: "" });
    if (!sig) return;
    const title = h("p", "focus-title");
    appendHtmlMath(title, sig.label);
    title.appendChild(document.createTextNode(" — "));
    appendHtmlMath(title, sig.description || sig.kind);
    const eq = h("p", "focus-eq");
    appendHtmlMath(eq, sig.equation || sig.label);
    f.live = h("p", "focus-live");
    f.live.dataset.signal = sig.name;
    f.where = h("p", "hint");
    focusEl.append(title, eq, f.live, f.where);
  }
  if (!sig) return;
  const pending = later(sig);
  const note = pending ? "" : heldNote(state, sig);
  const liveKey = `${frame.t}|${frame.seq}|${unit}|${pending}|${note}`;
  if (f.liveKey !== liveKey) {
    f.liveKey = liveKey;
    if (pending) f.live.textContent = `not computed yet: ${sig.name} comes at the “${sig.stage}” stage`;
    else if (beyond(sig, unit, sizesOf(session))) f.live.textContent = beyondText(sig, unit, sizesOf(session));
    else liveEquation(f.live, sig, frame, unit, note, session.dims);
  }
  const named = session.unit_labels?.[unit] ? ` (${session.unit_labels[unit]})` : "";
  const whereText = `step t = ${frame.t}, unit ${unit}${named}, stage “${sig.stage}”${sig.range ? `, range [${sig.range.join(", ")}]` : ""}`;
  if (f.whereText !== whereText) {
    f.whereText = whereText;
    f.where.textContent = whereText;
  }
}

/** The frame as the equations read it at a unit: a per-head number (an mLSTM's gates and
 *  stabilizer) at each unit of its head; a per-head matrix kept aside in `memory`. Indexing
 *  only, the numbers are the engine's. */
function perUnit(frame, session) {
  const meta = Object.fromEntries(session.signals.map((s) => [s.name, s]));
  const memory = Object.fromEntries(session.signals.filter(isMemory)
    .filter((s) => frame.signals[s.name]).map((s) => [s.name, frame.signals[s.name]]));
  if (!Object.keys(memory).length && !session.signals.some((s) => s.shape?.[0] === "heads")) return frame;
  return { ...frame, signals: headView(frame.signals, meta, session.hidden_size), memory, hidden: session.hidden_size };
}

function defaultFocus(session) {
  const names = session.signals.map((s) => s.name);
  return ["f", "z", "c", "h"].find((n) => names.includes(n)) || names.at(-1);
}

/** The equation list and the Selected panel as a view: the list is rebuilt when another
 *  cell is drawn, its live numbers written on every change. */
export function createEquationsView(onFocus) {
  const list = document.querySelector("#equation-list");
  const title = document.querySelector("#equations-title");
  const focusEl = document.querySelector("#focus-equation");
  let rows = [];
  let built = "";
  return {
    keys: null,
    update(s) {
      if (!s.session) return;
      if (partKey(s.session) !== built) {
        built = partKey(s.session);
        rows = buildEquationList(list, title, s.session, s.session.stages, onFocus);
      }
      updateEquations(rows, focusEl, s);
    },
  };
}
