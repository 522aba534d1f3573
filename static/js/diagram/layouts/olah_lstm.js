// Olah-style LSTM (and peephole LSTM): the cell-state line across the top, the layers
// σ σ tanh σ below, pointwise ops, [h_{t−1}, x_t] entering below, h_t leaving right and up.
// With a projection (nn.LSTM(proj_size=P)): the output valve gives m_t (H values), a W_hr
// box projects it to h_t (P values), and that h_t is what leaves the cell and comes back.

import { merge, neighbours, sized } from "./common.js";
import { lstmLegend } from "./legend.js";

export default function olahLstm({ kind, hidden, input, projection = null }) {
  const peephole = kind === "peephole_lstm";
  const fed = projection || hidden; // the size of h_{t−1}: P with a projection
  const Y = 110; // cell-state line
  const B = 455; // bottom line: h_{t−1} in, [h_{t−1}, x_t] bus, h_t out
  const L = 390; // layer row
  const cell = {
    boxes: [{ x: 180, y: 50, w: 650, h: 450, cls: "cell", titleAt: [770, 72, "end"],
      title: peephole ? "peephole LSTM cell at step t" : "LSTM cell at step t" }],
    pipes: [
      { signal: "c_prev", identity: "cprev", points: [[150, Y], [283, Y]],
        label: { text: "c_{t−1}", at: [188, Y - 12] }, value: [188, Y + 24], strip: { at: [188, Y + 32], w: 80 } },
      { signal: "kept", points: [[317, Y], [487, Y]],
        label: { text: "f_t ⊙ c_{t−1}", at: [330, Y - 12] }, value: [330, Y + 24], strip: { at: [330, Y + 32], w: 80 } },
      { signal: "c", identity: "cnew", points: [[513, Y], [860, Y]],
        label: { text: "c_t", at: [560, Y - 12] }, value: [560, Y + 24], strip: { at: [560, Y + 32], w: 80 } },
      { signal: "c", identity: "cnew", points: [[700, Y], [700, 177]] },
      { signal: "f", points: [[300, L - 20], [300, Y + 17]],
        label: { text: "f_t", at: [308, 300] }, value: [308, 318], strip: { at: [308, 326], w: 64 } },
      { signal: "i", points: [[410, L - 20], [410, 260], [483, 260]],
        label: { text: "i_t", at: [418, 318] }, value: [418, 336], strip: { at: [418, 344], w: 64 } },
      { signal: "g", points: [[500, L - 20], [500, 277]],
        label: { text: "c̃_t (candidate)", at: [508, 318] }, value: [508, 340], strip: { at: [508, 348], w: 64 } },
      { signal: "written", points: [[500, 243], [500, Y + 13]],
        label: { text: "i_t ⊙ c̃_t", at: [508, 184] }, value: [508, 202], strip: { at: [508, 210], w: 64 } },
      { signal: "o", points: [[620, L - 20], [620, 290], [683, 290]],
        label: { text: "o_t", at: [628, 318] }, value: [616, 340, "end"], strip: { at: [628, 348], w: 64 } },
      { signal: "tanh_c", points: [[700, 203], [700, 273]],
        label: { text: "tanh(c_t)", at: [690, 226], anchor: "end" }, value: [690, 244, "end"] },
      ...(projection ? projectedOutput(B) : [
        { signal: "h", identity: "h", points: [[717, 290], [780, 290], [780, B], [860, B]],
          label: { text: "h_t", at: [790, B - 12] }, value: [790, B + 22], strip: { at: [790, 400], w: 60 } },
        { signal: "h", identity: "h", points: [[780, 290], [780, 18]],
          label: { text: "h_t (output)", at: [790, 30] } },
      ]),
      { signal: "h_prev", identity: "h", points: [[150, B], [218, B]],
        label: { text: sized("h_{t−1}", fed, projection ? "P" : "H"), at: [154, B - 30] }, value: [156, B + 22], strip: { at: [156, B + 30], w: 60 } },
      { signal: "x", points: [[245, 592], [245, B + 17]],
        label: { text: sized("x_t", input, "I"), at: [254, 585] }, strip: { at: [254, 540], w: 60 } },
      // the [h_{t−1}, x_t] bus feeding every layer
      { points: [[272, B], [620, B]], cls: "bus", arrow: false,
        label: { text: `[h_{t−1}, x_t]  (${projection ? "P" : "H"} + I = ${fed + input})`, at: [440, B + 24] } },
      ...[300, 410, 500, 620].map((x) => ({ points: [[x, B], [x, L + 22]], cls: "bus" })),
    ],
    nodes: [
      { type: "valve", signal: "f", x: 300, y: Y, flow: "h", name: "forget valve f_t",
        value: [300, Y - 28, "middle"], caption: [300, Y - 44, "forget valve f_t"], stage: "forget" },
      { type: "op", text: "+", signal: "c", x: 500, y: Y },
      { type: "valve", signal: "i", x: 500, y: 260, flow: "v", name: "input valve i_t",
        value: [522, 266], caption: [560, 284, "input valve i_t"], stage: "write" },
      { type: "op", text: "tanh", signal: "tanh_c", x: 700, y: 190 },
      { type: "valve", signal: "o", x: 700, y: 290, flow: "h", name: "output valve o_t",
        value: [722, 278], caption: [708, 322, "output valve o_t"], stage: "output" },
      { type: "layer", text: "σ", signal: "f", x: 300, y: L },
      { type: "layer", text: "σ", signal: "i", x: 410, y: L },
      { type: "layer", text: "tanh", signal: "g", x: 500, y: L },
      { type: "layer", text: "σ", signal: "o", x: 620, y: L },
      { type: "box", text: "concat", x: 245, y: B, w: 54, h: 30, cls: "concat" },
      ...(projection ? [projectionBox(790, 290)] : []),
    ],
  };
  if (projection) {
    cell.boxes[0].title = "LSTM cell with projection at step t";
    cell.boxes[0].w = 665; // room for h_t's label right of its pipe
    cell.texts = [{ at: [200, 40], text: `projection h_t = W_{hr}·m_t: the H = ${hidden} values of m_t to P = ${projection}`, cls: "note" }];
  }
  if (peephole) {
    cell.pipes.push(
      { signal: "c_prev", identity: "cprev", cls: "peephole", points: [[258, Y], [258, L], [266, L]],
        label: { text: "c_{t−1}", at: [252, 250], anchor: "end" } },
      { signal: "c_prev", identity: "cprev", cls: "peephole", points: [[240, Y], [240, 428], [395, 428], [395, L + 22]] },
      { signal: "c", identity: "cnew", cls: "peephole", points: [[662, Y], [662, L], [654, L]],
        label: { text: "c_t", at: [668, 380] } },
    );
    cell.texts = [{ at: [230, 494], text: "peepholes: c_{t−1} → i, f;  c_t → o", cls: "note" }];
  }
  const n = neighbours({ rows: [[Y, "c_{t+1}"], [B, "h_{t+1}"]] });
  return {
    title: peephole ? "Peephole LSTM, Olah style" : projection ? "LSTM with projection, Olah style" : "LSTM, Olah style",
    style: "olah",
    viewBox: [1000, 600],
    legend: lstmLegend({ peephole, memoryCell: false, projection }),
    ...merge(n, cell),
  };
}

/** The output of an LSTM with a projection: m_t from the output valve into the W_hr box at
 *  x = 790, h_t out of it, down to the next step and up as the output. */
function projectedOutput(B) {
  return [
    { signal: "m", points: [[717, 290], [762, 290]],
      label: { text: "m_t", at: [728, 318] }, value: [728, 336] },
    { signal: "h", identity: "h", points: [[790, 307], [790, B], [860, B]],
      label: { text: "h_t", at: [798, 352] }, value: [798, 370], strip: { at: [798, 380], w: 40 } },
    { signal: "h", identity: "h", points: [[790, 273], [790, 18]],
      label: { text: "h_t (output)", at: [800, 30] } },
  ];
}

/** The W_hr box: h_t = W_hr·m_t (a node of signal h, so it belongs to the projection stage). */
export const projectionBox = (x, y) => ({ type: "box", text: "W_{hr}", signal: "h", x, y, w: 52, h: 32, cls: "projection" });
