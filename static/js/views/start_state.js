// The "Starting state" disclosure of the setup form: one text field per state (h, and c
// for the kinds that have it) per layer and direction, as the server says the session will
// take them (an upload's `state_sizes`, else the session on screen's parts). A field takes
// numbers separated by commas or spaces, or "zeros"; the typed fields become the draft's
// `state` (state/start_state.js), which Run sends. The server checks it: its 422 is shown
// beside the field it names, and the fields keep what was typed. The page computes nothing.

import { STATE_NAMES, faultOf, fieldWords, rowTexts, stateRows, stateText, textOfState } from "../state/start_state.js";
import * as store from "../state/store.js";

const $ = (sel) => document.querySelector(sel);
const SUBSCRIPT_ZERO = "₀";

/** Where the rows come from: the uploaded file the draft runs, else the session on screen. */
function rowSource(state) {
  const d = state.draft;
  const up = state.upload;
  if (d?.weights === "upload" && up && up.weights_id === d.weights_id && up.state_sizes) return up;
  return state.session?.record ?? null;
}

/** Whether the draft runs another cell than the session on screen (its rows may not fit). */
function otherCell(settings, state) {
  const { draft, config } = state;
  if (!draft || !config) return false;
  return settings.form.some((r) => r.cell && String(draft[r.key] ?? "") !== String(config[r.key] ?? ""));
}

const fieldId = (name, row) => `start-${name}-${row.layer}-${row.direction}`;

export function createStartStateView({ settings }) {
  const box = $("#start-state");
  const host = $("#start-state-fields");
  const general = $("#start-state-error");
  const hint = $("#start-state-hint");
  const shown = $("#start-state-shown");
  let rows = [];
  let rowsKey = "";
  const inputs = new Map(); // field id -> {input, error, name, index}

  const typed = (name, row) => inputs.get(fieldId(name, row))?.input.value ?? "";

  function onInput() {
    const s = store.get();
    if (!s.draft) return;
    const errors = { ...s.errors };
    delete errors.state;
    store.set({ draft: { ...s.draft, state: stateText(rows, typed) }, errors });
  }

  /** One field per (state, layer, direction) the server asks for; text typed in a field
   *  that is there again is kept. */
  function build(next) {
    const before = new Map([...inputs].map(([id, f]) => [id, f.input.value]));
    inputs.clear();
    const single = next.length === 1;
    const made = [];
    for (const name of STATE_NAMES) {
      next.filter((r) => name in (r.sizes ?? {})).forEach((row, index) => {
        const id = fieldId(name, row);
        const width = row.sizes[name];
        const div = Object.assign(document.createElement("div"), { className: "state-row" });
        div.dataset.state = name;
        const label = Object.assign(document.createElement("label"), {
          htmlFor: id,
          // "L1 backward", "values": other controls' labels are "Layer", "numbers"
          textContent: `${name}${SUBSCRIPT_ZERO}${single ? "" : ` at L${row.layer} ${row.direction}`} (${width} value${width === 1 ? "" : "s"})`,
        });
        const input = Object.assign(document.createElement("input"), {
          id, type: "text", autocomplete: "off", spellcheck: false, placeholder: "zeros", value: before.get(id) ?? "",
        });
        input.dataset.width = String(width);
        const error = Object.assign(document.createElement("p"), { className: "field-error", id: `${id}-error` });
        error.setAttribute("role", "alert");
        input.setAttribute("aria-describedby", error.id);
        input.addEventListener("input", onInput);
        div.append(label, input, error);
        made.push(div);
        inputs.set(id, { input, error, name, index });
      });
    }
    host.replaceChildren(...made);
  }

  /** Show the draft's rows in the fields, unless a field already says the same (the text
   *  as typed stays: "0.5 -1" is "0.5,-1"). */
  function fill(draftText) {
    const want = rowTexts(draftText);
    for (const { input, name, index } of inputs.values()) {
      const row = want[name]?.[index] ?? "";
      const have = fieldWords(input.value).join(",");
      const zeros = row.split(",").every((w) => Number(w) === 0);
      if (have === row || (have === "" && zeros)) continue;
      input.value = zeros ? "" : row.split(",").join(", ");
    }
  }

  function showErrors(message) {
    const fault = message ? faultOf(message, rows) : null;
    let placed = false;
    for (const { input, error, name, index } of inputs.values()) {
      const here = Boolean(fault) && fault.name === name && (fault.index === index || (fault.index === null && index === 0));
      error.textContent = here ? message : "";
      input.setAttribute("aria-invalid", here ? "true" : "false");
      placed ||= here;
    }
    general.textContent = message && !placed ? message : "";
    if (message) box.open = true;
  }

  function update(state) {
    const source = rowSource(state);
    const next = stateRows(source);
    const key = JSON.stringify(next);
    if (key !== rowsKey) {
      rows = next;
      rowsKey = key;
      build(rows);
    }
    if (state.draft) fill(state.draft.state);
    if (state.draft?.state) box.open = true;
    showErrors(state.errors?.state ?? "");
    hint.textContent = rows.length === 0
      ? "Run a session first: the server says which starting state its cells take."
      : inputs.size === 0 ? "The server takes no starting state as rows of numbers for this cell (a Mamba's h is channels × N)."
      : `Numbers separated by commas or spaces, or “zeros” (an empty field is zeros).${source === state.session?.record && otherCell(settings, state)
        ? " These fields are the cell on screen's; after Run with the new cell its own appear." : ""}`;
    const record = state.session?.record;
    const given = textOfState(record?.state);
    shown.dataset.state = given;
    shown.textContent = !record ? "" : given
      ? "The session on screen starts from the state given (h_prev and c_prev at t = 0)."
      : "The session on screen starts from zeros.";
  }

  return { keys: ["session", "upload", "draft", "errors", "config"], update };
}
