// The Layer and Direction pickers of a model session. A model is layers × directions of
// cells (GET /api/sessions/{id}: `parts`); the diagram, charts and stream show one of them
// (state/parts.js). A single cell is one part: the pickers stay hidden.

import { isModel } from "../state/parts.js";

const $ = (sel) => document.querySelector(sel);

/** What x_t is in the picked layer ("" for layer 0, which reads the input); in a residual
 *  model, the norm of the stream its block gives the cell (views/block_box.js). */
export const inputLabel = (part) => (part.record?.blocks?.[part.layer] ? "norm of the stream"
  : part.layer >= 1 ? `h_t of layer ${part.layer - 1}` : "");

export function createModelPickers({ onPick }) {
  const box = $("#model-pickers");
  const layer = $("#layer");
  const direction = $("#direction");
  const note = $("#direction-note");
  let shownFor = null;
  const pick = () => onPick(Number(layer.value), direction.value);
  layer.addEventListener("change", pick);
  direction.addEventListener("change", pick);

  function options(select, values, labelOf) {
    select.replaceChildren(...values.map((v) => {
      const o = document.createElement("option");
      o.value = String(v);
      o.textContent = labelOf(v);
      return o;
    }));
  }

  /** Draw from the store: the choices of this record, the picked part, the direction note. */
  function render(state) {
    const part = state.session;
    const record = part?.record;
    const model = isModel(record);
    box.hidden = !model;
    if (!model) {
      note.hidden = true;
      return;
    }
    if (shownFor !== record) {
      shownFor = record;
      const layers = record.parts.length;
      options(layer, [...Array(layers).keys()], (l) => (l === 0 ? "0 (reads the input)" : `${l} (reads layer ${l - 1})`));
      options(direction, Object.keys(record.parts[0]), (d) => d);
    }
    const here = Object.keys(record.parts[part.layer]);
    if (direction.options.length !== here.length) options(direction, here, (d) => d);
    layer.value = String(part.layer);
    direction.value = part.direction;
    const backward = part.direction === "backward";
    note.hidden = !backward;
    note.textContent = backward
      ? `Backward direction: this cell reads the sequence from the end, so its step 0 is the last time step (t = ${record.steps - 1}); the diagram, the slider and the charts run from the end.`
      : "";
  }
  return { render };
}
