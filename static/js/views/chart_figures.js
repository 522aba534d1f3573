// Plotly figures for the charts: one heatmap (unit × time) per shown signal and a line
// chart of the selected unit. Each is its own small Plotly graph so that a redraw can be
// spread over several idle slots; all share the same left/right margins and x range, so
// their x axes line up and one cursor overlay serves them all. Display mapping only: every
// number is the engine's.

import { DIVERGING_ENDS, GATE_ENDS } from "../diagram/encode.js";
import { parseMath } from "./math_text.js";

const SHOWN_KINDS = new Set(["gate", "candidate"]);
const SHOWN_STATES = ["c", "h"];
// one scale per meaning, the same as the diagram's (diagram/encode.js): gates 0…1
// sequential, signed values diverging around 0
const GATE_SCALE = [[0, GATE_ENDS[0]], [1, GATE_ENDS[1]]];
const DIVERGING = [[0, DIVERGING_ENDS[0]], [0.5, DIVERGING_ENDS[1]], [1, DIVERGING_ENDS[2]]];
// the new state is bluish green wherever it is drawn; an LSTM's output h is sky blue
const NEW_STATE = "#009E73";
const OUTPUT = "#56B4E9";
const lineColour = (name, session) => (name === "c" || !session.signals.some((s) => s.name === "c") ? NEW_STATE : OUTPUT);
const FONT = { family: "system-ui, sans-serif", size: 11, color: "#222" };

/** Pixel geometry shared by the charts (the cursor overlay is placed from it). */
export const GEOMETRY = { left: 110, right: 86, heatHeight: 66, heatPad: 3, lineHeight: 190, lineTop: 26, lineBottom: 40 };
export const CONFIG = { displayModeBar: false, responsive: true, doubleClick: false };

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
/** Plotly's pseudo-HTML for a label: escaped text plus <sub>/<sup>. */
const plotlyLabel = (label) =>
  parseMath(label).map((s) => (s.script ? `<${s.script}>${esc(s.text)}</${s.script}>` : esc(s.text))).join("");

/** The charts of a session: [{id, type: "heatmap" | "line", names: [signal names], sig?}]. */
export function chartSpecs(session) {
  const shown = session.signals.filter((x) => SHOWN_KINDS.has(x.kind) || SHOWN_STATES.includes(x.name));
  // preset unit names on the heatmaps' unit axis (short: up to the first colon)
  const labels = session.unit_labels?.map((l) => String(l).split(/[:(]/)[0].trim().slice(0, 16)) ?? null;
  const heat = shown.slice(0, 8).map((sig) => ({ id: sig.name, type: "heatmap", names: [sig.name], sig, labels }));
  const lineNames = SHOWN_STATES.filter((n) => session.signals.some((x) => x.name === n));
  return [...heat, { id: "line", type: "line", names: lineNames, session }];
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
      type: "heatmap", name: spec.id, z: rows, transpose: true, x0: win.start, dx: 1, showscale: true,
      colorbar: { thickness: 10, len: 1, x: 1.005, xpad: 4, ypad: 0, outlinewidth: 0, tickfont: { size: 10 },
        nticks: 3, title: { text: gate ? "gate" : "value", side: "right", font: { size: 10 } } },
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
        ...(spec.labels ? { tickmode: "array", tickvals: spec.labels.map((_, k) => k), ticktext: spec.labels } : {}),
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
      line: { color: lineColour(name, spec.session), width: 2, shape: "hv" },
      hovertemplate: `${name}[${unit}] t=%{x}: %{y:.4f}<extra></extra>`,
    })),
    layout: {
      height: g.lineHeight, margin: { l: g.left, r: g.right, t: g.lineTop, b: g.lineBottom },
      paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff", font: FONT, hovermode: "closest",
      uirevision: "charts", showlegend: true,
      legend: { orientation: "h", x: 1, xanchor: "right", y: 1, yanchor: "bottom", font: { size: 11 } },
      xaxis: xAxis(win, true),
      yaxis: { title: { text: spec.session.unit_labels?.[unit] ? `unit ${unit}: ${String(spec.session.unit_labels[unit]).split(":")[0]}` : `unit ${unit}` },
        zeroline: true, zerolinecolor: "#bbb", fixedrange: true },
    },
  };
}

/** The figure of chart `spec` for window `win` ({start, stop}) from `data` (name -> rows). */
export function figureFor(spec, win, data, unit) {
  return spec.type === "line" ? lineFigure(spec, win, data, unit) : heatmapFigure(spec, win, data[spec.id] || []);
}
