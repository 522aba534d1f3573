// What if, weights: set one weight of the cell to a new value ("Edit a weight"). An edit
// changes the cell, so it applies to every step of the run (a hold applies from the cursor
// on). The parameters, their shapes and the gate letters of their row blocks come from the
// session (`params`, the engine's param_layout); the current value from
// GET /api/sessions/{id}/weight. The page computes no cell math: it only turns a gate block
// and a unit into a row (block × H + unit), as the session's `params` describe the rows.
// In a model session the form edits the cell drawn (the Layer and Direction pickers): its
// parameters come from that cell's record, and flow/whatif.js names its layer and direction in
// the edit, as it does for a hold.

import { getWeight } from "../net/api.js";
import { isFirstPart, partKey, partOf, samePart } from "../state/parts.js";

const $ = (sel) => document.querySelector(sel);
const WHOLE = /^\s*\d+\s*$/;

/** A value as the form shows it (the full value is in data-value). */
const shown = (v) => String(Number(v.toPrecision(7)));

/** The parameters and hidden size of the cell an edit names (a part of the session's
 *  record, state/parts.js). */
function cellParts(session, edit) {
  const part = partOf(session.record, edit.layer, edit.direction);
  return { params: part.params, H: part.hidden_size };
}

/** The text of one edit, e.g. "weight_hh[f block, unit 1; column 2] = 0.5" (in a model,
 *  "… in layer 1, backward" for a cell other than layer 0's forward one). */
export function editText(session, edit) {
  const { params, H } = cellParts(session, edit);
  const p = params.find((x) => x.name === edit.param);
  const where = p?.blocks ? `${p.blocks[Math.floor(edit.row / H)]} block, unit ${edit.row % H}` : `unit ${edit.row}`;
  const col = edit.col === null || edit.col === undefined ? "" : `; column ${edit.col}`;
  const part = isFirstPart(edit) ? "" : ` in layer ${edit.layer}, ${edit.direction}`;
  return `${edit.param}[${where}${col}] = ${edit.value}${part}`;
}

/** The form; `onEdit({param, row, col, value})` and `onReset()` return promises that reject
 *  with the server's refusal, which the form shows. */
