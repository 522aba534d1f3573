// Memory-cell picture of the sLSTM (Beck et al. 2024, xLSTM): the Cell c with its
// self-loop through the forget valve, and below it the normalizer n with its own loop
// through the same forget gate; the exponential input valve writes z_t into c and its own
// weight i_t into n; h_t = o_t ⊙ c_t / n_t. The stabilizer m_t is a gauge beside them.

import { sized } from "./common.js";
import { slstmLegend } from "./legend.js";

export default function memoryCellSlstm({ hidden, input, options }) {
  const heads = options?.heads ?? 1;
  const L = 560; // layer row
  const B = 620; // input bus
  const pipes = [
    // c: the self-loop through the forget valve, back through +
    { signal: "c_prev", points: [[530, 200], [680, 200], [680, 238]],
      label: { text: "c_{t−1}", at: [548, 188] }, value: [548, 222] },
    { signal: "kept", points: [[680, 272], [680, 300], [497, 300]],
      label: { text: "f_t ⊙ c_{t−1}", at: [560, 318] }, value: [560, 336] },
    { signal: "c", points: [[480, 287], [480, 250]] },
    { signal: "written", points: [[397, 300], [467, 300]],
      label: { text: "i_t ⊙ z_t", at: [392, 286] }, value: [400, 322] },
    { signal: "z", points: [[260, L - 20], [260, 300], [363, 300]],
      label: { text: "z_t", at: [268, 288] }, value: [254, 322, "end"] },
    { signal: "i", points: [[380, L - 20], [380, 317]],
      label: { text: "i_t", at: [388, 512] }, value: [388, 530] },
    // n: its own loop through the same forget gate, and i_t added
    { signal: "n_prev", points: [[512, 410], [640, 410], [640, 428]],
      label: { text: "n_{t−1}", at: [548, 398] }, value: [590, 398] },
    { points: [[640, 462], [640, 480], [497, 480]], label: { text: "f_t ⊙ n_{t−1}", at: [520, 498] } },
    { signal: "n", points: [[480, 467], [480, 442]] },
    { signal: "i", points: [[380, 480], [467, 480]] },
    { signal: "f", points: [[800, L - 20], [800, 255], [697, 255]],
      label: { text: "f_t", at: [808, 512] }, value: [808, 530] },
    { signal: "f", points: [[800, 445], [657, 445]] },
    // the read-out h = o ⊙ c / n
    { signal: "c", points: [[480, 150], [480, 110], [684, 110]],
      label: { text: "c_t (new memory)", at: [490, 98] }, value: [420, 134] },
    { signal: "n", points: [[448, 410], [420, 410], [420, 170], [700, 170], [700, 124]],
      label: { text: "n_t (normalizer)", at: [556, 160] }, value: [712, 190] },
    { signal: "o", points: [[900, L - 20], [900, 150], [800, 150], [800, 127]],
      label: { text: "o_t", at: [908, 512] }, value: [908, 530] },
    { signal: "h", points: [[817, 110], [985, 110]],
      label: { text: "h_t → next step", at: [975, 98], anchor: "end" }, value: [830, 134], strip: { at: [880, 140], w: 60 } },
    { points: [[716, 110], [783, 110]], label: { text: "c_t / n_t", at: [722, 98] } },
    // the stabilizer
    { signal: "m_prev", points: [[170, 200], [270, 200]],
      label: { text: "m_{t−1}", at: [176, 188] }, value: [176, 222] },
    { signal: "m", points: [[300, 182], [300, 120]],
      label: { text: "m_t (log scale)", at: [310, 136] }, value: [310, 154] },
    // inputs
    { signal: "h_prev", points: [[20, B], [172, B]],
      label: { text: sized("h_{t−1}", hidden, "H"), at: [24, B - 12] }, value: [24, B + 22] },
    { signal: "x", points: [[200, 683], [200, B + 17]],
      label: { text: sized("x_t", input, "I"), at: [210, 675] } },
    { points: [[227, B], [900, B]], cls: "bus", arrow: false,
      label: { text: heads > 1 ? `[h_{t−1}, x_t]  (R within ${heads} heads)` : "[h_{t−1}, x_t]", at: [440, B + 24] } },
    ...[260, 380, 800, 900].map((x) => ({ points: [[x, B], [x, L + 22]], cls: "bus" })),
  ];
  const nodes = [
    { type: "cell", signal: "c", x: 480, y: 200, text: "Cell", r: 50, caption: [480, 226, "c (memory)"] },
    { type: "cell", signal: "n", x: 480, y: 410, text: "n", r: 32 },
    { type: "valve", signal: "f", x: 680, y: 255, flow: "v", name: "forget valve f_t",
      value: [700, 262], caption: [700, 246, "forget valve f_t", "start"], stage: "forget" },
    { type: "valve", signal: "f", x: 640, y: 445, flow: "v", name: "forget valve of the normalizer" },
    { type: "op", text: "+", signal: "c", x: 480, y: 300 },
    { type: "op", text: "+", signal: "n", x: 480, y: 480 },
    { type: "valve", signal: "i", x: 380, y: 300, flow: "h", name: "exponential input valve i_t",
      caption: [330, 350, "exp. input valve i_t"], stage: "write" },
    { type: "op", text: "÷", x: 700, y: 110 },
    { type: "valve", signal: "o", x: 800, y: 110, flow: "h", name: "output valve o_t",
      value: [800, 82, "middle"], caption: [800, 66, "output valve o_t"] },
    { type: "box", text: "max", signal: "m", x: 300, y: 200, w: 60, h: 36 },
    { type: "layer", text: "tanh", signal: "z", x: 260, y: L },
    { type: "layer", text: "exp", signal: "i", x: 380, y: L },
    { type: "layer", text: "σ·exp", signal: "f", x: 800, y: L },
    { type: "layer", text: "σ", signal: "o", x: 900, y: L },
    { type: "box", text: "concat", x: 200, y: B, w: 54, h: 30, cls: "concat" },
  ];
  return {
    title: `sLSTM (heads: ${heads}), memory-cell picture`,
    style: "memory-cell",
    viewBox: [1000, 690],
    legend: slstmLegend({ heads }),
    boxes: [{ x: 150, y: 40, w: 830, h: 555, cls: "cell", titleAt: [166, 62, "start"],
      title: "sLSTM memory block, step t" }],
    pipes,
    nodes,
    texts: [],
  };
}
