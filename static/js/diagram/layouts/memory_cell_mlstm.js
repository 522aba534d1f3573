// Memory-cell picture of the mLSTM (Beck et al. 2024, "xLSTM: Extended Long Short-Term
// Memory"), drawn as the sLSTM's memory block is: the Cell is the memory tank C (the
// selected unit's head, a d × d heatmap), looping back to itself through the forget valve;
// the k vᵀ nozzle writes v_t k_tᵀ through the exponential input valve into the +. Below it
// the normalizer n loops through the same forget gate and takes i_t k_t through a second
// input valve on the same line. The read-out along the top: the query tap C_t q_t, divided
// by max(|n_tᵀ q_t|, exp(−m_t)), through the output valve to h_t. The stabilizer m is a
// gauge, as in the sLSTM picture. Every gate reads x_t only: there is no recurrent weight,
// and h_t does not come back.

import { sized } from "./common.js";
import { mlstmLegend } from "./legend.js";

const YR = 100; // the read-out line
const TANK = { x: 440, y: 150, size: 160 }; // the Cell: its wall spans 436…604, 146…314
const YW = 370; // the write row: nozzle, input valve, + into the tank
const NC = { x: 520, y: 470, r: 30 }; // the normalizer's cell
const YNW = 540; // the normalizer's write row
const YNR = 410; // the normalizer's way to the ÷
const L = 600; // the layer row
const B = 660; // the x_t bus
const X = { v: 210, k: 290, i: 380, f: 800, q: 872, o: 945 }; // the layers
const LOOP = 720; // the memory's loop through the forget valve
const NLOOP = 660; // the normalizer's loop
const DIV = 760; // the ÷ and the normalizer's rise to it

