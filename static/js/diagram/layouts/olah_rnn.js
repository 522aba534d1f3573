// Olah-style vanilla RNN: [h_{t−1}, x_t] through one tanh (or relu) layer gives h_t.

import { merge, neighbours, sized } from "./common.js";
import { rnnLegend } from "./legend.js";

export default function olahRnn({ hidden, input, options }) {
  const act = options?.nonlinearity === "relu" ? "relu" : "tanh";
  const B = 455;
  const L = 330;
  const cell = {
    boxes: [{ x: 180, y: 50, w: 650, h: 450, cls: "cell", titleAt: [196, 72, "start"], title: `RNN cell at step t (${act})` }],
    pipes: [
      { signal: "h_prev", identity: "hprev", points: [[150, B], [218, B]],
        label: { text: sized("h_{t−1}", hidden, "H"), at: [154, B - 30] }, value: [156, B + 22], strip: { at: [156, B + 30], w: 60 } },
      { signal: "x", points: [[245, 592], [245, B + 17]],
        label: { text: sized("x_t", input, "I"), at: [254, 585] }, strip: { at: [254, 540], w: 60 } },
      { points: [[272, B], [500, B]], cls: "bus", arrow: false,
        label: { text: `[h_{t−1}, x_t]  (H + I = ${hidden + input})`, at: [290, B + 24] } },
      { signal: "h_pre", points: [[500, B], [500, L + 22]],
        label: { text: "pre(h_t)", at: [510, 410] }, value: [510, 428], strip: { at: [510, 434], w: 64 } },
      { signal: "h", identity: "hnew", points: [[500, L - 22], [500, 200], [700, 200], [700, B], [860, B]],
        label: { text: "h_t", at: [710, B - 12] }, value: [710, B + 22], strip: { at: [560, 210], w: 64 } },
      { signal: "h", identity: "hnew", points: [[700, 200], [700, 18]], label: { text: "h_t (output)", at: [710, 30] } },
    ],
    nodes: [
      { type: "layer", text: act, signal: "h", x: 500, y: L, w: 72 },
      { type: "box", text: "concat", x: 245, y: B, w: 54, h: 30, cls: "concat" },
    ],
    texts: [{ at: [510, 396], text: "= W·[h_{t−1}, x_t] + b", cls: "note" }],
  };
  return {
    title: `RNN (${act}), Olah style`,
    style: "olah",
    viewBox: [1000, 600],
    legend: rnnLegend({ act }),
    ...merge(neighbours({ rows: [[B, "h_{t+1}"]] }), cell),
  };
}