export function createWeightForm({ onEdit, onReset }) {
  const el = {
    param: $("#wedit-param"), block: $("#wedit-block"), unit: $("#wedit-unit"), col: $("#wedit-col"),
    rowHint: $("#wedit-row-hint"), colHint: $("#wedit-col-hint"), current: $("#wedit-current"),
    value: $("#wedit-value"), apply: $("#wedit-apply"), reset: $("#wedit-reset"),
    error: $("#wedit-error"), status: $("#wedit-status"),
  };
  let session = null;
  let shownFor = ""; // session id, layer and direction the controls were built for
  let params = []; // the drawn cell's parameters
  let H = 1; // its hidden size
  let asked = ""; // the position whose current value is shown (or being fetched)

  const param = () => params.find((p) => p.name === el.param.value);

  /** The picked position {param, row, col}, or {error, field: the control at fault}. */
  function position() {
    const p = param();
    if (!p) return { error: "Choose a parameter.", field: el.param };
    const units = p.blocks ? H : p.shape[0];
    const unit = Number(el.unit.value);
    if (!WHOLE.test(el.unit.value) || unit >= units) {
      return { error: `Row must be a whole number from 0 to ${units - 1} (the unit${p.blocks ? " within the gate block" : ""}).`, field: el.unit };
    }
    const row = p.blocks ? Number(el.block.value) * H + unit : unit;
    if (p.shape.length < 2) return { param: p.name, row, col: null };
    const col = Number(el.col.value);
    if (!WHOLE.test(el.col.value) || col >= p.shape[1]) {
      return { error: `Column must be a whole number from 0 to ${p.shape[1] - 1}.`, field: el.col };
    }
    return { param: p.name, row, col };
  }

  function describeColumn() {
    const p = param();
    const col = Number(el.col.value);
    if (!p || p.shape.length < 2) {
      el.colHint.textContent = "none: one number per row";
      return;
    }
    const vocab = session.vocabulary;
    const tokens = vocab ? (Array.isArray(vocab) ? vocab : Array.from(vocab)) : [];
    // a column of weight_ih is a token only where the cell reads the one-hot text: layer 0,
    // one input per token (above it reads the layer below's h)
    const layer = session.layer;
    const oneHot = layer === 0 && p.shape[1] === tokens.length;
    const token = p.columns === "input" && oneHot && WHOLE.test(el.col.value) ? tokens[col] : undefined;
    const what = p.columns !== "input" ? "hidden unit" : layer > 0 ? `h of layer ${layer - 1}` : "input index";
    el.colHint.textContent = `${what}, 0 to ${p.shape[1] - 1}${token !== undefined ? ` (“${token}”)` : ""}`;
  }

  function fillBlocks() {
    const p = param();
    const labels = Object.fromEntries((session?.signals ?? []).map((s) => [s.name, s.description.split(":")[0]]));
    const keep = el.block.value;
    if (p?.blocks) {
      el.block.replaceChildren(...p.blocks.map((letter, k) => Object.assign(document.createElement("option"),
        { value: String(k), textContent: `${letter} (${labels[letter] ?? letter})` })));
      if ([...el.block.options].some((o) => o.value === keep)) el.block.value = keep;
      el.block.disabled = false;
    } else {
      el.block.replaceChildren(Object.assign(document.createElement("option"), { value: "0", textContent: "none: one row per unit" }));
      el.block.disabled = true;
    }
    el.col.disabled = !p || p.shape.length < 2;
    const units = p ? (p.blocks ? H : p.shape[0]) : 0;
    el.rowHint.textContent = p ? `unit, 0 to ${units - 1}` : "";
    describeColumn();
  }

  async function showCurrent() {
    const at = position();
    if (at.error) {
      asked = "";
      el.current.textContent = "—";
      delete el.current.dataset.value;
      return;
    }
    const key = `${shownFor}|${at.param}|${at.row}|${at.col}`;
    if (key === asked) return;
    asked = key;
    el.current.textContent = "…";
    delete el.current.dataset.value;
    try {
      const w = await getWeight(session.id, at.param, at.row, at.col,
        session);
      if (asked !== key) return;
      el.current.textContent = w.value === w.original ? shown(w.value) : `${shown(w.value)} (originally ${shown(w.original)})`;
      el.current.dataset.value = String(w.value);
      el.current.dataset.original = String(w.original);
      if (el.value.value.trim() === "") el.value.value = shown(w.value);
    } catch (err) {
      if (asked === key) el.current.textContent = "—";
      el.error.textContent = err.message;
    }
  }

  const changed = () => {
    el.error.textContent = "";
    describeColumn();
    showCurrent();
  };
  el.param.addEventListener("change", () => {
    fillBlocks();
    changed();
  });
  for (const c of [el.block, el.unit, el.col]) c.addEventListener(c.tagName === "SELECT" ? "change" : "input", changed);

  async function busy(work) {
    el.apply.disabled = true;
    el.reset.disabled = true;
    try {
      el.error.textContent = "";
      await work();
    } catch (err) {
      el.error.textContent = err.message;
    } finally {
      el.apply.disabled = !params.length;
      el.reset.disabled = !(session?.weight_edits ?? []).length;
    }
  }

  $("#wedit-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const at = position();
    if (at.error) {
      el.error.textContent = at.error;
      at.field.focus();
      return;
    }
    const value = Number(el.value.value);
    if (el.value.value.trim() === "" || !Number.isFinite(value)) {
      el.error.textContent = "New value must be a number.";
      el.value.focus();
      return;
    }
    busy(() => onEdit({ ...at, value }));
  });
  el.reset.addEventListener("click", () => busy(() => onReset()));

  /** Put the controls on `edit`'s weight (block and unit from its row). */
  function showPosition(edit) {
    const p = params.find((x) => x.name === edit.param);
    if (!p) return;
    el.param.value = p.name;
    fillBlocks();
    if (p.blocks) el.block.value = String(Math.floor(edit.row / H));
    el.unit.value = String(p.blocks ? edit.row % H : edit.row);
    if (edit.col !== null && edit.col !== undefined) el.col.value = String(edit.col);
  }

  /** Show the parameters of `state.session`'s drawn cell and the session's edits (rebuilt
   *  when the session or the cell drawn changes). */
  function render(state) {
    const s = state.session;
    const key = partKey(s);
    if (!s || key === shownFor) return;
    session = s;
    shownFor = key;
    ({ params, hidden_size: H } = s); // the drawn cell's (state/parts.js partOf)
    const keep = el.param.value;
    const edits = s.weight_edits ?? [];
    const here = edits.filter((e) => samePart(e, s));
    el.param.replaceChildren(...params.map((p) => Object.assign(document.createElement("option"),
      { value: p.name, textContent: `${p.name} (${p.shape.join(" × ")})` })));
    if (params.some((p) => p.name === keep)) el.param.value = keep;
    else if (here.length) showPosition(here[0]); // a link with edits opens on the first
    else if (params.some((p) => p.name === "weight_hh")) el.param.value = "weight_hh";
    for (const c of [el.param, el.unit, el.value]) c.disabled = params.length === 0;
    el.apply.disabled = params.length === 0;
    fillBlocks();
    el.reset.disabled = edits.length === 0;
    if (!params.length) {
      el.status.textContent = "This cell's weights cannot be edited here yet (an LSTM with a projection).";
    } else {
      el.status.textContent = edits.length
        ? `Edited (every step): ${edits.map((e) => editText(s, e)).join("; ")}.`
        : "No weight edited: the cell runs with its own weights.";
    }
    asked = "";
    el.value.value = "";
    showCurrent();
  }

  return { render };
}
