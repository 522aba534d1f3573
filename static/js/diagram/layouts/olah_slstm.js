// Olah-style sLSTM (Beck et al. 2024, xLSTM): the cell state c along the top and, beside
// it, the normalizer n, both kept by the same forget valve; the exponential input valve
// writes into c and adds its weight to n; h_t = o_t ⊙ c_t / n_t. The stabilizer m is a
// gauge (a log scale): it rescales c and n together and cancels in c / n.

import { merge, neighbours, sized } from "./common.js";
import { slstmLegend } from "./legend.js";

const YC = 100; // the c line
const YN = 185; // the n line
const L = 430; // the layer row
const B = 525; // the [h_{t−1}, x_t] bus

export default function olahSlstm({ hidden, input, options }) {
  const heads = options?.heads ?? 1;
  const cell = {
    boxes: [{ x: 180, y: 50, w: 650, h: 450, cls: "cell", titleAt: [822, 488, "end"],
      title: `sLSTM cell at step t (heads: ${heads})` }],
    pipes: [
      { signal: "c_prev", points: [[150, YC], [283, YC]],
        label: { text: sized("c_{t−1}", hidden, "H"), at: [154, YC - 12] }, value: [196, YC + 22], strip: { at: [196, YC + 30], w: 60 } },
      { signal: "kept", points: [[317, YC], [587, YC]],
        label: { text: "f_t ⊙ c_{t−1}", at: [340, YC - 12] }, value: [340, YC + 22] },
      { signal: "c", points: [[613, YC], [860, YC]],
        label: { text: "c_t", at: [700, YC - 12] }, value: [700, YC + 22], strip: { at: [640, YC + 30], w: 50 } },
      { signal: "n_prev", points: [[150, YN], [283, YN]],
        label: { text: "n_{t−1} (normalizer)", at: [154, YN - 12] }, value: [196, YN + 22] },
      { points: [[317, YN], [647, YN]], label: { text: "f_t ⊙ n_{t−1}", at: [340, YN - 12] } },
      { signal: "n", points: [[673, YN], [860, YN]],
        label: { text: "n_t", at: [700, YN - 12] }, value: [700, YN + 22] },
      // the forget gate reaches both valves
      { signal: "f", points: [[300, L - 20], [300, YN + 17]],
        label: { text: "f_t", at: [256, 300] }, value: [256, 318], strip: { at: [228, 326], w: 60 } },
      { signal: "f", points: [[300, YN - 17], [300, YC + 17]] },
      // the exponential input gate: the write valve and n's sum
      { signal: "i", points: [[540, L - 20], [540, 330], [583, 330]],
        label: { text: "i_t", at: [486, 345] }, value: [486, 363], strip: { at: [486, 371], w: 46 } },
      { signal: "i", points: [[540, 330], [540, 260], [660, 260], [660, YN + 13]] },
      { signal: "z", points: [[600, L - 20], [600, 347]],
        label: { text: "z_t", at: [608, 400] }, value: [608, 418] },
      { signal: "written", points: [[600, 313], [600, YC + 13]],
        label: { text: "i_t ⊙ z_t", at: [608, 292] }, value: [608, 276] },
      // h = o ⊙ c / n
      { points: [[780, YC], [780, 248]], cls: "bus" },
      { points: [[800, YN], [800, 248]], cls: "bus" },
      { signal: "o", points: [[720, L - 20], [720, 330], [773, 330]],
        label: { text: "o_t", at: [676, 372] }, value: [676, 390] },
      { signal: "h", points: [[790, 347], [790, 470], [860, 470]],
        label: { text: "h_t", at: [804, 462] }, value: [800, 490], strip: { at: [730, 478], w: 44 } },
      // the stabilizer
      { signal: "m_prev", points: [[150, 300], [380, 300]],
        label: { text: "m_{t−1}", at: [154, 288] }, value: [196, 318] },
      { signal: "m", points: [[420, 280], [420, 230]],
        label: { text: "m_t (log scale)", at: [350, 216] }, value: [430, 250] },
      // inputs
      { signal: "h_prev", points: [[150, B], [218, B]],
        label: { text: sized("h_{t−1}", hidden, "H"), at: [154, B - 10] }, value: [154, B + 22] },
      { signal: "x", points: [[245, 592], [245, B + 17]],
        label: { text: sized("x_t", input, "I"), at: [254, 585] }, strip: { at: [254, 552], w: 60 } },
      { points: [[272, B], [720, B]], cls: "bus", arrow: false,
        label: { text: heads > 1 ? `[h_{t−1}, x_t]  (R within ${heads} heads)` : "[h_{t−1}, x_t]", at: [330, B - 8] } },
      ...[300, 540, 600, 720].map((x) => ({ points: [[x, B], [x, L + 22]], cls: "bus" })),
      { points: [[420, B], [420, 320]], cls: "bus" },
    ],
    nodes: [
      { type: "valve", signal: "f", x: 300, y: YC, flow: "h", name: "forget valve (f)",
        value: [300, YC - 28, "middle"], caption: [300, YC - 44, "forget valve f_t"], stage: "forget" },
      { type: "valve", signal: "f", x: 300, y: YN, flow: "h", name: "forget valve of the normalizer (f)" },
      { type: "op", text: "+", signal: "c", x: 600, y: YC },
      { type: "op", text: "+", signal: "n", x: 660, y: YN },
      { type: "valve", signal: "i", x: 600, y: 330, flow: "v", name: "exponential input valve (i)",
        stage: "write" },
      { type: "op", text: "÷", x: 790, y: 260 },
      { type: "valve", signal: "o", x: 790, y: 330, flow: "v", name: "output valve (o)",
        value: [812, 348], caption: [812, 318, "output valve o_t", "start"] },
      { type: "box", text: "max", signal: "m", x: 420, y: 300, w: 60, h: 36 },
      { type: "layer", text: "σ·exp", signal: "f", x: 300, y: L },
      { type: "layer", text: "exp", signal: "i", x: 540, y: L },
      { type: "layer", text: "tanh", signal: "z", x: 600, y: L, w: 48 },
      { type: "layer", text: "σ", signal: "o", x: 720, y: L },
      { type: "box", text: "concat", x: 245, y: B, w: 54, h: 30, cls: "concat" },
    ],
    texts: [{ at: [196, 44], cls: "note", text: "exponential gates, normalizer n beside c, stabilizer m" }],
  };
  return {
    title: `sLSTM (heads: ${heads}), Olah style`,
    style: "olah",
    viewBox: [1000, 600],
    legend: slstmLegend({ heads }),
    ...merge(neighbours({ rows: [[YC, "c_{t+1}"], [YN, "n_{t+1}"]] }), cell),
  };
}
