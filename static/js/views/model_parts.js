// The Layer and Direction pickers of a model session, and the part of the model on screen.
// A model is layers × directions of cells (GET /api/sessions/{id}: `layers`, `directions`,
// `cells`); the diagram, charts and stream show one of them. A single cell is layer 0,
// forward: the pickers stay hidden.

const $ = (sel) => document.querySelector(sel);

/** Whether a session record is a whole model (more than one cell, or a head). */
export const isModel = (record) => Boolean(record && (record.layers > 1 || (record.directions || []).length > 1 || record.head));

/** (layer, direction) clamped to what the record has. */
export function clampPart(record, layer, direction) {
  const layers = record?.cells?.length || 1;
  const l = Math.max(0, Math.min(layers - 1, Number(layer) || 0));
  const here = (record?.cells?.[l] || []).map((c) => c.direction);
  const d = here.includes(direction) ? direction : here[0] ?? "forward";
  return { layer: l, direction: d };
}

/** The session as the views see it: the record with the picked cell's kind, sizes,
 *  signals, holdable signals and params (what the diagram, equations, charts and What-if
 *  panel use). */
export function partOf(record, layer, direction) {
  const { layer: l, direction: d } = clampPart(record, layer, direction);
  const cell = record?.cells?.[l]?.find((c) => c.direction === d);
  if (!cell) return { ...record, layer: 0, direction: "forward", record };
  // proj_size: an LSTM with a projection (its h has P values); its stages come with the
  // cell from the server (from the engine's description)
  return {
    ...record, cell: cell.kind, options: cell.options, input_size: cell.input_size,
    hidden_size: cell.hidden_size, signals: cell.signals, layer: l, direction: d, record,
    proj_size: cell.proj_size ?? null, stages: cell.stages ?? record.stages,
    // what the What-if panel may hold and edit in this cell
    holdable: cell.holdable ?? record.holdable, params: cell.params ?? record.params,
  };
}

/** What x_t is in the picked layer ("" for layer 0, which reads the input). */
export const inputLabel = (part) => (part.layer >= 1 ? `h_t of layer ${part.layer - 1}` : "");

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
    const record = part?.record ?? part;
    const model = isModel(record);
    box.hidden = !model;
    if (!model) {
      note.hidden = true;
      return;
    }
    if (shownFor !== record) {
      shownFor = record;
      const layers = record.cells.length;
      options(layer, [...Array(layers).keys()], (l) => (l === 0 ? "0 (reads the input)" : `${l} (reads layer ${l - 1})`));
      options(direction, record.cells[0].map((c) => c.direction), (d) => d);
    }
    const here = record.cells[part.layer].map((c) => c.direction);
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
