// Olah-style drawings of the prototypes of “Written Memories” (r2rt, 2016) (prototype_lstm, normalized_lstm,
// pseudo_lstm): the state s (signal c) on top; the gates read s_{t−1} (tanh(s_{t−1}) in the
// pseudo LSTM); o gates that read for the candidate; the normalised prototype divides the
// new state by √(var + 1); the output is the state (or tanh of it in the pseudo LSTM).

import { merge, neighbours, sized } from "./common.js";
import { prototypeLegend } from "./legend.js";

export default function olahPrototype({ kind, hidden, input, options = {} }) {
  const pseudo = kind === "pseudo_lstm";
  const norm = kind === "normalized_lstm";
  const Y = 110;
  const B = 455;
  const L = 390;
  const RL = 505; // the read lane to the read valve
  const XL = 525; // the x_t lane to the candidate layer
  const plusX = 740;
  const stateOut = norm ? 890 : plusX + 13; // where c_t starts
  const pipes = [
    { signal: "c_prev", identity: "cprev", points: [[150, Y], [283, Y]],
      label: { text: "c_{t−1}", at: [190, Y - 12] }, value: [210, Y + 24], strip: { at: [210, Y + 32], w: 64 } },
    { signal: "kept", points: [[317, Y], [plusX - 13, Y]],
      label: { text: "f_t ⊙ c_{t−1}", at: [340, Y - 12] }, value: [340, Y + 24], strip: { at: [340, Y + 32], w: 64 } },
    { signal: "f", points: [[300, L - 20], [300, Y + 17]],
      label: { text: "f_t", at: [290, 250], anchor: "end" }, value: [290, 268, "end"], strip: { at: [222, 276], w: 68 } },
    { signal: "i", points: [[410, L - 20], [410, 200], [plusX - 17, 200]],
      label: { text: "i_t", at: [418, 330] }, value: [418, 348], strip: { at: [418, 356], w: 60 } },
    { signal: "o", points: [[520, L - 20], [520, 300], [583, 300]],
      label: { text: "o_t", at: [528, 330] }, value: [528, 352], strip: { at: [528, 358], w: 40 } },
    { signal: "read", points: [[200, RL], [600, RL], [600, 317]],
      label: { text: pseudo ? "read = tanh(c_{t−1})" : "read = c_{t−1}", at: [330, RL + 22] }, value: [610, 420] },
    { signal: "read_gated", points: [[617, 300], [plusX - 34, 300]],
      label: { text: pseudo ? "o_t ⊙ tanh(c_{t−1})" : "o_t ⊙ c_{t−1}", at: [622, 342] }, value: [660, 290, "middle"] },
    { signal: "g", points: [[plusX, 278], [plusX, 217]],
      label: { text: "c̃_t", at: [plusX + 10, 258] }, value: [plusX + 50, 258], strip: { at: [plusX + 40, 266], w: 48 } },
    { signal: "written", points: [[plusX, 183], [plusX, Y + 13]],
      label: { text: "i_t ⊙ c̃_t", at: [plusX + 10, 150] }, value: [plusX + 10, 168] },
    { signal: "x", points: [[245, 618], [245, B + 17]],
      label: { text: sized("x_t", input, "I"), at: [254, 605] }, strip: { at: [150, 585], w: 80 } },
    { signal: "x", points: [[245, XL], [plusX, XL], [plusX, 322]], label: { text: "x_t", at: [plusX + 8, XL - 8] } },
    { points: [[272, B], [520, B]], cls: "bus", arrow: false,
      label: { text: `[read, x_t]  (H + I = ${hidden + input})`, at: [280, B + 24] } },
    ...[300, 410, 520].map((x) => ({ points: [[x, B], [x, L + 22]], cls: "bus" })),
    { signal: "c", identity: "cnew", points: [[stateOut, Y], [980, Y]],
      label: { text: "c_t", at: [stateOut + 10, Y - 12] }, value: [norm ? 900 : 800, Y + 24], strip: { at: [norm ? 900 : 800, Y + 32], w: 40 } },
  ];
  const nodes = [
    { type: "valve", signal: "f", x: 300, y: Y, flow: "h", name: "forget valve f_t",
      value: [300, Y - 28, "middle"], caption: [300, Y - 44, "forget valve f_t"], stage: "forget" },
    { type: "op", text: "+", signal: norm ? "c_raw" : "c", x: plusX, y: Y },
    { type: "valve", signal: "i", x: plusX, y: 200, flow: "v", name: "input valve i_t",
      value: [plusX - 24, 232, "end"], caption: [plusX - 24, 248, "input valve i_t", "end"], stage: "write" },
    { type: "valve", signal: "o", x: 600, y: 300, flow: "v", name: "read valve (o)",
      value: [600, 270, "middle"], caption: [600, 254, "read valve o_t"] },
    { type: "layer", text: "σ", signal: "f", x: 300, y: L },
    { type: "layer", text: "σ", signal: "i", x: 410, y: L },
    { type: "layer", text: "σ", signal: "o", x: 520, y: L },
    { type: "layer", text: "tanh", signal: "g", x: plusX, y: 300 },
    { type: "box", text: "concat", x: 245, y: B, w: 54, h: 30, cls: "concat" },
  ];
  if (pseudo) {
    pipes.push(
      { signal: "c_prev", identity: "cprev", points: [[200, Y], [200, 177]] },
      { signal: "read", points: [[200, 203], [200, B], [218, B]], label: { text: "tanh(c_{t−1})", at: [192, 300], anchor: "end" } },
    );
    nodes.push({ type: "op", text: "tanh", signal: "read", x: 200, y: 190 });
  } else {
    pipes.push({ signal: "read", points: [[200, Y], [200, B], [218, B]], label: { text: "c_{t−1}", at: [192, 300], anchor: "end" } });
  }
  if (norm) {
    pipes.push({ signal: "c_raw", points: [[plusX + 13, Y], [778, Y]],
      label: { text: "ĉ_t", at: [758, Y - 12], anchor: "middle" }, value: [800, Y + 50] });
    nodes.push({ type: "box", text: "÷ √(var(ĉ_t) + 1)", signal: "c", x: 835, y: Y, w: 112, h: 34, cls: "norm" });
  }
  // the pseudo LSTM's LSTM diffs 2 and 3 without diff 1 (“an empirical comparison”)
  const diffs = pseudo ? options.diffs || "" : "";
  const texts = [];
  if (diffs.includes("2")) {
    texts.push({ at: [200, 40], text: "diff 2: i and f read o_t ⊙ tanh(c_{t−1}) (the read gate of this step), not tanh(c_{t−1})", cls: "note" });
  }
  if (diffs.includes("3")) {
    pipes.push(
      { signal: "c", identity: "cnew", points: [[900, Y], [900, 177]] },
      { signal: "tanh_c", points: [[923, 190], [945, 190], [945, 167]], label: { text: "tanh(c_t)", at: [952, 200] } },
      { signal: "h", identity: "h", points: [[945, 133], [945, 18]], label: { text: "h_t = o_t ⊙ tanh(c_t)", at: [937, 30], anchor: "end" },
        value: [952, 100], strip: { at: [906, 230], w: 48 } },
    );
    nodes.push({ type: "op", text: "tanh", signal: "tanh_c", x: 900, y: 190 },
      { type: "valve", signal: "o", x: 945, y: 150, flow: "v", name: "read valve o_t on the output (diff 3)",
        value: [968, 150], caption: [968, 136, "o_t (diff 3)"], stage: "output" });
  } else if (pseudo) {
    pipes.push(
      { signal: "c", identity: "cnew", points: [[900, Y], [900, 177]] },
      { signal: "h", identity: "h", points: [[923, 190], [945, 190], [945, 18]], label: { text: "h_t = tanh(c_t)", at: [937, 30], anchor: "end" },
        value: [952, 220], strip: { at: [906, 230], w: 48 } },
    );
    nodes.push({ type: "op", text: "tanh", signal: "h", x: 900, y: 190 });
  } else {
    pipes.push({ signal: "h", identity: "h", points: [[945, Y], [945, 18]], label: { text: "h_t = c_t", at: [937, 30], anchor: "end" },
      value: [952, 60] });
  }
  const title = { prototype_lstm: "prototype LSTM", normalized_lstm: "normalised prototype LSTM", pseudo_lstm: "pseudo LSTM" }[kind];
  return {
    title: `${title} (“Written Memories”, r2rt 2016), Olah style`,
    style: "olah",
    viewBox: [1100, 625],
    legend: prototypeLegend({ kind, memoryCell: false }),
    ...merge(
      neighbours({ right: [980, 1080], rows: [] }),
      { boxes: [{ x: 180, y: 50, w: 780, h: 490, cls: "cell", titleAt: [935, 72, "end"],
        title: `${title}${diffs ? ` + LSTM diff${diffs.length > 1 ? "s" : ""} ${[...diffs].join(", ")}` : ""} cell at step t (state s = c)` }], pipes, nodes, texts },
    ),
  };
}
