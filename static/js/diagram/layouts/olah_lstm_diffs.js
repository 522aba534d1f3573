// Olah-style drawing of the pseudo LSTM with LSTM diff 1 ("Written Memories", r2rt 2016,
// "an empirical comparison": diffs "1", "12", "13", "123"). Read comes after write, so the
// cell passes a shadow state h_t = o_t ⊙ tanh(c_t) to the next step, drawn as the pipe it
// is: it enters on the left as h_{t−1} (the read gate o_{t−1} of the step before already
// applied) and leaves on the right. The candidate reads it; the gates read it too with
// diff 2, else tanh(c_{t−1}) on their own bus; with diff 3 h_t is also the output, else
// tanh(c_t) is. "123" is the basic LSTM. The other variants use the prototype drawing.

import { merge, neighbours, sized } from "./common.js";
import olahLstm from "./olah_lstm.js";

export default function olahLstmDiffs({ kind, hidden, input, options = {} }) {
  const diffs = options.diffs || "";
  const base = olahLstm({ kind: "lstm", hidden, input });
  const label = diffs === "123" ? "pseudo LSTM + diffs 1, 2, 3 = the basic LSTM"
    : `pseudo LSTM + LSTM diff${diffs.length > 1 ? "s" : ""} ${[...diffs].join(", ")}`;
  const title = { ...base, title: `${label}, Olah style` };
  if (diffs === "123") return title;
  const Y = 110;
  const B = 455;
  const L = 390;
  const S = 522; // the shadow lane when the gates do not read it (its label clear of the bus label)
  const keep = (p) => {
    if (p.signal === "h" && p.points[1]?.[1] === 18) return false; // h_t up as the output
    return true;
  };
  let pipes = base.pipes.filter((p) => !p.faded).filter(keep);
  const nodes = [...base.nodes];
  const texts = [...(base.texts || [])];
  const gatesReadShadow = diffs.includes("2");
  const out = [];
  if (!gatesReadShadow) {
    // the gates read [tanh(c_{t−1}), x_t] on the bottom bus; the shadow takes its own lane
    pipes = pipes.filter((p) => p.signal !== "h_prev" && !(p.cls === "bus"));
    pipes = pipes.map((p) => (p.signal === "h" && p.identity === "h"
      ? { ...p, points: [[717, 290], [780, 290], [780, S], [860, S]], label: { text: "h_t (shadow)", at: [790, S - 12] }, value: [790, S + 22] }
      : p));
    out.push(
      { signal: "c_prev", identity: "cprev", points: [[200, Y], [200, 177]] },
      { signal: "read", points: [[200, 203], [200, B], [218, B]],
        label: { text: "tanh(c_{t−1})", at: [192, 300], anchor: "end" } },
      { points: [[272, B], [620, B]], cls: "bus", arrow: false,
        // between the x pipe into the concat (245) and the candidate's inputs (490, 510)
        label: { text: `[tanh(c_{t−1}), x_t]  (H + I = ${hidden + input})`, at: [256, B + 24] } },
      ...[300, 410, 620].map((x) => ({ points: [[x, B], [x, L + 22]], cls: "bus" })),
      { signal: "h_prev", identity: "h", points: [[150, S], [490, S], [490, L + 22]],
        label: { text: sized("h_{t−1} (shadow)", hidden, "H"), at: [256, S - 12] }, value: [156, S + 22],
        strip: { at: [156, S + 30], w: 60 } },
      { signal: "x", points: [[245, 560], [510, 560], [510, L + 22]], label: { text: "x_t", at: [518, 552] } },
    );
    nodes.push({ type: "op", text: "tanh", signal: "read", x: 200, y: 190 });
    texts.push({ at: [200, 40], text: "diff 1: the candidate reads the shadow h_{t−1} = o_{t−1} ⊙ tanh(c_{t−1}); the gates read tanh(c_{t−1})", cls: "note" });
  } else {
    pipes = pipes.map((p) => (p.signal === "h" && p.identity === "h"
      ? { ...p, label: { text: "h_t (shadow)", at: [790, B - 12] } } : p));
    texts.push({ at: [200, 40], text: "diffs 1, 2: the gates and the candidate read the shadow h_{t−1} = o_{t−1} ⊙ tanh(c_{t−1})", cls: "note" });
  }
  if (diffs.includes("3")) {
    out.push({ signal: "h", identity: "h", points: [[780, 290], [780, 18]], label: { text: "h_t (output)", at: [790, 30] } });
  } else {
    out.push({ signal: "tanh_c", points: [[713, 190], [745, 190], [745, 18]],
      label: { text: "tanh(c_t) (output)", at: [753, 30] } });
  }
  const row = gatesReadShadow ? B : S;
  const n = neighbours({ rows: [[Y, "c_{t+1}"], [row, "h_{t+1}"]] });
  return {
    ...title,
    ...merge(n, { boxes: base.boxes.filter((b) => b.cls === "cell").map((b) => ({ ...b, h: 500, title: `${label} at step t` })),
      pipes: [...pipes, ...out], nodes, texts }),
  };
}
