// Olah-style minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"). The lesson
// is the wire that is missing: h_{t−1} runs along the top and reaches only the mixing
// valves; the gates and the candidate read x_t alone, so every step's valves are known
// before the first step runs (the parallel scan). minLSTM's normalised f′, i′ (f′ + i′ = 1)
// come out of one balance valve with two outlets.

import { merge, neighbours, sized } from "./common.js";
import { minRnnLegend } from "./legend.js";

const Y = 110; // the h line
const L = 420; // the layer row
const X_BUS = 500; // x_t's bus

function topLine({ hidden, keep, keepLabel, invert }) {
  return {
    pipes: [
      { signal: "h_prev", identity: "hprev", points: [[150, Y], [283, Y]],
        label: { text: sized("h_{t−1}", hidden, "H"), at: [154, Y - 12] }, value: [210, Y + 24], strip: { at: [210, Y + 32], w: 64 } },
      { signal: "kept", points: [[317, Y], [587, Y]],
        label: { text: keepLabel, at: [340, Y - 12] }, value: [340, Y + 24], strip: { at: [340, Y + 32], w: 64 } },
      { signal: "h", identity: "hnew", points: [[613, Y], [860, Y]],
        label: { text: "h_t", at: [640, Y - 12] }, value: [640, Y + 24], strip: { at: [640, Y + 32], w: 64 } },
      { signal: "h", identity: "hnew", points: [[780, Y], [780, 18]], label: { text: "h_t (output)", at: [790, 30] } },
    ],
    nodes: [
      { type: "valve", signal: keep, x: 300, y: Y, flow: "h", invert, name: invert ? "keep valve (1 − z)" : "keep valve",
        value: [300, Y - 28, "middle"], caption: [300, Y - 44, invert ? "keep valve 1 − z_t" : `keep valve ${keepLabel.split(" ")[0]}`], stage: "forget" },
      { type: "op", text: "+", signal: "h", x: 600, y: Y },
    ],
  };
}

function inputs(input, to) {
  return {
    pipes: [
      { signal: "x", points: [[245, 592], [245, 520]],
        label: { text: sized("x_t", input, "I"), at: [254, 585] }, strip: { at: [254, 548], w: 60 } },
      { points: [[245, 520], [Math.max(...to), 520]], cls: "bus", arrow: false,
        label: { text: "x_t only: no h_{t−1} into the gates", at: [290, 508] } },
      ...to.map((x) => ({ points: [[x, 520], [x, L + 22]], cls: "bus" })),
    ],
  };
}

const NOTE = { at: [196, 44], cls: "note", text: "no feedback wire: h_{t−1} reaches only the mixing valves" };

export function olahMinGru({ hidden, input }) {
  const cell = {
    boxes: [{ x: 180, y: 50, w: 650, h: 450, cls: "cell", titleAt: [822, 488, "end"], title: "minGRU cell at step t" }],
    pipes: [
      { signal: "z", points: [[X_BUS - 80, L - 20], [X_BUS - 80, 210], [583, 210]],
        label: { text: "z_t", at: [X_BUS - 72, 300] }, value: [X_BUS - 72, 318], strip: { at: [X_BUS - 72, 326], w: 60 } },
      { signal: "z", points: [[X_BUS - 80, 250], [300, 250], [300, Y + 17]], arrow: true },
      { signal: "n", points: [[680, L - 20], [680, 290], [600, 290], [600, 227]],
        label: { text: "h̃_t", at: [688, 360] }, value: [688, 378], strip: { at: [688, 386], w: 60 } },
      { signal: "written", points: [[600, 193], [600, Y + 13]],
        label: { text: "z_t ⊙ h̃_t", at: [608, 160] }, value: [608, 178] },
    ],
    nodes: [
      { type: "valve", signal: "z", x: 600, y: 210, flow: "v", name: "write valve (z)",
        value: [622, 236], caption: [622, 252, "write valve z_t", "start"], stage: "write" },
      { type: "layer", text: "σ", signal: "z", x: X_BUS - 80, y: L },
      { type: "layer", text: "g", signal: "n", x: 680, y: L },
    ],
    texts: [NOTE],
  };
  return {
    title: "minGRU, Olah style",
    style: "olah",
    viewBox: [1000, 600],
    legend: minRnnLegend({ lstm: false }),
    ...merge(neighbours({ rows: [[Y, "h_{t+1}"]] }), topLine({ hidden, keep: "z", keepLabel: "(1 − z_t) ⊙ h_{t−1}", invert: true }),
      inputs(input, [X_BUS - 80, 680]), cell),
  };
}

