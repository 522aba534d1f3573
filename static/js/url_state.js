// Every view setting, declared once (like tensorflow/playground's state.ts), and its
// (de)serialisation to the URL query string. A reload or a shared link shows the same view.

const STAGES = ["all", "inputs", "gates", "forget", "write", "state", "output"];

/** key: URL parameter; type: how it is parsed; def: default (omitted from the URL). */
export const SETTINGS = [
  { key: "cell", type: "string", def: "lstm" },            // cell kind
  { key: "weights", type: "enum", values: ["preset", "seed", "upload"], def: "preset" },
  { key: "preset", type: "string", def: "counter" },       // preset name (weights=preset)
  { key: "seed", type: "int", def: 0 },                    // RNG seed (weights=seed)
  { key: "weights_id", type: "string", def: "" },          // uploaded file id (weights=upload)
  { key: "hidden", type: "int", def: 8 },                  // hidden size (weights=seed)
  { key: "reset_after", type: "bool", def: true },         // gru option
  { key: "nonlinearity", type: "enum", values: ["tanh", "relu"], def: "tanh" }, // rnn option
  { key: "seq", type: "enum", values: ["text", "numbers"], def: "text" },
  { key: "text", type: "string", def: "" },                // typed text or pasted numbers; "" = preset sample
  { key: "session", type: "string", def: "" },             // server session id
  { key: "t", type: "int", def: 0 },                       // time step
  { key: "unit", type: "int", def: 0 },                    // selected unit
  { key: "stage", type: "enum", values: STAGES, def: "all" }, // stage mode cursor
  { key: "style", type: "enum", values: ["olah", "memory-cell"], def: "olah" },
  { key: "signal", type: "string", def: "" },              // signal whose equation is pinned
  { key: "speed", type: "int", def: 10 },                  // play speed, steps/s
];

// Long pasted sequences stay out of the URL (the session id still restores them).
const MAX_TEXT_IN_URL = 4000;

function parseValue(setting, raw) {
  switch (setting.type) {
    case "int": {
      const n = Number.parseInt(raw, 10);
      return Number.isFinite(n) && n >= 0 ? n : setting.def;
    }
    case "bool":
      return raw === "1" || raw === "true";
    case "enum":
      return setting.values.includes(raw) ? raw : setting.def;
    default:
      return raw;
  }
}

/** Read all settings from a query string (defaults for those absent or invalid). */
export function readSettings(search = window.location.search) {
  const params = new URLSearchParams(search);
  const out = {};
  for (const s of SETTINGS) {
    out[s.key] = params.has(s.key) ? parseValue(s, params.get(s.key)) : s.def;
  }
  // `?preset=NAME` alone opens a preset; `?seed=N` alone means random weights.
  if (!params.has("weights")) {
    if (params.has("weights_id")) out.weights = "upload";
    else if (params.has("seed") && !params.has("preset")) out.weights = "seed";
  }
  return out;
}

/** Query string for `settings`; defaults are left out to keep links short. */
export function toQuery(settings) {
  const params = new URLSearchParams();
  for (const s of SETTINGS) {
    let v = settings[s.key];
    if (v === undefined || v === s.def) continue;
    if (s.key === "text" && String(v).length > MAX_TEXT_IN_URL) continue;
    if (s.type === "bool") v = v ? "1" : "0";
    params.set(s.key, String(v));
  }
  const q = params.toString();
  return q ? `?${q}` : "";
}

let pending = null;
let latest = null;

/** Replace the URL with `settings` (coalesced: at most one history write per 200 ms). */
export function writeSettings(settings) {
  latest = settings;
  if (pending) return;
  pending = setTimeout(() => {
    pending = null;
    const q = toQuery(latest);
    if (q !== window.location.search) {
      window.history.replaceState(null, "", `${window.location.pathname}${q}`);
    }
  }, 200);
}

/** Write immediately (before navigation-like changes). */
export function flushSettings(settings) {
  if (pending) clearTimeout(pending);
  pending = null;
  latest = settings;
  window.history.replaceState(null, "", `${window.location.pathname}${toQuery(settings)}`);
}
