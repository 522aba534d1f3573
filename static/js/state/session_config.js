// The two directions between a form config (the form settings of state/settings.js) and a
// session: the POST /api/sessions body a config asks for, and the config that describes a
// session the server returned (GET /api/sessions/{id} says how it was made), so that the
// form always shows the session on screen.

import { isFirstPart, withPart } from "./parts.js";
import { applies, resolve } from "./settings.js";
import { stateBody, textOfState } from "./start_state.js";

/** The POST /api/sessions body for config `cfg`. `upload`: the server's record of the
 *  uploaded file, whose stated options are the file's and are not sent. */
export function sessionBody(settings, cfg, upload) {
  const body = {};
  if (cfg.weights === "preset") body.preset = cfg.preset;
  else {
    body.cell = cfg.cell;
    const stated = upload && upload.weights_id === cfg.weights_id ? upload.options || {} : {};
    const options = {};
    for (const row of settings.options) {
      if (applies(row, cfg) && !(cfg.weights === "upload" && row.key in stated)) options[row.key] = cfg[row.key];
    }
    if (Object.keys(options).length) body.options = options;
    if (cfg.weights === "upload") body.weights_id = cfg.weights_id;
    else {
      body.seed = cfg.seed;
      body.hidden_size = cfg.hidden;
    }
  }
  // pasted numbers go as CSV: the server alone decides what a header or a bad cell is
  body.sequence = cfg.seq === "numbers" ? { csv: cfg.text } : { text: cfg.text };
  const held = parseHold(cfg.hold);
  if (held.length) body.interventions = held; // each naming its part, as the server records it
  const edits = parseWeightEdits(cfg.wedit);
  if (edits.length) body.weight_edits = edits;
  const state = stateBody(cfg.state);
  if (state) body.state = state;
  return body;
}

/** The config that describes `session` (a session record from the server). */
export function configFromSession(settings, session) {
  const w = session.weights || {};
  const cfg = { cell: session.cell, ...(session.options || {}) };
  if (w.preset !== undefined) Object.assign(cfg, { weights: "preset", preset: w.preset });
  else if (w.weights_id !== undefined) Object.assign(cfg, { weights: "upload", weights_id: w.weights_id });
  else Object.assign(cfg, { weights: "seed", seed: w.seed ?? 0, hidden: session.hidden_size });
  const seq = session.sequence || {};
  if (typeof seq.text === "string") Object.assign(cfg, { seq: "text", text: seq.text });
  else if (typeof seq.csv === "string") Object.assign(cfg, { seq: "numbers", text: seq.csv });
  else if (Array.isArray(seq.values)) {
    Object.assign(cfg, { seq: "numbers", text: seq.values.map((r) => r.join(",")).join("\n") });
  }
  cfg.hold = formatHold(session.interventions);
  cfg.wedit = formatWeightEdits(session.weight_edits);
  cfg.state = textOfState(session.state);
  const out = resolve(settings, cfg);
  out.cell = session.cell; // whatever the preset or file said, this is the kind on screen
  return out;
}

// Held signals (what if) as the URL writes them: "f:1:5-41:all;i:0:5-41:3.4" is
// signal:value:start-stop:units (units "all" or dot-separated indices), one per ";"; a hold
// of another cell of a model than layer 0's forward one goes on with :layer:direction
// ("f:1:5-41:all:1:backward"). The server checks them (a 422 names the item at fault);
// here they are only taken apart.

/** The URL's ":layer:direction" of `item` ("" for the first part, which links leave out). */
const partText = (item) => (isFirstPart(item) ? "" : `:${item.layer}:${item.direction}`);

/** {layer, direction} of the URL's optional ":layer:direction" (the first part's without). */
const partFrom = (layer, direction) => withPart({
  ...(layer !== undefined ? { layer: Number(layer) } : {}), ...(direction !== undefined ? { direction } : {}) });

/** The interventions `text` writes (an empty list for ""), each naming its part. */
export function parseHold(text) {
  if (!text) return [];
  return String(text).split(";").filter(Boolean).map((item) => {
    const [signal, value, steps = "", units = "all", layer, direction] = item.split(":");
    const [start, stop] = steps.split("-").map(Number);
    return { signal, start, stop, units: units === "all" ? null : units.split(".").map(Number), value: Number(value),
      ...partFrom(layer, direction) };
  });
}

/** The URL text of `interventions` (each naming its part). */
export function formatHold(interventions) {
  return (interventions ?? []).map((iv) => `${iv.signal}:${iv.value}:${iv.start}-${iv.stop}:${iv.units ? iv.units.join(".") : "all"}${partText(iv)}`).join(";");
}

// Edited weights as the URL writes them: "weight_hh:5:2:0.5;bias_ih:1::-2" is
// param:row:col:value (col empty for a 1-D parameter), one per ";", with :layer:direction
// as holds have it. The server checks them.

/** The weight edits `text` writes (an empty list for ""), each naming its part. */
export function parseWeightEdits(text) {
  if (!text) return [];
  return String(text).split(";").filter(Boolean).map((item) => {
    const [param, row, col = "", value, layer, direction] = item.split(":");
    return { param, row: Number(row), col: col === "" ? null : Number(col), value: Number(value), ...partFrom(layer, direction) };
  });
}

/** The URL text of `edits` (each naming its part). */
export function formatWeightEdits(edits) {
  return (edits ?? []).map((e) => `${e.param}:${e.row}:${e.col ?? ""}:${e.value}${partText(e)}`).join(";");
}
