// Plotly figures for the charts: one heatmap (unit × time) per shown signal and a line
// chart of the selected unit. Each is its own small Plotly graph so that a redraw can be
// spread over several idle slots; all share the same left/right margins and x range, so
// their x axes line up and one cursor overlay serves them all. Display mapping only: every
// number is the engine's.

import { parseMath } from "./math_text.js";

const SHOWN_KINDS = new Set(["gate", "candidate"]);
const SHOWN_STATES = ["c", "h"];
const GATE_SCALE = [[0, "#f7f7f7"], [1, "#0072B2"]];
const DIVERGING = [[0, "#0072B2"], [0.5, "#f7f7f7"], [1, "#D55E00"]];
const LINE_COLOURS = { c: "#009E73", h: "#CC79A7" };
const FONT = { family: "system-ui, sans-serif", size: 11, color: "#222" };

/** Pixel geometry shared by the charts (the cursor overlay is placed from it). */
export const GEOMETRY = { left: 64, right: 12, heatHeight: 66, heatPad: 3, lineHeight: 190, lineTop: 26, lineBottom: 40 };
export const CONFIG = { displayModeBar: false, responsive: true, doubleClick: false };

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
/** Plotly's pseudo-HTML for a label: escaped text plus <sub>/<sup>. */
const plotlyLabel = (label) =>
  parseMath(label).map((s) => (s.script ? `<${s.script}>${esc(s.text)}</${s.script}>` : esc(s.text))).join("");

/** The charts of a session: [{id, type: "heatmap" | "line", names: [signal names], sig?}]. */
export function chartSpecs(session) {
  const shown = session.signals.filter((x) => SHOWN_KINDS.has(x.kind) || SHOWN_STATES.includes(x.name));
  const heat = shown.slice(0, 8).map((sig) => ({ id: sig.name, type: "heatmap", names: [sig.name], sig }));
  const lineNames = SHOWN_STATES.filter((n) => session.signals.some((x) => x.name === n));
  return [...heat, { id: "line", type: "line", names: lineNames }];
}

/** Total height in px of the charts of `specs` (for the cursor overlay). */
export function chartsHeight(specs) {
  return specs.reduce((h, s) => h + (s.type === "line" ? GEOMETRY.lineHeight : GEOMETRY.heatHeight), 0);
}

function xAxis(win, last) {
  return {
    range: [win.start - 0.5, win.stop - 0.5], fixedrange: true, showgrid: false, zeroline: false,
    showticklabels: last, ticks: last ? "outside" : "", title: last ? { text: "time step t", standoff: 6 } : undefined,
  };
}

/** Heatmap of one signal over the window: rows are units, columns steps. */
function heatmapFigure(spec, win, rows) {
  const sig = spec.sig;
  const gate = Array.isArray(sig.range) && sig.range[0] === 0 && sig.range[1] === 1;
  const H = rows[0]?.length || 0;
  let amax = 1;
  if (!gate) for (const r of rows) for (const v of r) amax = Math.max(amax, Math.abs(v));
  const g = GEOMETRY;
  return {
    data: [{
      type: "heatmap", name: spec.id, z: rows, transpose: true, x0: win.start, dx: 1, showscale: false,
      colorscale: gate ? GATE_SCALE : DIVERGING, zmin: gate ? 0 : -amax, zmax: gate ? 1 : amax,
      hovertemplate: `${plotlyLabel(sig.label)}  t=%{x}  unit %{y}: %{z:.4f}<extra></extra>`,
    }],
    layout: {
      height: g.heatHeight, margin: { l: g.left, r: g.right, t: g.heatPad, b: g.heatPad },
      paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff", font: FONT, hovermode: "closest",
      uirevision: "charts", xaxis: xAxis(win, false),
      yaxis: {
        title: { text: plotlyLabel(sig.label), font: { size: 12 } }, autorange: "reversed", fixedrange: true,
        showgrid: false, zeroline: false, ticks: "", showticklabels: H <= 16, dtick: 1,
      },
    },
  };
}

/** The selected unit's states (c, h) over the window. */
function lineFigure(spec, win, data, unit) {
  const g = GEOMETRY;
  return {
    data: spec.names.map((name) => ({
      type: "scatter", mode: "lines", name: `${name} (unit ${unit})`, x0: win.start, dx: 1,
      y: (data[name] || []).map((r) => r[unit]),
      line: { color: LINE_COLOURS[name] || "#444", width: 2, shape: "hv" },
      hovertemplate: `${name}[${unit}] t=%{x}: %{y:.4f}<extra></extra>`,
    })),
    layout: {
      height: g.lineHeight, margin: { l: g.left, r: g.right, t: g.lineTop, b: g.lineBottom },
      paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff", font: FONT, hovermode: "closest",
      uirevision: "charts", showlegend: true,
      legend: { orientation: "h", x: 1, xanchor: "right", y: 1, yanchor: "bottom", font: { size: 11 } },
      xaxis: xAxis(win, true),
      yaxis: { title: { text: `unit ${unit}` }, zeroline: true, zerolinecolor: "#bbb", fixedrange: true },
    },
  };
}

/** The figure of chart `spec` for window `win` ({start, stop}) from `data` (name -> rows). */
export function figureFor(spec, win, data, unit) {
  return spec.type === "line" ? lineFigure(spec, win, data, unit) : heatmapFigure(spec, win, data[spec.id] || []);
}
