// Every setting of the page, declared once (as tensorflow/playground's state.ts does): key,
// type, default, whether the URL holds it, and its role — "form" (what describes a session,
// what Run sends) or "view" (how the session on screen is looked at). The store, the URL
// and the form are derived from this one table.
//
// Nothing the server knows is typed here: the kinds, their options with the allowed values
// and defaults, the stage order and the limits come from GET /api/cells (`catalog`), the
// preset names and samples from GET /api/presets. A row's `def` and `applies` may depend on
// the other form values (a kind's option default, a preset's sample).

/** The settings table for this server. */
export function buildSettings(catalog, presets) {
  const limits = catalog.limits || {};
  const kindOf = (name) => catalog.kinds.find((k) => k.kind === name);
  const presetOf = (name) => presets.find((p) => p.name === name);
  const random = (c) => c.weights === "seed";
  const ownKind = (c) => c.weights !== "preset";

  // One row per option name of any kind; it applies to the kinds that have it.
  const optionNames = [...new Set(catalog.kinds.flatMap((k) => Object.keys(k.option_values || {})))];
  const optionRows = optionNames.map((name) => {
    const values = [...new Set(catalog.kinds.flatMap((k) => k.option_values?.[name] ?? []))];
    return {
      key: name, role: "form", option: true, label: name.replaceAll("_", " "),
      type: values.every((v) => typeof v === "boolean") ? "bool" : "enum", values,
      def: (c) => kindOf(c.cell)?.options?.[name] ?? values[0],
      applies: (c) => ownKind(c) && name in (kindOf(c.cell)?.option_values ?? {}),
    };
  });

  // `cell: true`: the row says which cell runs (its kind, weights source and sizes); holds
  // and weight edits are made for one cell, so a change there releases them (views/form.js)
  const rows = [
    { key: "weights", role: "form", type: "enum", values: ["preset", "seed", "upload"], def: "preset", label: "Weights source",
      cell: true },
    { key: "preset", role: "form", type: "enum", values: presets.map((p) => p.name), def: presets[0]?.name ?? "",
      label: "Preset", applies: (c) => c.weights === "preset", cell: true },
    { key: "cell", role: "form", type: "enum", values: catalog.kinds.map((k) => k.kind),
      def: (c) => (c.weights === "preset" ? presetOf(c.preset)?.cell : null) ?? catalog.kinds[0]?.kind,
      label: "Cell kind", applies: ownKind, cell: true },
    ...optionRows,
    { key: "seed", role: "form", type: "int", min: 0, max: Math.min(limits.max_seed ?? 2 ** 31, Number.MAX_SAFE_INTEGER),
      def: 0, label: "Seed", applies: random },
    { key: "hidden", role: "form", type: "int", min: 1, max: limits.max_hidden_size ?? 1024, def: 8,
      label: "Hidden size H", applies: random, cell: true },
    { key: "weights_id", role: "form", type: "string", def: "", label: "Weights file", applies: (c) => c.weights === "upload",
      cell: true },
    { key: "seq", role: "form", type: "enum", values: ["text", "numbers"], def: "text", label: "Sequence kind" },
    // a preset's own sample is its default text, so it stays out of links
    { key: "text", role: "form", type: "string", label: "Sequence", maxInUrl: 4000,
      def: (c) => (c.weights === "preset" && c.seq === "text" ? presetOf(c.preset)?.sample ?? "" : "") },
    // what if: signals held at a value (state/session_config.js writes and reads them)
    { key: "hold", role: "form", type: "string", def: "", label: "Held signals" },
    // what if: weights changed, for every step (state/session_config.js writes and reads them)
    { key: "wedit", role: "form", type: "string", def: "", label: "Edited weights" },
    // the starting state h, c per layer and direction; "" is zeros (state/start_state.js)
    { key: "state", role: "form", type: "string", def: "", label: "Starting state" },

    { key: "session", role: "view", type: "string", def: "" },
    { key: "t", role: "view", type: "int", min: 0, def: 0, label: "Time step" },
    { key: "unit", role: "view", type: "int", min: 0, def: 0, label: "Unit" },
    { key: "stage", role: "view", type: "enum", values: ["all", ...catalog.stages], def: "all" },
    { key: "style", role: "view", type: "enum", values: ["olah", "memory-cell"], def: "olah", label: "Diagram style" },
    { key: "signal", role: "view", type: "string", def: "" },
    { key: "live", role: "view", type: "bool", def: false, label: "Live" }, // typing appends steps
    { key: "speed", role: "view", type: "int", min: 1, max: catalog.stream?.max_play_rate ?? 60, def: 10, label: "Speed" },
    // which cell of a model is drawn (a single cell is layer 0, forward); the session's own
    // layers and directions bound them (views/model_parts.js)
    { key: "layer", role: "view", type: "int", min: 0, def: 0, label: "Layer" },
    { key: "direction", role: "view", type: "enum", values: ["forward", "backward"], def: "forward", label: "Direction" },
    // the sensitivity view: of h_t or c_t, and whether the diagram's pipes show it
    { key: "sens_of", role: "view", type: "enum", values: ["h", "c"], def: "h", label: "Sensitivity of" },
    { key: "sens_pipes", role: "view", type: "bool", def: false, label: "Colour pipes by sensitivity" },
    // the heatmaps: each unit coloured on its own scale (display only)
    { key: "unit_scale", role: "view", type: "bool", def: false, label: "Scale each heatmap row" },
    // a Mamba's bank view: the order of its channel rows (display only)
    { key: "bank_sort", role: "view", type: "enum", values: ["channel", "retention", "write_strength", "y"], def: "channel",
      label: "Sort channels by" },
    // what if: the session the held one is compared with (its original run); it means
    // something only beside holds or weight edits
    { key: "orig", role: "view", type: "string", def: "", applies: (c) => Boolean(c.hold || c.wedit) },
    // side by side: "ID1,ID2[,ID3]", the first the session on screen
    { key: "compare", role: "view", type: "string", def: "" },
    // a guided tour and its step (each step is a URL state)
    { key: "tour", role: "view", type: "string", def: "" },
    { key: "tour_step", role: "view", type: "int", min: 0, def: 0, label: "Tour step" },

    // The Train panel (POST /api/train): not part of a session, not in the URL.
    { key: "train_on", role: "train", type: "enum", values: ["sequence", "text"], def: "sequence", label: "Train on" },
    { key: "train_cell", role: "train", type: "enum", values: catalog.kinds.map((k) => k.kind),
      def: catalog.kinds.some((k) => k.kind === "lstm") ? "lstm" : catalog.kinds[0]?.kind, label: "Kind to train" },
    { key: "train_hidden", role: "train", type: "int", min: 1, max: limits.train?.max_hidden_size ?? 512, def: 32,
      label: "Training hidden size" },
    { key: "train_steps", role: "train", type: "int", min: 1, max: limits.train?.max_steps ?? 20000, def: 200,
      label: "Training steps" },
  ];
  return {
    rows,
    row: (key) => rows.find((r) => r.key === key),
    form: rows.filter((r) => r.role === "form"),
    view: rows.filter((r) => r.role === "view"),
    train: rows.filter((r) => r.role === "train"),
    options: optionRows,
    catalog,
    presets,
    kindOf,
    presetOf,
  };
}

