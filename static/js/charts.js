// Plotly views linked to the cursor: heatmaps (unit × time) of the gates and states and
// a line chart of the selected unit, over a window of the trace fetched from
// GET /api/sessions/{id}/trace?start=&stop=, so that a 100,000-step trace stays light.
// The cursor is an overlay moved in pixels (no Plotly relayout per step).

import { getTrace } from "./api.js";
import { parseMath } from "./math_text.js";

const WINDOW = 400;
const SHOWN_KINDS = new Set(["gate", "candidate"]);
const SHOWN_STATES = ["c", "h"];
const GATE_SCALE = [[0, "#f7f7f7"], [1, "#0072B2"]];
const DIVERGING = [[0, "#0072B2"], [0.5, "#f7f7f7"], [1, "#D55E00"]];
const LINE_COLOURS = { c: "#009E73", h: "#CC79A7" };

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
/** Plotly's pseudo-HTML for a label: escaped text plus <sub>/<sup>. */
const plotlyLabel = (label) =>
  parseMath(label).map((s) => (s.script ? `<${s.script}>${esc(s.text)}</${s.script}>` : esc(s.text))).join("");

export function createCharts(div, cursorEl, { onSeek, onError }) {
  let session = null;
  let names = [];
  let lineNames = [];
  let win = null; // {start, stop, signals}
  let loading = null;
  let unitShown = -1;

  function setSession(s) {
    session = s;
    const shown = s.signals.filter((x) => SHOWN_KINDS.has(x.kind) || SHOWN_STATES.includes(x.name));
    names = shown.slice(0, 8).map((x) => x.name);
    lineNames = ["c", "h"].filter((n) => s.signals.some((x) => x.name === n));
    win = null;
    unitShown = -1;
    if (window.Plotly) window.Plotly.purge(div);
  }

  function wantWindow(t) {
    const T = session.steps;
    const start = Math.max(0, Math.min(t - WINDOW / 2, T - WINDOW));
    return { start, stop: Math.min(T, start + WINDOW) };
  }

  function needsFetch(t) {
    if (!win) return true;
    const T = session.steps;
    const margin = Math.floor(WINDOW * 0.1);
    const lowOk = win.start === 0 || t >= win.start + margin;
    const highOk = win.stop === T || t < win.stop - margin;
    return !(lowOk && highOk);
  }

  async function fetchWindow(t, unit) {
    const { start, stop } = wantWindow(t);
    const key = `${session.id}:${start}`;
    if (loading === key) return;
    loading = key;
    try {
      const data = await getTrace(session.id, start, stop, [...new Set([...names, ...lineNames])]);
      if (loading !== key) return;
      win = { start: data.start ?? start, stop: data.stop ?? stop, signals: data.signals };
      draw(unit);
    } catch (err) {
      onError(err);
    } finally {
      if (loading === key) loading = null;
    }
  }

  function draw(unit) {
    const Plotly = window.Plotly;
    if (!Plotly || !win) return;
    const meta = Object.fromEntries(session.signals.map((s) => [s.name, s]));
    const xs = Array.from({ length: win.stop - win.start }, (_, k) => win.start + k);
    const nRows = names.length;
    const lineH = 1.7;
    const total = nRows + lineH;
    const gap = 0.012;
    const traces = [];
    const layout = {
      margin: { l: 64, r: 12, t: 8, b: 36 }, height: 70 * nRows + 170,
      paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff", showlegend: true,
      legend: { orientation: "h", x: 0, y: -0.08, font: { size: 11 } },
      font: { family: "system-ui, sans-serif", size: 11, color: "#222" },
      xaxis: { anchor: `y${nRows + 1}`, range: [win.start - 0.5, win.stop - 0.5], title: { text: "time step t" } },
      hovermode: "closest",
    };
    names.forEach((name, k) => {
      const top = 1 - k / total;
      const axis = k === 0 ? "y" : `y${k + 1}`;
      const sig = meta[name];
      const gate = Array.isArray(sig.range) && sig.range[0] === 0 && sig.range[1] === 1;
      const rows = win.signals[name] || [];
      const H = rows[0]?.length || 0;
      const z = Array.from({ length: H }, (_, u) => rows.map((r) => r[u]));
      let amax = 1;
      if (!gate) for (const r of rows) for (const v of r) amax = Math.max(amax, Math.abs(v));
      traces.push({
        type: "heatmap", name, x: xs, z, yaxis: axis, xaxis: "x", showscale: false,
        colorscale: gate ? GATE_SCALE : DIVERGING, zmin: gate ? 0 : -amax, zmax: gate ? 1 : amax,
        hovertemplate: `${plotlyLabel(sig.label)}  t=%{x}  unit %{y}: %{z:.4f}<extra></extra>`,
        showlegend: false,
      });
      layout[k === 0 ? "yaxis" : `yaxis${k + 1}`] = {
        domain: [top - 1 / total + gap, top - gap], title: { text: plotlyLabel(sig.label), font: { size: 12 } },
        autorange: "reversed", showgrid: false, zeroline: false, ticks: "", showticklabels: H <= 16, dtick: 1,
      };
    });
    const lineAxis = `y${nRows + 1}`;
    layout[`yaxis${nRows + 1}`] = {
      domain: [0, lineH / total - gap], title: { text: `unit ${unit}` }, zeroline: true, zerolinecolor: "#bbb",
    };
    for (const name of lineNames) {
      traces.push({
        type: "scatter", mode: "lines", name: `${name} (unit ${unit})`, x: xs,
        y: (win.signals[name] || []).map((r) => r[unit]), yaxis: lineAxis, xaxis: "x",
        line: { color: LINE_COLOURS[name] || "#444", width: 2, shape: "hv" },
        hovertemplate: `${name}[${unit}] t=%{x}: %{y:.4f}<extra></extra>`,
      });
    }
    Plotly.react(div, traces, layout, { displayModeBar: false, responsive: true });
    unitShown = unit;
    if (!div.dataset.bound) {
      div.dataset.bound = "1";
      div.on("plotly_click", (ev) => {
        const p = ev.points?.[0];
        if (!p) return;
        const isHeat = p.data?.type === "heatmap";
        onSeek(Math.round(p.x), isHeat ? Math.round(p.y) : null);
      });
    }
    placeCursor(lastT);
  }

  let lastT = 0;
  function placeCursor(t) {
    lastT = t;
    if (cursorEl.getAttribute("data-t") !== String(t)) cursorEl.setAttribute("data-t", String(t));
    const full = div._fullLayout;
    if (!full?.xaxis || !win || t < win.start || t >= win.stop) {
      cursorEl.style.display = "none";
      return;
    }
    const xa = full.xaxis;
    cursorEl.style.display = "block";
    cursorEl.style.left = `${xa._offset + xa.l2p(t)}px`;
    cursorEl.style.top = `${full._size.t}px`;
    cursorEl.style.height = `${full._size.h}px`;
  }

  /** Follow the store: move the cursor, refetch the window when t leaves it, redraw on unit change. */
  function update(state) {
    if (!session || !state.session || state.session.id !== session.id) return;
    placeCursor(state.frame?.t ?? state.t);
    if (needsFetch(state.t)) fetchWindow(state.t, state.unit);
    else if (state.unit !== unitShown) draw(state.unit);
  }

  return { setSession, update };
}