export function olahMinLstm({ hidden, input, options }) {
  const normalize = options?.normalize !== false;
  const [keep, write] = normalize ? ["f_norm", "i_norm"] : ["f", "i"];
  const [kl, wl] = normalize ? ["f′_t", "i′_t"] : ["f_t", "i_t"];
  const balance = normalize
    ? {
      pipes: [
        { signal: "f", points: [[340, L - 20], [340, 340], [393, 340]],
          label: { text: "f_t", at: [300, 372] }, value: [300, 390], strip: { at: [262, 398], w: 34 } },
        { signal: "i", points: [[500, L - 20], [500, 340], [447, 340]],
          label: { text: "i_t", at: [508, 372] }, value: [508, 390], strip: { at: [508, 398], w: 34 } },
        { signal: "f_norm", points: [[420, 317], [420, 260], [300, 260], [300, Y + 17]],
          label: { text: "f′_t = f/(f + i)", at: [312, 242] }, value: [312, 280] },
        { signal: "i_norm", points: [[440, 317], [440, 210], [583, 210]],
          label: { text: "i′_t = i/(f + i)", at: [452, 196] }, value: [452, 228] },
      ],
      nodes: [{ type: "box", text: "f′ + i′ = 1", x: 420, y: 340, w: 54, h: 46, cls: "balance" }],
    }
    : {
      pipes: [
        { signal: "f", points: [[340, L - 20], [340, 260], [300, 260], [300, Y + 17]],
          label: { text: "f_t", at: [348, 300] }, value: [348, 318], strip: { at: [348, 326], w: 40 } },
        { signal: "i", points: [[500, L - 20], [500, 210], [583, 210]],
          label: { text: "i_t", at: [508, 300] }, value: [508, 318], strip: { at: [508, 326], w: 40 } },
      ],
      nodes: [],
    };
  const cell = {
    boxes: [{ x: 180, y: 50, w: 650, h: 450, cls: "cell", titleAt: [822, 488, "end"],
      title: `minLSTM cell at step t (normalize: ${normalize ? "True" : "False"})` }],
    pipes: [
      ...balance.pipes,
      { signal: "n", points: [[680, L - 20], [680, 290], [600, 290], [600, 227]],
        label: { text: "h̃_t", at: [688, 360] }, value: [688, 378], strip: { at: [688, 386], w: 60 } },
      { signal: "written", points: [[600, 193], [600, Y + 13]],
        label: { text: `${wl} ⊙ h̃_t`, at: [608, 160] }, value: [608, 178] },
    ],
    nodes: [
      ...balance.nodes,
      { type: "valve", signal: write, x: 600, y: 210, flow: "v", name: "write valve",
        value: [622, 236], caption: [622, 252, `write valve ${wl}`, "start"], stage: "write" },
      { type: "layer", text: "σ", signal: "f", x: 340, y: L },
      { type: "layer", text: "σ", signal: "i", x: 500, y: L },
      { type: "layer", text: "g", signal: "n", x: 680, y: L },
    ],
    texts: [NOTE],
  };
  return {
    title: `minLSTM (normalize: ${normalize}), Olah style`,
    style: "olah",
    viewBox: [1000, 600],
    legend: minRnnLegend({ lstm: true, normalize }),
    ...merge(neighbours({ rows: [[Y, "h_{t+1}"]] }), topLine({ hidden, keep, keepLabel: `${kl} ⊙ h_{t−1}`, invert: false }),
      inputs(input, [340, 500, 680]), cell),
  };
}
