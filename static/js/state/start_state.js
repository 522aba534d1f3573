// A session's starting state (h and c per layer and direction), as the form config and the
// URL write it: "h:0.5,-0.25,1/0,0,0;c:0,0,0/1,2,3" — one ";"-separated entry per state,
// its rows ("/"-separated, one per layer and direction in the server's order) of
// ","-separated numbers. "" is zeros everywhere (no `state` in the request). Which rows
// exist and how wide each is comes from the server (`state_sizes`); the server checks the
// numbers (a 422 names the state, row and value at fault).

export const STATE_NAMES = ["h", "c"]; // the starting states a request may give, in order

/** The rows of starting state the server asks for: [{layer, direction, sizes: {h, c}}],
 *  from an upload's record (`state_sizes`) or a session record's parts. */
export function stateRows(source) {
  if (Array.isArray(source?.state_sizes)) return source.state_sizes;
  if (!Array.isArray(source?.cells)) return [];
  return source.cells.flatMap((layer, index) => layer.map((part) => (
    { layer: index, direction: part.direction, sizes: part.state_sizes ?? {} })));
}

/** {h: [row text, ...], c: [...]} of a config's state text (rows as written). */
export function rowTexts(text) {
  const out = {};
  for (const entry of String(text ?? "").split(";").filter(Boolean)) {
    const at = entry.indexOf(":");
    if (at > 0) out[entry.slice(0, at)] = entry.slice(at + 1).split("/");
  }
  return out;
}

/** The words of one typed field: numbers separated by commas or spaces ("" or "zeros":
 *  none, i.e. zeros). */
export function fieldWords(typed) {
  // the text's own separators (/ ; :) cannot be in a word: such a word is no number anyway
  const words = String(typed ?? "").trim().split(/[\s,]+/).filter(Boolean).map((w) => w.replace(/[/;:]/g, "?"));
  return words.length === 1 && words[0].toLowerCase() === "zeros" ? [] : words;
}

/** The config text of the typed fields: `typed(name, row)` gives a field's text; a row left
 *  empty (or "zeros") is that many zeros; a state left zero in every row is left out. */
export function stateText(rows, typed) {
  const entries = [];
  for (const name of STATE_NAMES) {
    const present = rows.filter((r) => name in (r.sizes ?? {}));
    if (!present.length) continue;
    const words = present.map((r) => fieldWords(typed(name, r)));
    if (words.every((w) => w.length === 0)) continue;
    entries.push(`${name}:${words.map((w, k) => (w.length ? w : Array(present[k].sizes[name]).fill("0")).join(",")).join("/")}`);
  }
  return entries.join(";");
}

/** The config text of a session record's `state` (as the server echoes what was given). */
export function textOfState(state) {
  if (!state) return "";
  return STATE_NAMES.filter((n) => Array.isArray(state[n])).map((n) => {
    const rows = Array.isArray(state[n][0]) ? state[n] : [state[n]];
    return `${n}:${rows.map((r) => r.map(String).join(",")).join("/")}`;
  }).join(";");
}

/** The POST /api/sessions `state` of a config's text (null for zeros): one row per layer
 *  and direction; a word that is not a number is sent as written, for the server to name. */
export function stateBody(text) {
  const rows = rowTexts(text);
  const body = {};
  for (const name of STATE_NAMES) {
    if (!rows[name]) continue;
    body[name] = rows[name].map((row) => row.split(",").filter((w) => w !== "").map((w) => {
      const n = Number(w);
      return Number.isFinite(n) && w.trim() !== "" ? n : w;
    }));
  }
  return Object.keys(body).length ? body : null;
}

/** The field (name, row index among the rows that have that state) a server refusal of
 *  the state concerns, or null: "state.h: row 1, value 2 …", "h0 row of layer 1 backward
 *  …", "c0 given, but layer 0 forward …". */
export function faultOf(message, rows) {
  const text = String(message ?? "");
  let m = /state\.(h|c): (?:row (\d+), )?value/.exec(text);
  if (m) return { name: m[1], index: Number(m[2] ?? 0) };
  m = /\b(h|c)0 (?:row of|given, but) layer (\d+) (\w+)/.exec(text);
  if (m) {
    const index = rows.filter((r) => m[1] in (r.sizes ?? {}))
      .findIndex((r) => r.layer === Number(m[2]) && r.direction === m[3]);
    return { name: m[1], index: index < 0 ? null : index };
  }
  m = /\b(h|c)0 has shape/.exec(text);
  return m ? { name: m[1], index: null } : null;
}
