// HTTP calls to the server. Errors carry the server's {"detail": ...} and the form
// field it concerns, so the page can show the message next to that field.

import { isFirstPart } from "../state/parts.js";

/** Which form field a server message concerns: cell | weights | sequence | general. */
export function fieldOf(detail, status) {
  const text = typeof detail === "string" ? detail : JSON.stringify(detail ?? "");
  const loc = Array.isArray(detail) && detail[0]?.loc ? detail[0].loc.join(".") : "";
  const hay = `${loc} ${text}`.toLowerCase();
  if (/sequence|text|values|csv|vocabulary/.test(hay)) return "sequence";
  if (/weights|preset|seed|file|upload/.test(hay)) return "weights";
  if (/cell|kind|hidden|input_size|option|reset_after|nonlinearity/.test(hay)) return "cell";
  if (status === 404 && /session/.test(hay)) return "general";
  return "general";
}

/** Human-readable text of a FastAPI `detail` (string or pydantic error list). */
export function detailText(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".")}: ${d.msg}`)
      .join("; ");
  }
  return detail ? JSON.stringify(detail) : "request failed";
}

export class ApiError extends Error {
  constructor(status, detail, field) {
    super(detailText(detail));
    this.status = status;
    this.detail = detail;
    // the server names the field ({"detail", "field"}: "hidden_size", "seed", …), which the
    // form places (views/form.js slotOf); else the message says roughly which it is
    this.field = field || fieldOf(detail, status);
  }
}

/** This tab's id: the server tells a classroom behind one address apart by it (fair shares). */
export const TAB_ID = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");

/** One JSON request; a non-2xx answer throws ApiError with the server's detail and field. */
export async function request(method, url, body) {
  const init = { method, headers: { Accept: "application/json", "X-Gatescope-Tab": TAB_ID } };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, `server unreachable (${err.message})`);
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) throw new ApiError(res.status, data?.detail ?? `${res.status} ${res.statusText}`, data?.field);
  return data;
}

export const getCells = (kind, options = {}) => {
  const q = new URLSearchParams(kind ? { kind, ...options } : {});
  return request("GET", `/api/cells${kind ? `?${q}` : ""}`);
};
export const getPresets = () => request("GET", "/api/presets");
// session records come with every hold and weight edit naming its cell (layer, direction)
export const createSession = (body) => request("POST", "/api/sessions", body);
export const appendToSession = (id, piece) => request("POST", `/api/sessions/${encodeURIComponent(id)}/append`, piece);
export const getSession = (id) => request("GET", `/api/sessions/${encodeURIComponent(id)}`);

/** Add a model's cell `part` ({layer, direction}) to the query `q`, leaving out the first
 *  part's (the server's default) so a single cell's URLs stay as they were. */
function withPart(q, part) {
  if (!part || isFirstPart(part)) return;
  q.set("layer", String(part.layer));
  q.set("direction", part.direction);
}

/** Trace window [start, stop) of `names` (all signals when omitted); `part` picks a
 *  model's cell ({layer, direction}). */
export function getTrace(id, start, stop, names, part) {
  const q = new URLSearchParams({ start: String(start), stop: String(stop) });
  if (names?.length) q.set("names", names.join(","));
  withPart(q, part);
  return request("GET", `/api/sessions/${encodeURIComponent(id)}/trace?${q}`);
}

/** Upload a weights file (multipart) -> {weights_id, cell, input_size, hidden_size, model};
 *  `vocabulary`: a model's vocab.json / vocab.txt file, sent beside it; `branch`: the
 *  branch of an ONNX If to read it by (a `branch` text of the record's `branches`);
 *  `data`: an .onnx model's external data file (model.onnx.data). */
export function uploadWeights(file, cell, vocabulary, branch, data) {
  const form = new FormData();
  form.append("file", file, file.name);
  if (cell) form.append("cell", cell);
  if (vocabulary) form.append("vocabulary", vocabulary, vocabulary.name);
  if (branch) form.append("branch", branch);
  if (data) form.append("data", data, data.name);
  return request("POST", "/api/weights", form);
}

/** Sensitivity of `of`_t[unit] to each earlier step (the server's default window). */
export function getSensitivity(id, t, unit, of = "h", part) {
  const q = new URLSearchParams({ t: String(t), unit: String(unit), of });
  withPart(q, part);
  return request("GET", `/api/sessions/${encodeURIComponent(id)}/sensitivity?${q}`);
}

/** A Mamba cell's hidden attention: channel `channel`, rows and columns the `window` steps
 *  ending at t -> {start, t, channel, weights, from_state, x, y}. */
export function getHiddenAttention(id, t, channel, window, part) {
  const q = new URLSearchParams({ t: String(t), channel: String(channel), window: String(window) });
  withPart(q, part);
  return request("GET", `/api/sessions/${encodeURIComponent(id)}/hidden-attention?${q}`);
}

/** This session's signals minus session `from`'s over [start, stop), by the server. */
export function getDifference(id, from, start, stop, names, part) {
  const q = new URLSearchParams({ from, start: String(start), stop: String(stop), names: names.join(",") });
  withPart(q, part);
  return request("GET", `/api/sessions/${encodeURIComponent(id)}/difference?${q}`);
}

/** One weight of a session's cell: {param, row, col, value, original} (before its edits). */
export function getWeight(id, param, row, col, part) {
  const q = new URLSearchParams({ param, row: String(row) });
  if (col !== null && col !== undefined) q.set("col", String(col));
  withPart(q, part);
  return request("GET", `/api/sessions/${encodeURIComponent(id)}/weight?${q}`);
}

/** The guided tours: [{name, title, source, steps}]. */
export const getTours = () => request("GET", "/api/tours");
