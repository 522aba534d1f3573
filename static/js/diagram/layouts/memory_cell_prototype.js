// Memory-cell picture of the prototype LSTM of “Written Memories” (r2rt, 2016), normalised prototype and pseudo LSTM:
// the central Cell holds the state c (that article's s) and loops back to itself through the
// forget valve. Read first, then write (that article's order): the state read — c_{t−1}, or
// tanh(c_{t−1}) in the pseudo LSTM — feeds the σ layers of i, f, o, and passes the read
// valve o into the candidate layer; the write valve i lets c̃_t into the + and so into the
// Cell (through ÷ √(var(ĉ_t) + 1) in the normalised prototype). The output is the state
// itself, or tanh of it in the pseudo LSTM: there is no output valve.

import { sized } from "./common.js";
import { prototypeLegend } from "./legend.js";

const TITLES = { prototype_lstm: "prototype LSTM", normalized_lstm: "normalised prototype LSTM", pseudo_lstm: "pseudo LSTM" };

export default function memoryCellPrototype({ kind, hidden, input }) {
  const pseudo = kind === "pseudo_lstm";
  const norm = kind === "normalized_lstm";
  const [CX, CY, R] = [520, 140, 48]; // the Cell
  const P = 350; // the + (write joint) row
  const [VX, VY] = [720, 230]; // forget valve
  const [GX, GY] = [340, 430]; // candidate layer
  const OX = 215; // read valve, left of the candidate layer
  const IX = 420; // write valve
  const FX = 840; // forget layer
  const L = 500; // σ layer row
  const B = 570; // the [read, x_t] bus
  const XIN = 150; // concat
  const RL = 105; // the read lane down the left side
  const OUT = 70; // the output lane across the top
  const readText = pseudo ? "tanh(c_{t−1})" : "c_{t−1}";

  const pipes = [
    // the self-loop: c_{t−1} leaves the Cell, passes the forget valve, returns through +
    { signal: "c_prev", identity: "cprev", points: [[CX + R, CY], [VX, CY], [VX, VY - 17]],
      label: { text: "c_{t−1} (old state)", at: [584, CY - 10] }, value: [584, CY + 22], strip: { at: [584, CY + 28], w: 64 } },
    { signal: "kept", points: [[VX, VY + 17], [VX, P], [CX + 13, P]],
      label: { text: "f_t ⊙ c_{t−1}", at: [600, P - 10] }, value: [600, P + 22], strip: { at: [600, P + 28], w: 64 } },
    { signal: "f", points: [[FX, L - 20], [FX, VY], [VX + 17, VY]],
      label: { text: "f_t", at: [FX + 8, 420] }, value: [FX + 8, 436], strip: { at: [FX + 8, 442], w: 48 } },
    // the write: c̃_t through the write valve i into the +
    { signal: "g", points: [[GX, GY - 20], [GX, P], [IX - 17, P]],
      label: { text: "c̃_t", at: [GX + 8, 372] }, value: [GX + 8, 390], strip: { at: [GX + 8, 396], w: 56 } },
    { signal: "i", points: [[IX, L - 20], [IX, P + 17]],
      label: { text: "i_t", at: [IX + 8, 440] }, value: [IX + 8, 456], strip: { at: [IX + 8, 462], w: 48 } },
    { signal: "written", points: [[IX + 17, P], [CX - 13, P]],
      label: { text: "i_t ⊙ c̃_t", at: [442, P - 24] }, value: [442, P - 10] },
    // the read valve: o_t gates the state read into the candidate layer
    { signal: "read", points: [[RL, GY], [OX - 17, GY]], label: { text: "read", at: [RL + 10, GY - 8] } },
    { signal: "o", points: [[OX, L - 20], [OX, GY + 17]],
      label: { text: "o_t", at: [OX - 8, 462], anchor: "end" }, value: [OX - 8, 476, "end"], strip: { at: [OX - 56, 482], w: 40 } },
    { signal: "read_gated", points: [[OX + 17, GY], [GX - 32, GY]],
      label: { text: `o_t ⊙ ${readText}`, at: [OX + 20, GY - 10] }, value: [OX + 22, GY + 20] },
    // inputs: x_t into the concat (with the read) and, on its own lane, into the candidate layer
    { signal: "x", points: [[XIN, 650], [XIN, B + 17]],
      label: { text: sized("x_t", input, "I"), at: [XIN + 10, 644] } },
    { signal: "x", points: [[XIN, 600], [GX + 20, 600], [GX + 20, GY + 22]], label: { text: "x_t", at: [GX + 28, 596] } },
    { points: [[XIN + 27, B], [FX, B]], cls: "bus", arrow: false,
      label: { text: `[read, x_t]  (H + I = ${hidden + input})`, at: [470, B - 8] } },
    ...[OX, IX, FX].map((x) => ({ points: [[x, B], [x, L + 22]], cls: "bus" })),
  ];
  const nodes = [
    { type: "cell", signal: "c", x: CX, y: CY, text: "Cell", r: R, caption: [CX, CY + 26, "c (state)"] },
    { type: "valve", signal: "f", x: VX, y: VY, flow: "v", name: "forget valve f_t",
      value: [VX + 24, VY - 10], caption: [VX + 24, VY - 26, "forget valve f_t", "start"], stage: "forget" },
    { type: "op", text: "+", signal: norm ? "c_raw" : "c", x: CX, y: P },
    { type: "valve", signal: "i", x: IX, y: P, flow: "h", name: "input valve (i)",
      value: [IX + 24, P + 30], caption: [IX + 24, P + 46, "input valve i_t", "start"], stage: "write" },
    { type: "valve", signal: "o", x: OX, y: GY, flow: "h", name: "read valve (o)",
      value: [OX, GY - 40, "middle"], caption: [OX, GY - 26, "read valve o_t"] },
    { type: "layer", text: "tanh", signal: "g", x: GX, y: GY },
    { type: "layer", text: "σ", signal: "o", x: OX, y: L },
    { type: "layer", text: "σ", signal: "i", x: IX, y: L },
    { type: "layer", text: "σ", signal: "f", x: FX, y: L },
    { type: "box", text: "concat", x: XIN, y: B, w: 54, h: 30, cls: "concat" },
  ];

  // The state read, down the left side to the concat: c_{t−1} itself, or tanh(c_{t−1}).
  if (pseudo) {
    pipes.push(
      { signal: "c_prev", identity: "cprev", points: [[CX - R, CY], [RL, CY], [RL, 203]],
        label: { text: "c_{t−1}", at: [250, CY - 10] }, value: [250, CY + 22], strip: { at: [250, CY + 28], w: 64 } },
      { signal: "read", points: [[RL, 229], [RL, B], [XIN - 27, B]],
        label: { text: `read = ${readText}`, at: [RL + 10, 290] }, value: [RL + 10, 306], strip: { at: [RL + 10, 312], w: 56 } },
    );
    nodes.push({ type: "op", text: "tanh", signal: "read", x: RL, y: 216 });
  } else {
    pipes.push({ signal: "read", identity: "cprev", points: [[CX - R, CY], [RL, CY], [RL, B], [XIN - 27, B]],
      label: { text: `read = ${readText}`, at: [250, CY - 10] }, value: [250, CY + 22], strip: { at: [250, CY + 28], w: 64 } });
  }

  // The new state into the Cell: straight from the +, or divided by √(var(ĉ_t) + 1).
  if (norm) {
    pipes.push(
      { signal: "c_raw", points: [[CX, P - 13], [CX, 258]],
        label: { text: "ĉ_t", at: [CX + 10, 296] }, value: [CX + 10, 312] },
      { signal: "c_raw", points: [[CX, 292], [470, 292]], label: { text: "ĉ_t", at: [495, 284], anchor: "middle" } },
      { signal: "c_scale", points: [[IX, 278], [IX, 245], [CX - 13, 245]],
        label: { text: "√(var(ĉ_t) + 1)", at: [IX - 8, 240], anchor: "end" }, value: [IX + 8, 266] },
      { signal: "c", identity: "cnew", points: [[CX, 232], [CX, CY + R + 2]],
        label: { text: "c_t", at: [CX + 10, 212] }, value: [CX + 10, 228] },
    );
    nodes.push(
      { type: "op", text: "÷", signal: "c", x: CX, y: 245 },
      { type: "box", text: "√(var(·) + 1)", signal: "c_scale", x: IX, y: 292, w: 96, h: 28, cls: "norm" },
    );
  } else {
    pipes.push({ signal: "c", identity: "cnew", points: [[CX, P - 13], [CX, CY + R + 2]],
      label: { text: "c_t (new state)", at: [CX + 10, 262] }, value: [CX + 10, 278], strip: { at: [CX + 10, 284], w: 56 } });
  }

  // The output: the state itself (no output valve), or tanh of it in the pseudo LSTM.
  if (pseudo) {
    pipes.push(
      { signal: "c", identity: "cnew", points: [[CX, CY - R], [CX, OUT], [600, OUT]],
        label: { text: "c_t", at: [536, OUT - 10] }, value: [536, OUT + 18] },
      { signal: "h", points: [[652, OUT], [985, OUT]],
        label: { text: "h_t = tanh(c_t)  (output)", at: [668, OUT - 10] }, value: [668, OUT + 20], strip: { at: [730, OUT + 10], w: 64 } },
    );
    nodes.push({ type: "op", text: "tanh", signal: "h", x: 626, y: OUT });
  } else {
    pipes.push({ signal: "h", identity: "cnew", points: [[CX, CY - R], [CX, OUT], [985, OUT]],
      label: { text: "h_t = c_t  (output)", at: [600, OUT - 10] }, value: [600, OUT + 20], strip: { at: [660, OUT + 10], w: 64 } });
  }

  return {
    title: `${TITLES[kind]} (“Written Memories”, r2rt 2016), memory-cell picture`,
    style: "memory-cell",
    viewBox: [1000, 660],
    legend: prototypeLegend({ kind, memoryCell: true }),
    boxes: [{ x: 60, y: 30, w: 920, h: 582, cls: "cell", titleAt: [76, 52, "start"], title: `${TITLES[kind]} memory block, step t` }],
    pipes,
    nodes,
    texts: [{ at: [980, 634], anchor: "end", cls: "note",
      text: "read first, then write (“Written Memories”, r2rt 2016): o_t is the read valve; no output valve" }],
  };
}
