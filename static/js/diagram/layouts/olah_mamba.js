// Mamba's selective-SSM mixer (Gu and Dao 2023), one channel drilled into: the Unit control
// picks the channel. Its N states run along the top, each leaking through its own
// retention valve exp(Δ_t A_n) and fed by its own write Δ_t B_t[n] u_t; Δ_t is the one
// selectivity knob that turns them all at once (a large Δ opens every write and closes
// every retention). Below, the input's path: in_proj splits x_t into x_in and z; x_in runs
// through the conv's delay line (the K − 1 values before it, then SiLU) to u_t; u_t gives
// Δ, B and C; D ⊙ u_t bypasses the states to the read-out; SiLU(z) is the output valve.
// A channel has N states; the first SHOWN are drawn as valves and pipes, the rest are in
// the equations and the bank view.

import { merge, sized } from "./common.js";
import { mambaLegend } from "./legend.js";

const SHOWN = 4; // state rows drawn (of N)
const ROW0 = 92; // the first state's line
const ROW = 56; // between two state lines
const X_VALVE = 330; // the retention valves
const X_SUM = 520; // + of each state
const X_READ = 760; // the read-out Σ_n C[n]·h[n] + D·u
const Y_IN = 500; // the input row
const Y_KNOB = 395; // the selectivity knob Δ

function stateRows(n) {
  const pipes = [];
  const nodes = [];
  for (let s = 0; s < n; s++) {
    const y = ROW0 + s * ROW;
    const first = s === 0;
    pipes.push(
      { signal: "h_prev", state: s, name: `h_{t−1}[${s}]`, points: [[170, y], [X_VALVE - 17, y]],
        label: { text: first ? "h_{t−1}[n]" : `[${s}]`, at: [176, y - 10] }, value: [176, y + 18] },
      { points: [[X_VALVE + 17, y], [X_SUM - 13, y]] },
      { signal: "write", state: s, name: `write[${s}]`, points: [[X_SUM, y + 40], [X_SUM, y + 13]],
        label: first ? { text: "Δ_t B_t[n] u_t", at: [X_SUM - 8, y + 48], anchor: "end" } : null, value: [X_SUM - 8, y + 32, "end"] },
      { signal: "h", state: s, name: `h_t[${s}]`, points: [[X_SUM + 13, y], [X_READ - 60, y], [X_READ - 20, 300]],
        label: { text: first ? "h_t[n]" : `h_t[${s}]`, at: [X_SUM + 90, y - 10] }, value: [X_SUM + 90, y + 18] },
    );
    nodes.push(
      { type: "valve", signal: "decay", state: s, x: X_VALVE, y, name: `retention valve ${s}`,
        value: [X_VALVE + 24, y - 20], caption: first ? [X_VALVE, y - 32, "retention exp(Δ_t A_n)"] : null, stage: "forget" },
      { type: "op", text: "+", x: X_SUM, y },
    );
  }
  return { pipes, nodes };
}

