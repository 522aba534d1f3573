// Which cell of a session the page draws. Every session is a model: GET /api/sessions/{id}
// carries `parts`, a list over layers of {direction: part}, a part being the one
// description of a cell (kind, options, sizes, signals, stages, holdable, params,
// proj_size). A single cell is one layer, {"forward": part}.
//
// The first part (layer 0, forward) is named here once, for the one edge where a place
// may leave it out: a link (the URL writes holds and weight edits of the first part
// without it). Everything past that edge carries its layer and direction: the server's
// records and the requests the page sends name every item's part.

export const FIRST_PART = Object.freeze({ layer: 0, direction: "forward" });

/** `item` (a hold or a weight edit) with its layer and direction, the first part's where
 *  it names none. */
export const withPart = (item) => ({ ...item, layer: item.layer ?? FIRST_PART.layer,
  direction: item.direction ?? FIRST_PART.direction });

/** Whether two things with a layer and a direction name the same cell. */
export const samePart = (a, b) => a.layer === b.layer && a.direction === b.direction;

/** Whether `item` names the first part (which a link leaves out). */
export const isFirstPart = (item) => samePart(item, FIRST_PART);

/** Whether a session record is a whole model (more than one cell, or a head). */
export const isModel = (record) => Boolean(record && (record.parts.length > 1
  || Object.keys(record.parts[0]).length > 1 || record.head));

/** (layer, direction) clamped to what the record has (the first direction of the layer
 *  when it has not the one asked for). */
export function clampPart(record, layer, direction) {
  const l = Math.max(0, Math.min(record.parts.length - 1, Number(layer) || 0));
  const here = Object.keys(record.parts[l]);
  return { layer: l, direction: here.includes(direction) ? direction : here[0] };
}

/** The part record at (layer, direction), clamped, as the views see it: the part's kind
 *  (`cell`), options, sizes, signals, stages, holdable signals and params over the
 *  session's own fields (id, steps, sequence, holds, head), with `layer`, `direction` and
 *  the whole `record`. */
export function partOf(record, layer, direction) {
  const at = clampPart(record, layer, direction);
  const part = record.parts[at.layer][at.direction];
  return {
    ...record, cell: part.kind, options: part.options, input_size: part.input_size,
    hidden_size: part.hidden_size, signals: part.signals, stages: part.stages,
    holdable: part.holdable, params: part.params, proj_size: part.proj_size ?? null,
    dims: part.dims ?? null, ...at, record,
  };
}

/** How many units the Unit control picks from: a Mamba's channels (E), else H. */
export const unitCount = (session) => session?.dims?.E ?? session?.hidden_size ?? 1;

/** A key that changes when another session or another cell of it is drawn. */
export const partKey = (session) => (session ? `${session.id}|${session.layer}|${session.direction}` : "");
