// The prediction view ([data-view="prediction"]): the head's k most likely outputs at the
// cursor with their probabilities (the frame's `top`, computed by the server), and a
// heatmap of the head's output over time (the trace route's `probs`, or `logits` for a
// linear head). Numbers are shown as the server sent them; nothing is computed here.

import { getTrace } from "../net/api.js";

const $ = (sel) => document.querySelector(sel);
const WINDOW = 400; // time steps of the heatmap around the cursor
const shownToken = (token) => (token === " " ? "␣ (space)" : token === "\n" ? "↵ (newline)" : token === "\t" ? "⇥ (tab)" : token);

export function createPrediction({ onError }) {
  const host = document.querySelector('[data-view="prediction"]');
  const list = $("#prediction-top");
  const caption = $("#prediction-caption");
  const heat = $("#prediction-heatmap");
  let record = null;
  let win = null; // {start, stop, rows}
  let loading = null;
  let drawnTime = -2;

  const outputName = () => (record.head.kind === "linear" ? "logits" : "probs");

  function setSession(part) {
    const next = part?.record ?? part;
    const head = next?.head;
    host.hidden = !head;
    if (next === record) return;
    record = head ? next : null;
    win = null;
    drawnTime = -2;
    list.replaceChildren();
    if (window.Plotly) window.Plotly.purge(heat);
  }

  async function ensureWindow(time) {
    if (!record || loading || (win && time >= win.start && time < win.stop)) return;
    const start = Math.max(0, time - WINDOW / 2);
    const stop = Math.min(record.steps, start + WINDOW);
    const id = record.id;
    loading = getTrace(id, start, stop, [outputName()]);
    try {
      const got = await loading;
      if (record?.id === id) win = { start, stop, rows: got.signals[outputName()] };
    } catch (err) {
      onError(err);
    } finally {
      loading = null;
    }
    drawnTime = -2;
  }

  function drawHeatmap(time) {
    if (!win || !window.Plotly) return;
    const labels = record.head.labels.map(shownToken);
    const z = labels.map((_, j) => win.rows.map((row) => row[j]));
    const x = win.rows.map((_, k) => win.start + k);
    const what = outputName() === "probs" ? "probability" : "logit";
    window.Plotly.react(heat, [{
      type: "heatmap", z, x, y: labels, colorscale: "Viridis",
      hovertemplate: `t = %{x}<br>%{y}: %{z:.4f} (${what})<extra></extra>`,
      colorbar: { title: { text: what } },
    }], {
      margin: { l: 90, r: 10, t: 10, b: 40 }, height: Math.min(520, 60 + 14 * labels.length),
      xaxis: { title: { text: "time step t" } },
      yaxis: { automargin: true, type: "category" },
      shapes: [{ type: "line", x0: time, x1: time, yref: "paper", y0: 0, y1: 1, line: { color: "#e4572e", width: 2 } }],
    }, { displayModeBar: false, responsive: true });
  }

  /** Redraw for the frame on screen. */
  function update(state) {
    if (!record || !state.frame?.top) return;
    const frame = state.frame;
    const time = frame.time ?? frame.t;
    const what = outputName() === "probs" ? "probability" : "logit (a linear head has no probabilities)";
    caption.textContent = `The ${frame.top.length} most likely next outputs after time step t = ${time}, with their ${what}.`;
    list.replaceChildren(...frame.top.map((item) => {
      const li = document.createElement("li");
      li.dataset.token = item.token;
      li.dataset.value = String(item.value);
      const name = document.createElement("span");
      name.className = "token";
      name.textContent = shownToken(item.token);
      const value = document.createElement("span");
      value.className = "value";
      value.textContent = outputName() === "probs" ? `${(100 * item.value).toFixed(2)} %` : item.value.toFixed(4);
      li.append(name, " ", value);
      return li;
    }));
    if (time !== drawnTime) {
      drawnTime = time;
      if (win && time >= win.start && time < win.stop) drawHeatmap(time);
      else ensureWindow(time).then(() => drawHeatmap(time));
    }
  }
  return { setSession, update };
}
