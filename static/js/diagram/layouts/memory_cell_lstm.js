// Memory-cell picture of the LSTM (Graves/Gers, as drawn in “Understanding LSTM and its diagrams”, Shi Yan 2016): the central Cell with its
// self-loop through the forget valve; the candidate through the input valve into the +;
// tanh(c_t) through the output valve to h_t; peepholes from the Cell to the gates. With a
// projection (nn.LSTM(proj_size=P)) the output valve gives m_t, and a W_hr box makes h_t.

import { sized } from "./common.js";
import { lstmLegend } from "./legend.js";
import { projectionBox } from "./olah_lstm.js";

export default function memoryCellLstm({ kind, hidden, input, projection = null }) {
  const peephole = kind === "peephole_lstm";
  const fed = projection || hidden; // the size of h_{t−1}: P with a projection
  const L = 470; // layer row
  const B = 535; // input bus
  const pipes = [
    // the self-loop: c_{t−1} leaves the Cell, passes the forget valve, returns through +
    { signal: "c_prev", identity: "cprev", points: [[535, 220], [680, 220], [680, 258]],
      label: { text: "c_{t−1} (old memory)", at: [548, 208] }, value: [548, 242], strip: { at: [548, 248], w: 64 } },
    { signal: "kept", points: [[680, 292], [680, 330], [497, 330]],
      label: { text: "f_t ⊙ c_{t−1}", at: [690, 318] }, value: [690, 336], strip: { at: [690, 342], w: 64 } },
    { signal: "c", identity: "cnew", points: [[480, 317], [480, 277]],
      label: { text: "c_t", at: [470, 300], anchor: "end" } },
    { signal: "written", points: [[397, 330], [467, 330]],
      label: { text: "i_t ⊙ c̃_t", at: [400, 354] }, value: [400, 377], strip: { at: [400, 386], w: 60 } },
    { signal: "g", points: [[260, L - 20], [260, 330], [363, 330]],
      label: { text: "c̃_t", at: [270, 318] }, value: [254, 356, "end"], strip: { at: [270, 326], w: 60 } },
    { signal: "i", points: [[380, L - 20], [380, 347]],
      label: { text: "i_t", at: [388, 410] }, value: [388, 428], strip: { at: [388, 434], w: 48 } },
    { signal: "f", points: [[800, L - 20], [800, 275], [697, 275]],
      label: { text: "f_t", at: [808, 410] }, value: [808, 428], strip: { at: [808, 434], w: 48 } },
    // the output path: c_t from the Cell, tanh, the output valve, h_t
    { signal: "c", identity: "cnew", points: [[480, 165], [480, 110], [580, 110]],
      label: { text: "c_t (new memory)", at: [486, 95] }, value: [474, 134, "end"], strip: { at: [424, 140], w: 50 } },
    { signal: "tanh_c", points: [[632, 110], [763, 110]],
      label: { text: "tanh(c_t)", at: [645, 100] }, value: [645, 134], strip: { at: [645, 140], w: 60 } },
    { signal: "o", points: [[900, L - 20], [900, 150], [780, 150], [780, 127]],
      label: { text: "o_t", at: [908, 410] }, value: [908, 428], strip: { at: [908, 434], w: 48 } },
    ...(projection ? [
      // m_t into the W_hr box at x = 866, h_t (P values) out of it
      { signal: "m", points: [[797, 110], [838, 110]],
        label: { text: "m_t", at: [806, 100] }, value: [804, 134] },
      { signal: "h", identity: "h", points: [[892, 110], [985, 110]],
        label: { text: "h_t", at: [902, 100] }, value: [905, 142], strip: { at: [905, 120], w: 40 } },
      { signal: "h", identity: "h", points: [[950, 110], [950, 18]], label: { text: "h_t (output)", at: [940, 30], anchor: "end" } },
    ] : [
      { signal: "h", identity: "h", points: [[797, 110], [985, 110]],
        label: { text: "h_t → next step", at: [942, 100], anchor: "end" }, value: [812, 134], strip: { at: [870, 140], w: 60 } },
      { signal: "h", identity: "h", points: [[950, 110], [950, 18]], label: { text: "h_t (output)", at: [940, 30], anchor: "end" } },
    ]),
    // inputs
    { signal: "h_prev", identity: "h", points: [[20, B], [172, B]],
      label: { text: sized("h_{t−1}", fed, projection ? "P" : "H"), at: [24, B - 12] }, value: [24, B + 22], strip: { at: [24, B + 28], w: 60 } },
    { signal: "x", points: [[200, 598], [200, B + 17]],
      label: { text: sized("x_t", input, "I"), at: [210, 590] }, strip: { at: [110, 575], w: 80 } },
    { points: [[227, B], [900, B]], cls: "bus", arrow: false,
      label: { text: `[h_{t−1}, x_t]  (${projection ? "P" : "H"} + I = ${fed + input})`, at: [440, B + 24] } },
    ...[260, 380, 800, 900].map((x) => ({ points: [[x, B], [x, L + 22]], cls: "bus" })),
  ];
  const nodes = [
    { type: "cell", signal: "c", x: 480, y: 220, text: "Cell", r: 55,
      caption: [480, 246, "c (memory)"] },
    { type: "valve", signal: "f", x: 680, y: 275, flow: "v", name: "forget valve f_t",
      value: [664, 262, "end"], caption: [700, 299, "forget valve f_t", "start"], stage: "forget" },
    { type: "op", text: "+", signal: "c", x: 480, y: 330 },
    { type: "valve", signal: "i", x: 380, y: 330, flow: "h", name: "input valve i_t",
      value: [398, 314], caption: [398, 299, "input valve i_t", "start"], stage: "write" },
    { type: "op", text: "tanh", signal: "tanh_c", x: 606, y: 110 },
    { type: "valve", signal: "o", x: 780, y: 110, flow: "h", name: "output valve o_t",
      value: [780, 82, "middle"], caption: [780, 66, "output valve o_t"], stage: "output" },
    { type: "layer", text: "tanh", signal: "g", x: 260, y: L },
    { type: "layer", text: "σ", signal: "i", x: 380, y: L },
    { type: "layer", text: "σ", signal: "f", x: 800, y: L },
    { type: "layer", text: "σ", signal: "o", x: 900, y: L },
    { type: "box", text: "concat", x: 200, y: B, w: 54, h: 30, cls: "concat" },
    ...(projection ? [projectionBox(866, 110)] : []),
  ];
  const texts = projection
    ? [{ at: [166, 86], text: `projection h_t = W_{hr}·m_t: the H = ${hidden} values of m_t to P = ${projection}`, cls: "note" }] : [];
  if (peephole) {
    pipes.push(
      { signal: "c_prev", identity: "cprev", cls: "peephole", points: [[425, 220], [320, 220], [320, L], [346, L]],
        label: { text: "c_{t−1} peephole", at: [314, 240], anchor: "end" } },
      { signal: "c_prev", identity: "cprev", cls: "peephole", points: [[620, 220], [620, 420], [775, 420], [775, L - 22]],
        label: { text: "c_{t−1} peephole", at: [628, 412] } },
      { signal: "c", identity: "cnew", cls: "peephole", points: [[540, 110], [540, 190], [875, 190], [875, L - 22]],
        label: { text: "c_t peephole", at: [868, 182], anchor: "end" } },
    );
    texts.push({ at: [166, 86], text: "peepholes: c_{t−1} → i, f;  c_t → o", cls: "note" });
  }
  return {
    title: peephole ? "Peephole LSTM, memory-cell picture"
      : projection ? "LSTM with projection, memory-cell picture" : "LSTM, memory-cell picture",
    style: "memory-cell",
    viewBox: [1000, 610],
    legend: lstmLegend({ peephole, memoryCell: true, projection }),
    boxes: [{ x: 150, y: 40, w: 830, h: 470, cls: "cell", titleAt: [166, 62, "start"],
      title: peephole ? "peephole LSTM memory block, step t"
        : projection ? "LSTM memory block with projection, step t" : "LSTM memory block, step t" }],
    pipes,
    nodes,
    texts,
  };
}
