// Olah-style GRU: h runs across the top; z keeps h_{t−1} and (1 − z) writes n_t; r acts
// on h_{t−1} before the matmul (reset_after = False, Cho 2014) or on W_hn·h_{t−1} + b_hn
// after it (reset_after = True, PyTorch), and the drawing shows which.

import { merge, neighbours, sized } from "./common.js";
import { gruLegend } from "./legend.js";

export default function olahGru({ hidden, input, options }) {
  const after = options?.reset_after !== false;
  const Y = 110;
  const B = 455;
  const L = 390;
  const R = 300; // the reset lane
  const resetPipes = after
    ? [
      { signal: "h_prev", identity: "hprev", points: [[200, R], [388, R]] },
      { signal: "n_rec", points: [[472, R], [503, R]], value: [472, R - 10] },
      { signal: "n_rec_reset", points: [[537, R], [550, R], [550, L], [566, L]],
        label: { text: "r_t ⊙ (W_{hn}·h_{t−1} + b_{hn})", at: [310, 340] }, value: [556, 350] },
    ]
    : [
      { signal: "h_prev", identity: "hprev", points: [[200, R], [503, R]] },
      { signal: "h_reset", points: [[537, R], [550, R], [550, L], [566, L]],
        label: { text: "r_t ⊙ h_{t−1}", at: [400, 340] }, value: [556, 350], strip: { at: [400, 348], w: 64 } },
    ];
  const cell = {
    boxes: [{ x: 180, y: 50, w: 650, h: 450, cls: "cell", titleAt: [822, 488, "end"],
      title: `GRU cell at step t (reset after: ${after ? "True" : "False"})` }],
    pipes: [
      { signal: "h_prev", identity: "hprev", points: [[150, Y], [283, Y]],
        label: { text: sized("h_{t−1}", hidden, "H"), at: [154, Y - 12] }, value: [210, Y + 24], strip: { at: [210, Y + 32], w: 64 } },
      { signal: "h_prev", identity: "hprev", points: [[200, Y], [200, B], [218, B]] },
      { signal: "kept", points: [[317, Y], [587, Y]],
        label: { text: "z_t ⊙ h_{t−1}", at: [340, Y - 12] }, value: [340, Y + 24], strip: { at: [340, Y + 32], w: 64 } },
      { signal: "h", identity: "hnew", points: [[613, Y], [860, Y]],
        label: { text: "h_t", at: [640, Y - 12] }, value: [640, Y + 24], strip: { at: [640, Y + 32], w: 64 } },
      { signal: "h", identity: "hnew", points: [[780, Y], [780, 18]], label: { text: "h_t (output)", at: [790, 30] } },
      { signal: "z", points: [[300, L - 20], [300, Y + 17]],
        label: { text: "z_t", at: [290, 250], anchor: "end" }, value: [290, 268, "end"], strip: { at: [222, 276], w: 68 } },
      { signal: "z", points: [[300, 210], [498, 210]], value: [400, 202, "middle"] },
      { points: [[542, 210], [583, 210]], label: { text: "1 − z_t", at: [562, 196], anchor: "middle" } },
      { signal: "n", points: [[600, L - 20], [600, 227]],
        label: { text: "n_t", at: [608, 330] }, value: [608, 348], strip: { at: [608, 356], w: 64 } },
      { signal: "written", points: [[600, 193], [600, Y + 13]],
        label: { text: "(1 − z_t) ⊙ n_t", at: [608, 160] }, value: [608, 178] },
      { signal: "r", points: [[452, L], [520, L], [520, R + 17]],
        label: { text: "r_t", at: [470, L - 8] }, value: [470, L + 20], strip: { at: [454, L + 26], w: 52 } },
      ...resetPipes,
      { signal: "x", points: [[245, 592], [245, B + 17]],
        label: { text: sized("x_t", input, "I"), at: [254, 585] }, strip: { at: [254, 540], w: 60 } },
      { signal: "x", points: [[245, 520], [600, 520], [600, L + 22]], label: { text: "x_t", at: [610, 512] } },
      { points: [[272, B], [420, B]], cls: "bus", arrow: false,
        label: { text: `[h_{t−1}, x_t]  (H + I = ${hidden + input})`, at: [280, B + 24] } },
      ...[300, 420].map((x) => ({ points: [[x, B], [x, L + 22]], cls: "bus" })),
    ],
    nodes: [
      { type: "valve", signal: "z", x: 300, y: Y, flow: "h", name: "keep valve (z)",
        value: [300, Y - 28, "middle"], caption: [300, Y - 44, "keep valve z_t"], stage: "forget" },
      { type: "op", text: "+", signal: "h", x: 600, y: Y },
      { type: "op", text: "1−", x: 520, y: 210, r: 20 },
      { type: "valve", signal: "z", x: 600, y: 210, flow: "v", invert: true, name: "write valve (1 − z)",
        value: [622, 236], caption: [622, 252, "write valve 1 − z_t", "start"], stage: "write" },
      { type: "valve", signal: "r", x: 520, y: R, flow: "h", name: "reset valve (r)",
        caption: [520, R - 24, "reset valve r_t"] },
      { type: "layer", text: "σ", signal: "z", x: 300, y: L },
      { type: "layer", text: "σ", signal: "r", x: 420, y: L },
      { type: "layer", text: "tanh", signal: "n", x: 600, y: L },
      { type: "box", text: "concat", x: 245, y: B, w: 54, h: 30, cls: "concat" },
      ...(after ? [{ type: "box", text: "W_{hn}·h + b_{hn}", signal: "n_rec", x: 430, y: R, w: 84, h: 30 }] : []),
    ],
    texts: [{
      at: [196, 44], cls: "note",
      text: after ? "reset after the matmul: r_t scales W_{hn}·h_{t−1} + b_{hn} (PyTorch nn.GRU)"
        : "reset before the matmul: r_t scales h_{t−1}, then W_{hn} (Cho 2014)",
    }],
  };
  return {
    title: `GRU (reset after: ${after}), Olah style`,
    style: "olah",
    viewBox: [1000, 600],
    legend: gruLegend(),
    ...merge(neighbours({ rows: [[Y, "h_{t+1}"]] }), cell),
  };
}