export default function olahMamba({ hidden, input, options }) {
  const N = options?.d_state ?? 16;
  const K = options?.d_conv ?? 4;
  const shown = Math.min(N, SHOWN);
  const rows = stateRows(shown);
  const lastRow = ROW0 + (shown - 1) * ROW;
  const lags = Array.from({ length: K - 1 }, (_, k) => ({
    signal: "conv_prev", state: k, name: `delay line tap ${k}`,
    points: [[238 + 22 * k, Y_IN + 62], [238 + 22 * k, Y_IN + 18]],
  }));
  const cell = {
    boxes: [{ x: 150, y: 40, w: 700, h: 500, cls: "cell", titleAt: [842, 530, "end"],
      title: `Mamba channel (Unit) at step t: ${shown} of its N = ${N} states drawn` }],
    pipes: [
      ...rows.pipes,
      // the input path: x_t → in_proj → x_in → the delay line → SiLU → u_t
      { signal: "x", points: [[185, 592], [185, Y_IN + 20]], label: { text: sized("x_t", input, "I"), at: [190, 582] } },
      { signal: "x_in", points: [[207, Y_IN], [300, Y_IN]], label: { text: "x_in", at: [214, Y_IN - 10] } },
      ...lags,
      { signal: "x_conv_pre", points: [[360, Y_IN], [410, Y_IN]] },
      { signal: "x_conv", points: [[450, Y_IN], [600, Y_IN], [600, Y_KNOB + 22]],
        label: { text: "u_t", at: [470, Y_IN - 10] }, value: [470, Y_IN + 20], strip: { at: [506, Y_IN + 14], w: 52 } },
      // D ⊙ u_t: the bypass around the states
      { signal: "x_conv", points: [[600, Y_IN], [X_READ, Y_IN], [X_READ, 313]], cls: "bypass",
        label: { text: "D ⊙ u_t bypass", at: [640, Y_IN - 10] } },
      // u_t → Δ (the knob), B and C
      { signal: "delta", points: [[584, Y_KNOB], [X_VALVE, Y_KNOB], [X_VALVE, lastRow + 17]],
        label: { text: "Δ_t", at: [390, Y_KNOB - 10] }, value: [390, Y_KNOB + 18], strip: { at: [430, Y_KNOB + 10], w: 52 } },
      { signal: "delta", points: [[616, Y_KNOB], [650, Y_KNOB], [650, lastRow + 40], [X_SUM + 14, lastRow + 40]] },
      { signal: "B", noValue: true, points: [[600, Y_KNOB - 22], [600, lastRow + 58], [X_SUM, lastRow + 58], [X_SUM, lastRow + 53]],
        label: { text: "B_t", at: [608, lastRow + 76] }, strip: { at: [560, lastRow + 84], w: 32 } },
      { signal: "C", noValue: true, points: [[616, Y_KNOB - 12], [700, Y_KNOB - 12], [700, 320], [X_READ - 22, 320]],
        label: { text: "C_t", at: [708, 360] }, strip: { at: [708, 368], w: 32 } },
      // the read-out, the output valve SiLU(z), out_proj
      { signal: "y", points: [[X_READ, 287], [X_READ, 218]],
        label: { text: "y_t", at: [X_READ + 8, 270] }, value: [X_READ + 8, 252] },
      { signal: "z", points: [[185, Y_IN - 20], [185, 446], [880, 446], [880, 200], [X_READ + 17, 200]],
        label: { text: "z_t", at: [888, 430] } },
      { signal: "out", noValue: true, points: [[X_READ, 183], [X_READ, 140], [X_READ, 18]],
        label: { text: sized("out_t", hidden, "H"), at: [X_READ + 8, 32] }, strip: { at: [X_READ + 8, 60], w: 64 } },
    ],
    nodes: [
      ...rows.nodes,
      { type: "box", text: "in_proj", x: 185, y: Y_IN, w: 44, h: 34 },
      { type: "box", text: `delay ×${K}`, signal: "x_conv_pre", x: 330, y: Y_IN, w: 60, h: 34 },
      { type: "layer", text: "SiLU", signal: "x_conv", x: 430, y: Y_IN, w: 40, h: 30 },
      { type: "valve", signal: "delta", x: 600, y: Y_KNOB, name: "selectivity knob Δ", flow: "v",
        value: [624, Y_KNOB + 34], caption: [624, Y_KNOB + 50, "knob Δ_t", "start"], stage: "gates" },
      { type: "op", text: "C·h + D·u", signal: "y", x: X_READ, y: 300, r: 40 },
      { type: "valve", signal: "gate", x: X_READ, y: 200, name: "output valve SiLU(z)", flow: "v",
        value: [X_READ + 24, 226], caption: [X_READ + 24, 180, "output valve SiLU(z_t)", "start"], stage: "output" },
      { type: "box", text: "out_proj", x: X_READ, y: 140, w: 56, h: 26 },
    ],
    texts: N > shown ? [{ at: [176, 60], cls: "note", text: `… ${N - shown} more states of this channel (equations, bank view)` }] : [],
  };
  return {
    title: `Mamba (d_state ${N}, d_conv ${K}), one channel`,
    style: "olah",
    viewBox: [1000, 600],
    legend: mambaLegend({ N, K }),
    ...merge(cell),
  };
}
