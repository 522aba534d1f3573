// Olah-style mLSTM (Beck et al. 2024, "xLSTM: Extended Long Short-Term Memory"): the memory
// is a tank, each head's d × d matrix C drawn as a heatmap for the selected unit's head.
// The old memory comes in through the forget valve; the "k vᵀ" nozzle writes the outer
// product v_t k_tᵀ through the exponential input valve; the query tap reads C_t q_t, which
// is divided by max(|n_tᵀ q_t|, exp(−m_t)) with the normalizer n beside the tank (kept by
// the same forget valve). The stabilizer m is a gauge, as in the sLSTM drawing. The gates
// read x_t only: there is no recurrent weight.

import { sized } from "./common.js";
import { mlstmLegend } from "./legend.js";

const YC = 200; // the memory line
const YN = 80; // the normalizer line
const L = 470; // the layer row
const B = 580; // the x_t bus
const TANK = { x: 430, y: 120, size: 160 };

export default function olahMlstm({ hidden, input, options }) {
  const heads = options?.heads ?? 1;
  const gated = options?.output_gate !== false;
  const d = Math.max(1, Math.floor(hidden / heads));
  const pipes = [
    // the memory: in through the forget valve, into the tank
    { stage: "inputs", points: [[30, YC], [283, YC]], label: { text: `C_{t−1}  (d×d = ${d}×${d} per head)`, at: [34, YC - 12] } },
    { stage: "state", points: [[317, YC], [TANK.x - 6, YC]], label: { text: "f_t · C_{t−1}", at: [330, YC - 12] } },
    // the normalizer, kept by the same gate, with i_t k_t added
    { signal: "n_prev", points: [[30, YN], [283, YN]],
      label: { text: "n_{t−1} (normalizer)", at: [34, YN - 12] }, value: [40, YN + 22] },
    { stage: "state", points: [[317, YN], [647, YN]], label: { text: "f_t · n_{t−1}", at: [322, YN - 12] } },
    { stage: "state", points: [[660, 380], [660, YN + 13]], label: { text: "i_t k_t", at: [668, 300] } },
    { signal: "n", points: [[673, YN], [790, YN], [790, YC - 15]],
      label: { text: "n_t", at: [720, YN - 12] }, value: [720, YN + 22], strip: { at: [700, YN + 30], w: 50 } },
    // the forget gate reaches both valves
    { signal: "f", points: [[300, L - 20], [300, YC + 17]],
      label: { text: "f_t", at: [256, 330] }, value: [256, 348] },
    { signal: "f", points: [[300, YC - 17], [300, YN + 17]] },
    // the write: k and v into the nozzle, through the input valve, into the tank
    { signal: "k", points: [[480, L - 20], [480, 396]],
      label: { text: "k_t", at: [446, 430], anchor: "end" }, value: [446, 448, "end"] },
    { points: [[480, 410], [660, 410], [660, 380]], cls: "bus", arrow: false },
    { signal: "v", points: [[540, L - 20], [540, 396]],
      label: { text: "v_t", at: [548, 430] }, value: [548, 448] },
    { stage: "state", points: [[510, 364], [510, 337]] },
    { stage: "state", points: [[510, 303], [510, TANK.y + TANK.size + 6]],
      label: { text: "i_t · v_t k_tᵀ", at: [524, 296] } },
    { signal: "i", points: [[380, L - 20], [380, 320], [493, 320]],
      label: { text: "i_t", at: [372, 372], anchor: "end" }, value: [372, 390, "end"] },
    // the read: the query tap, the normalizer's divisor, the output valve
    { stage: "output", points: [[TANK.x + TANK.size + 6, YC], [712, YC]], label: { text: "C_t", at: [612, YC - 12] } },
    { signal: "q", points: [[740, L - 20], [740, YC + 20]],
      label: { text: "q_t", at: [748, 430] }, value: [748, 448] },
    { stage: "output", points: [[768, YC], [775, YC]], arrow: false },
    { signal: "h_tilde", points: [[805, YC], [863, YC]],
      label: { text: "h̃_t", at: [816, YC - 12] }, value: [816, YC + 26] },
    // the stabilizer
    { signal: "m_prev", points: [[30, 330], [192, 330]],
      label: { text: "m_{t−1}", at: [34, 318] }, value: [40, 352] },
    { signal: "m", points: [[220, 313], [220, 250]],
      label: { text: "m_t (log scale)", at: [160, 236] }, value: [232, 276] },
    // the input: every gate reads x_t only
    { signal: "x", points: [[170, 632], [170, B + 2]],
      label: { text: sized("x_t", input, "I"), at: [180, 625] }, strip: { at: [180, 600], w: 60 } },
    { points: [[170, B], [gated ? 900 : 740, B]], cls: "bus", arrow: false,
      label: { text: heads > 1 ? `x_t only, no h_{t−1}  (${heads} heads of d = ${d})` : "x_t only, no h_{t−1}", at: [360, B - 8] } },
    ...[300, 380, 480, 540, 740, ...(gated ? [900] : [])].map((x) => ({ points: [[x, B], [x, L + 22]], cls: "bus" })),
    { points: [[220, B], [220, 347]], cls: "bus" },
  ];
  // h_t leaves upward; without the output gate it is h̃_t itself
  pipes.push({ signal: "h", points: gated ? [[897, YC - 20], [897, 40], [990, 40]] : [[866, YC], [897, YC], [897, 40], [990, 40]],
    label: { text: gated ? "h_t" : "h_t = h̃_t", at: [930, 28] }, value: [930, 60], strip: { at: [930, 70], w: 50 } });
  if (gated) {
    pipes.push({ signal: "o", points: [[900, L - 20], [900, YC + 17]],
      label: { text: "o_t", at: [908, 330] }, value: [908, 348] });
  }
  const nodes = [
    { type: "tank", signal: "C", ...TANK, heads, hidden, caption: [TANK.x + TANK.size / 2, TANK.y - 12, "memory tank C_t"] },
    { type: "valve", signal: "f", x: 300, y: YC, flow: "h", name: "forget valve (f)",
      value: [300, YC + 36, "middle"], caption: [300, YC + 52, "forget valve f_t"], stage: "forget" },
    { type: "valve", signal: "f", x: 300, y: YN, flow: "h", name: "forget valve of the normalizer (f)" },
    { type: "op", text: "+", signal: "n", x: 660, y: YN },
    { type: "box", text: "v kᵀ", x: 510, y: 380, w: 70, h: 32, caption: [560, 372, "k vᵀ nozzle", "start"] },
    { type: "valve", signal: "i", x: 510, y: 320, flow: "v", name: "exponential input valve (i)", stage: "write" },
    { type: "box", text: "C q", signal: "h_tilde", x: 740, y: YC, w: 56, h: 36,
      caption: [740, YC - 30, "query tap"] },
    { type: "op", text: "÷", x: 790, y: YC, caption: [822, YC + 50, "÷ max(|nᵀq|, exp(−m))"] },
    { type: "box", text: "max", signal: "m", x: 220, y: 330, w: 56, h: 34 },
    { type: "layer", text: "σ·exp", signal: "f", x: 300, y: L },
    { type: "layer", text: "exp", signal: "i", x: 380, y: L },
    { type: "layer", text: "W_k", signal: "k", x: 480, y: L, w: 52 },
    { type: "layer", text: "W_v", signal: "v", x: 540, y: L, w: 52 },
    { type: "layer", text: "W_q", signal: "q", x: 740, y: L, w: 52 },
  ];
  if (gated) {
    nodes.push(
      { type: "valve", signal: "o", x: 900, y: YC, flow: "h", name: "output valve (o)" },
      { type: "layer", text: "σ", signal: "o", x: 900, y: L },
    );
  }
  return {
    title: `mLSTM (heads: ${heads}, d = ${d}), Olah style`,
    style: "olah",
    viewBox: [1000, 640],
    legend: mlstmLegend({ heads, gated }),
    boxes: [{ x: 150, y: 20, w: 830, h: 530, cls: "cell", titleAt: [166, 42, "start"],
      title: `mLSTM cell at step t (heads: ${heads})` }],
    pipes,
    nodes,
    texts: [],
  };
}