export default function memoryCellMlstm({ hidden, input, options }) {
  const heads = options?.heads ?? 1;
  const gated = options?.output_gate !== false;
  const d = Math.max(1, Math.floor(hidden / heads));
  const cx = TANK.x + TANK.size / 2;
  const right = TANK.x + TANK.size + 6;
  const pipes = [
    // C: out of the tank, through the forget valve, back through + (a matrix: no one number)
    { stage: "inputs", points: [[right, 270], [LOOP, 270], [LOOP, 303]], label: { text: "C_{t−1}", at: [614, 258] } },
    { stage: "state", points: [[LOOP, 337], [LOOP, YW], [cx + 17, YW]], label: { text: "f_t · C_{t−1}", at: [548, 358] } },
    { stage: "state", points: [[cx, YW - 13], [cx, TANK.y + TANK.size + 6]] },
    // the write: v and k into the nozzle, v_t k_tᵀ through the exponential input valve
    { signal: "v", points: [[X.v, L - 20], [X.v, YW + 16]],
      label: { text: "v_t", at: [X.v - 8, 470], anchor: "end" }, value: [X.v - 8, 488, "end"] },
    { signal: "k", points: [[X.k, L - 20], [X.k, YW + 16]],
      label: { text: "k_t", at: [X.k - 8, 470], anchor: "end" }, value: [X.k - 8, 488, "end"] },
    { stage: "state", points: [[300, YW], [X.i - 17, YW]], label: { text: "v_t k_tᵀ", at: [306, 358] } },
    { stage: "state", points: [[X.i + 17, YW], [cx - 13, YW]], label: { text: "i_t · v_t k_tᵀ", at: [404, 358] } },
    { signal: "i", points: [[X.i, L - 20], [X.i, YNW + 17]],
      label: { text: "i_t", at: [X.i + 8, 440] }, value: [X.i + 8, 458] },
    { signal: "i", points: [[X.i, YNW - 17], [X.i, YW + 17]] },
    // n: its own loop through the same forget gate, and i_t k_t added
    { signal: "n_prev", points: [[NC.x + NC.r, NC.y], [NLOOP, NC.y], [NLOOP, 488]],
      label: { text: "n_{t−1}", at: [560, 458] }, value: [566, 494] },
    { stage: "state", points: [[NLOOP, 522], [NLOOP, YNW], [NC.x + 17, YNW]], label: { text: "f_t · n_{t−1}", at: [548, 558] } },
    { signal: "n", points: [[NC.x, YNW - 13], [NC.x, NC.y + NC.r + 2]] },
    { signal: "k", points: [[X.k, YNW], [X.i - 17, YNW]] },
    { stage: "state", points: [[X.i + 17, YNW], [NC.x - 13, YNW]], label: { text: "i_t k_t", at: [404, 528] } },
    { signal: "f", points: [[X.f, L - 20], [X.f, 320], [LOOP + 17, 320]],
      label: { text: "f_t", at: [X.f + 8, 440] }, value: [X.f + 8, 458] },
    { signal: "f", points: [[X.f, 505], [NLOOP + 17, 505]] },
    // the read-out: the query tap, ÷ max(|nᵀq|, exp(−m)), the output valve
    { stage: "output", points: [[580, TANK.y - 6], [580, YR], [632, YR]], label: { text: "C_t", at: [590, 90] } },
    { signal: "q", points: [[X.q, L - 20], [X.q, 170], [660, 170], [660, YR + 18]],
      label: { text: "q_t", at: [X.q + 8, 400] }, value: [X.q + 8, 418] },
    { stage: "output", points: [[688, YR], [DIV - 13, YR]], label: { text: "C_t q_t", at: [694, 88] } },
    { signal: "n", points: [[NC.x, NC.y - NC.r], [NC.x, YNR], [DIV, YNR], [DIV, YR + 13]],
      label: { text: "n_t (normalizer)", at: [540, YNR - 8] }, value: [DIV + 8, 250] },
    { signal: "h_tilde", points: [[DIV + 13, YR], [843, YR]],
      label: { text: "h̃_t", at: [786, 88] }, value: [786, 124] },
    // the stabilizer
    { signal: "m_prev", points: [[170, 250], [270, 250]],
      label: { text: "m_{t−1}", at: [176, 238] }, value: [176, 272] },
    { signal: "m", points: [[300, 232], [300, 170]],
      label: { text: "m_t (log scale)", at: [310, 186] }, value: [310, 204] },
    // the input: every gate reads x_t only
    { signal: "x", points: [[170, 725], [170, B + 2]],
      label: { text: sized("x_t", input, "I"), at: [180, 708] }, strip: { at: [290, 700], w: 60 } },
    { points: [[170, B], [gated ? X.o : X.q, B]], cls: "bus", arrow: false,
      label: { text: heads > 1 ? `x_t only, no h_{t−1}  (${heads} heads of d = ${d})` : "x_t only, no h_{t−1}", at: [420, B + 24] } },
    ...Object.values(X).filter((x) => gated || x !== X.o).map((x) => ({ points: [[x, B], [x, L + 22]], cls: "bus" })),
  ];
  const h = gated
    ? { signal: "h", points: [[877, YR], [985, YR]], label: { text: "h_t (output)", at: [980, 88], anchor: "end" },
      value: [890, 124], strip: { at: [905, 40], w: 60 } }
    : { signal: "h", points: [[846, YR], [985, YR]], label: { text: "h_t = h̃_t (output)", at: [980, 88], anchor: "end" },
      value: [890, 124], strip: { at: [905, 40], w: 60 } };
  pipes.push(h);
  if (gated) {
    pipes.push({ signal: "o", points: [[X.o, L - 20], [X.o, 140], [860, 140], [860, YR + 17]],
      label: { text: "o_t", at: [X.o + 8, 400] }, value: [X.o + 8, 418] });
  }
  const nodes = [
    { type: "tank", signal: "C", ...TANK, heads, hidden, caption: [570, TANK.y - 12, "Cell: memory C_t", "end"] },
    { type: "valve", signal: "f", x: LOOP, y: 320, flow: "v", name: "forget valve f_t",
      value: [708, 350, "end"], caption: [708, 300, "forget valve f_t", "end"], stage: "state" },
    { type: "valve", signal: "f", x: NLOOP, y: 505, flow: "v", name: "forget valve of the normalizer", stage: "state" },
    { type: "op", text: "+", signal: "C", x: cx, y: YW },
    { type: "op", text: "+", signal: "n", x: NC.x, y: YNW },
    { type: "cell", signal: "n", x: NC.x, y: NC.y, text: "n", r: NC.r },
    { type: "box", text: "v kᵀ", x: 250, y: YW, w: 100, h: 32, caption: [250, 342, "k vᵀ nozzle"] },
    { type: "valve", signal: "i", x: X.i, y: YW, flow: "h", name: "exponential input valve i_t",
      caption: [X.i, 345, "exp. input valve i_t"], stage: "state" },
    { type: "valve", signal: "i", x: X.i, y: YNW, flow: "h", name: "exponential input valve of the normalizer",
      stage: "state" },
    { type: "box", text: "C q", x: 660, y: YR, w: 56, h: 36, caption: [640, 68, "query tap"] },
    { type: "op", text: "÷", x: DIV, y: YR, caption: [800, 68, "÷ max(|nᵀq|, exp(−m))"] },
    { type: "box", text: "max", signal: "m", x: 300, y: 250, w: 60, h: 36 },
    { type: "layer", text: "W_v", signal: "v", x: X.v, y: L, w: 52 },
    { type: "layer", text: "W_k", signal: "k", x: X.k, y: L, w: 52 },
    { type: "layer", text: "exp", signal: "i", x: X.i, y: L },
    { type: "layer", text: options?.forget === "exp" ? "exp" : "σ·exp", signal: "f", x: X.f, y: L },
    { type: "layer", text: "W_q", signal: "q", x: X.q, y: L, w: 52 },
  ];
  if (gated) {
    nodes.push(
      { type: "valve", signal: "o", x: 860, y: YR, flow: "h", name: "output valve o_t", stage: "output" },
      { type: "layer", text: "σ", signal: "o", x: X.o, y: L },
    );
  }
  return {
    title: `mLSTM (heads: ${heads}, d = ${d}), memory-cell picture`,
    style: "memory-cell",
    viewBox: [1000, 730],
    legend: mlstmLegend({ heads, gated, memoryCell: true }),
    boxes: [{ x: 150, y: 30, w: 830, h: 600, cls: "cell", titleAt: [166, 52, "start"],
      title: `mLSTM memory block, step t (heads: ${heads}, d × d = ${d} × ${d})` }],
    pipes,
    nodes,
    texts: [],
  };
}
