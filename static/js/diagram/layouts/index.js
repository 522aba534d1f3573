// Which layout draws which (kind, style). Adding a kind means adding a layout here.

import memoryCellLstm from "./memory_cell_lstm.js";
import memoryCellMlstm from "./memory_cell_mlstm.js";
import memoryCellPrototype from "./memory_cell_prototype.js";
import memoryCellSlstm from "./memory_cell_slstm.js";
import olahGru from "./olah_gru.js";
import { olahMinGru, olahMinLstm } from "./olah_min_rnn.js";
import olahMlstm from "./olah_mlstm.js";
import olahSlstm from "./olah_slstm.js";
import olahLstm from "./olah_lstm.js";
import olahLstmDiffs from "./olah_lstm_diffs.js";
import olahMamba from "./olah_mamba.js";
import olahPrototype from "./olah_prototype.js";
import olahRnn from "./olah_rnn.js";

const OLAH = {
  rnn: olahRnn,
  lstm: olahLstm,
  peephole_lstm: olahLstm,
  gru: olahGru,
  prototype_lstm: olahPrototype,
  normalized_lstm: olahPrototype,
  pseudo_lstm: olahPrototype,
  min_gru: olahMinGru,
  min_lstm: olahMinLstm,
  slstm: olahSlstm,
  mlstm: olahMlstm,
  mamba: olahMamba,
};

const MEMORY_CELL = {
  lstm: memoryCellLstm,
  peephole_lstm: memoryCellLstm,
  prototype_lstm: memoryCellPrototype,
  normalized_lstm: memoryCellPrototype,
  pseudo_lstm: memoryCellPrototype,
  slstm: memoryCellSlstm,
  mlstm: memoryCellMlstm,
};

export const STYLES = { olah: OLAH, "memory-cell": MEMORY_CELL };

/** Why the memory-cell style is unavailable for `kind`, or "" when it is available. */
export function memoryCellUnavailable(kind) {
  if (MEMORY_CELL[kind]) return "";
  if (kind === "rnn") return "Memory-cell style: only for the LSTM family — an RNN has no cell state, only h.";
  if (kind === "gru") return "Memory-cell style: only for the LSTM family — a GRU has no separate cell state, only h.";
  if (kind === "min_gru" || kind === "min_lstm") return `Memory-cell style: a ${kind} has no separate cell state, only h.`;
  if (kind === "mamba") return "Memory-cell style: a Mamba's memory is N states per channel, drawn in its own picture (Olah style).";
  return `Memory-cell style: no memory-cell drawing for ${kind}.`;
}

/** The layout data for (kind, style), falling back to the Olah style. */
export function layoutFor(kind, style, params) {
  const table = STYLES[style] || OLAH;
  // a pseudo LSTM with LSTM diff 1 passes a shadow state: the LSTM's picture, adapted
  const shadow = kind === "pseudo_lstm" && (params.options?.diffs || "").includes("1");
  const make = shadow ? olahLstmDiffs : table[kind] || OLAH[kind];
  if (!make) throw new Error(`no diagram for cell kind ${kind}`);
  const layout = make({ kind, ...params });
  return params.inputLabel ? relabelInput(layout, params.inputLabel) : layout;
}

/** The layout with the x_t labels of the input pipes saying what x_t is (in a model's layer
 *  l ≥ 1 it is h_t of layer l−1). Plain data in, plain data out. */
function relabelInput(layout, text) {
  const walk = (value) => {
    if (Array.isArray(value)) return value.map(walk);
    if (!value || typeof value !== "object") return value;
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = walk(v);
    if (out.signal === "x" && typeof out.label?.text === "string" && out.label.text.startsWith("x_t")) {
      out.label = { ...out.label, text: out.label.text.replace(/^x_t/, `x_t = ${text}`) };
    }
    return out;
  };
  return walk(layout);
}