/** The default of `row` given the other values. */
export const defaultOf = (row, values) => (typeof row.def === "function" ? row.def(values) : row.def);

/** Whether `row` means anything given the other values (an RNN's option on an LSTM does not). */
export const applies = (row, values) => !row.applies || Boolean(row.applies(values));

const INTEGER = /^[+-]?\d+$/;

/** Parse a typed or URL value: {value} or {error: a sentence naming the field}. */
export function parseValue(row, raw) {
  const text = String(raw ?? "").trim();
  switch (row.type) {
    case "int": {
      const range = `a whole number from ${row.min ?? 0}${row.max !== undefined ? ` to ${row.max}` : " up"}`;
      if (!INTEGER.test(text)) return { error: `${row.label} must be ${range}; “${text}” is not.` };
      const n = Number(text);
      if (!Number.isSafeInteger(n) || n < (row.min ?? -Infinity) || n > (row.max ?? Infinity)) {
        return { error: `${row.label} must be ${range}; ${text} is out of range.` };
      }
      return { value: n };
    }
    case "bool":
      if (text === "1" || text === "true") return { value: true };
      if (text === "0" || text === "false") return { value: false };
      return { error: `${row.label} must be on or off.` };
    case "enum": {
      const hit = row.values.find((v) => String(v) === text);
      return hit === undefined ? { error: `${row.label}: “${text}” is not one of ${row.values.join(", ")}.` } : { value: hit };
    }
    default:
      return { value: String(raw ?? "") };
  }
}

/** A value as the URL writes it. */
export const valueText = (row, v) => (row.type === "bool" ? (v ? "1" : "0") : String(v));

/** `values` with every missing or inapplicable form key set to its default, in table order
 *  (a default may depend on the rows before it). */
export function resolve(settings, values) {
  const out = { ...values };
  // a preset fixes its cell kind
  if (out.weights === "preset" && settings.presetOf(out.preset)) out.cell = settings.presetOf(out.preset).cell;
  for (const row of settings.form) {
    if (out[row.key] === undefined || out[row.key] === null) out[row.key] = defaultOf(row, out);
  }
  return out;
}

/** The form keys that apply to `values`, with their values (what describes the session). */
export function applied(settings, values) {
  const out = {};
  for (const row of settings.form) if (applies(row, values)) out[row.key] = values[row.key];
  return out;
}

/** Whether two form configs describe the same session. */
export function sameConfig(settings, a, b) {
  const x = applied(settings, a);
  const y = applied(settings, b);
  const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
  return [...keys].every((k) => String(x[k]) === String(y[k]));
}
