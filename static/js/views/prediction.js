// The prediction view ([data-view="prediction"]): the head's k most likely outputs at the
// cursor with their probabilities (the frame's `top`, computed by the server), and a
// heatmap of the head's output over time (the trace route's `probs`, or `logits` for a
// linear head). Numbers are shown as the server sent them; nothing is computed here.
//
// A step moves only the cursor line over the heatmap (a CSS transform, as the charts'
// cursor in charts.js): Plotly draws the heatmap only when its window or the session
// changes.

import { getTrace } from "../net/api.js";
import { createDrawCount } from "./draw_count.js";

const $ = (sel) => document.querySelector(sel);
const WINDOW = 400; // time steps of the heatmap around the cursor
// One heatmap row per output: past this many (a subword language model's 50,280) the rows
// are too many to draw or to fetch for a window (the trace route refuses such a window),
// so only the list of the most likely outputs is shown.
const HEATMAP_MAX_OUTPUTS = 2048;
const shownToken = (token) => (token === " " ? "␣ (space)" : token === "\n" ? "↵ (newline)" : token === "\t" ? "⇥ (tab)" : token);

export function createPrediction({ onError }) {
  const host = document.querySelector('[data-view="prediction"]');
  const list = $("#prediction-top");
  const caption = $("#prediction-caption");
  const heat = $("#prediction-heatmap");
  const cursorEl = $("#prediction-cursor");
  let record = null;
  let win = null; // {start, stop, rows}
  let drawn = null; // the window the heatmap shows
  let loading = null;
  let lastTime = -1;
  let cursorX = -1;
  const count = createDrawCount(host); // data-draws, data-drawing: what a test waits on

  const outputName = () => (record.head.kind === "linear" ? "logits" : "probs");
  const heatmapShown = () => record.head.outputs <= HEATMAP_MAX_OUTPUTS;

  function setSession(part) {
    const next = part?.record;
    const head = next?.head;
    host.hidden = !head;
    if (next === record) return;
    record = head ? next : null;
    heat.hidden = Boolean(record) && !heatmapShown();
    win = null;
    drawn = null;
    lastTime = -1;
    list.replaceChildren();
    placeCursor(-1);
    if (window.Plotly) window.Plotly.purge(heat);
  }

  /** Put the cursor line on `time` over the heatmap drawn (hidden outside its window). */
  function placeCursor(time) {
    cursorEl.dataset.t = String(time);
    const xa = drawn ? heat._fullLayout?.xaxis : null;
    const ya = drawn ? heat._fullLayout?.yaxis : null;
    if (!xa || !ya || time < drawn.start || time >= drawn.stop) {
      cursorEl.style.display = "none";
      return;
    }
    const x = Math.round((xa._offset + xa.l2p(time)) * 10) / 10;
    if (x !== cursorX) {
      cursorX = x;
      cursorEl.style.transform = `translateX(${x}px)`;
    }
    cursorEl.style.top = `${ya._offset}px`;
    cursorEl.style.height = `${ya._length}px`;
    cursorEl.style.display = "block";
  }

  async function ensureWindow(time) {
    if (!record || !heatmapShown() || loading || (win && time >= win.start && time < win.stop)) return;
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
  }

  /** Draw the heatmap of the window held (once per window), then place the cursor. */
  async function drawHeatmap() {
    if (!win || !window.Plotly || drawn === win) return;
    drawn = win;
    cursorX = -1;
    const labels = record.head.labels.map(shownToken);
    const z = labels.map((_, j) => win.rows.map((row) => row[j]));
    const x = win.rows.map((_, k) => win.start + k);
    const what = outputName() === "probs" ? "probability" : "logit";
    await count.drew(window.Plotly.react(heat, [{
      type: "heatmap", z, x, y: labels, colorscale: "Viridis",
      hovertemplate: `t = %{x}<br>%{y}: %{z:.4f} (${what})<extra></extra>`,
      colorbar: { title: { text: what } },
    }], {
      margin: { l: 90, r: 10, t: 10, b: 40 }, height: Math.min(520, 60 + 14 * labels.length),
      xaxis: { title: { text: "time step t" } },
      yaxis: { automargin: true, type: "category" },
    }, { displayModeBar: false, responsive: true }));
    if (drawn !== win) return;
    placeCursor(lastTime);
    // the cursor moved out of this window while it was fetched or drawn: fetch its own
    if (lastTime >= 0 && (lastTime < win.start || lastTime >= win.stop)) count.during(ensureWindow(lastTime).then(drawHeatmap));
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
    if (time === lastTime) return;
    lastTime = time;
    if (win && time >= win.start && time < win.stop) {
      if (drawn === win) placeCursor(time);
      else drawHeatmap();
    } else {
      placeCursor(time);
      count.during(ensureWindow(time).then(drawHeatmap));
    }
  }

  // Plotly re-lays the heatmap out after a resize: the cursor's x is recomputed then.
  window.addEventListener("resize", () => {
    cursorX = -1;
    setTimeout(() => placeCursor(lastTime), 150);
  });
  return { setSession, update };
}
