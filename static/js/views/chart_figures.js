// Plotly figures for the charts: one heatmap (unit × time) per shown signal and a line
// chart of the selected unit. Each is its own small Plotly graph so that a redraw can be
// spread over several idle slots; all share the same left/right margins and x range, so
// their x axes line up and one cursor overlay serves them all. Display mapping only: every
// number is the engine's.

import { DIVERGING_ENDS, GATE_ENDS } from "../diagram/encode.js";
import { parseMath } from "./math_text.js";
import { stepsOf } from "./sequence_view.js";

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
// (lineBottom holds two rows of tick labels: the step and, for text, its input token)
export const GEOMETRY = { left: 110, right: 86, heatHeight: 66, heatPad: 3, lineHeight: 202, lineTop: 26, lineBottom: 52 };
// at most this many labelled ticks on the time axis (one every k steps beyond it)
const MAX_TICKS = 25;
export const CONFIG = { displayModeBar: false, responsive: true, doubleClick: false };

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
/** Plotly's pseudo-HTML for a label: escaped text plus <sub>/<sup>. */
const plotlyLabel = (label) =>
  parseMath(label).map((s) => (s.script ? `<${s.script}>${esc(s.text)}</${s.script}>` : esc(s.text))).join("");

/** The charts of a session: [{id, type: "heatmap" | "line", names: [signal names], sig?}]. */
export function chartSpecs(session) {
  const shown = session.signals.filter((x) => flat(x) && (SHOWN_KINDS.has(x.kind) || SHOWN_STATES.includes(x.name)));
  // preset unit names on the heatmaps' unit axis (short: up to the first colon)
  const labels = session.unit_labels?.map((l) => String(l).split(/[:(]/)[0].trim().slice(0, 16)) ?? null;
  const tokens = tokensOf(session);
  const heat = shown.slice(0, 8).map((sig) => ({ id: sig.name, type: "heatmap", names: [sig.name], sig, labels, tokens }));
  return [...heat, { id: "line", type: "line", names: lineSignals(session), session, tokens }];
}

/** The input token each step of a text session reads, from the text and the step
 *  boundaries the server sent (a backward cell's step t reads time T−1−t); null for numbers. */
export function tokensOf(session) {
  const text = session.sequence?.text;
  if (typeof text !== "string" || !text.length) return null;
  const steps = stepsOf(text, session.sequence.clusters, session.sequence.tokens);
  return session.direction === "backward" ? steps.reverse() : steps;
}

/** A token as a tick label shows it: blanks and line ends made visible. */
const tokenLabel = (tok) => ({ " ": "␣", "\n": "↵", "\t": "⇥", "\r": "↵" })[tok] ?? tok;

/** A signal with one number per unit each step (a Mamba's E × N state is not: no heatmap). */
const flat = (sig) => !sig.shape || sig.shape.length <= 1;

/** The signals of the line chart that `session` has (c, h; a Mamba's read-out y, its state
 *  being a matrix). */
export function lineSignals(session) {
  const signals = session.signals ?? [];
  const states = SHOWN_STATES.filter((n) => signals.some((x) => x.name === n && flat(x)));
  return states.length ? states : signals.filter((x) => x.name === "y" && flat(x)).map((x) => x.name);
}

/** Total height in px of the charts of `specs` (for the cursor overlay). */
export function chartsHeight(specs) {
  return specs.reduce((h, s) => h + (s.type === "line" ? GEOMETRY.lineHeight : GEOMETRY.heatHeight), 0);
}

function xAxis(win, last, tokens) {
  const axis = {
    range: [win.start - 0.5, win.stop - 0.5], fixedrange: true, showgrid: false, zeroline: false,
    showticklabels: last, ticks: last ? "outside" : "", title: last ? { text: "time step t", standoff: 6 } : undefined,
  };
  if (!tokens || !last) return axis;
  // for text: each labelled step with the token it reads (the server's steps, not re-split)
  const stride = Math.max(1, Math.ceil((win.stop - win.start) / MAX_TICKS));
  const tickvals = [];
  for (let t = win.start; t < win.stop; t += stride) tickvals.push(t);
  return {
    ...axis, tickmode: "array", tickvals, tickangle: 0,
    ticktext: tickvals.map((t) => `${t}<br>${esc(tokenLabel(tokens[t] ?? ""))}`),
    title: { text: "time step t and its input token", standoff: 4 },
  };
}

/** Each unit on its own scale (display only: the colours change, never the numbers):
 *  a signed signal over ±max|v| of that unit, a gate over that unit's [min, max], so one
 *  saturated unit no longer whitens the others. Rows are units, columns steps. */
export function perUnitColours(rows, gate) {
  const H = rows[0]?.length || 0;
  const out = [];
  for (let u = 0; u < H; u++) {
    const col = rows.map((r) => r[u]);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of col) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const amax = Math.max(Math.abs(lo), Math.abs(hi));
    out.push(gate ? col.map((v) => (hi > lo ? (v - lo) / (hi - lo) : 0.5)) : col.map((v) => (amax > 0 ? v / amax : 0)));
  }
  return out;
}

/** Heatmap of one signal over the window: rows are units, columns steps. `perUnit`: each
 *  unit coloured on its own scale, the hover still telling the engine's value. */
function heatmapFigure(spec, win, rows, perUnit = false) {
  const sig = spec.sig;
  const gate = Array.isArray(sig.range) && sig.range[0] === 0 && sig.range[1] === 1;
  const H = rows[0]?.length || 0;
  let amax = 1;
  if (!gate) for (const r of rows) for (const v of r) amax = Math.max(amax, Math.abs(v));
  const g = GEOMETRY;
  const token = spec.tokens ? "  %{customdata}" : "";
  const tokensAt = spec.tokens ? Array.from({ length: H }, () => Array.from({ length: rows.length },
    (_, k) => esc(JSON.stringify(spec.tokens[win.start + k] ?? "")))) : undefined;
  const scaled = perUnit ? {
    z: perUnitColours(rows, gate), transpose: false, zmin: gate ? 0 : -1, zmax: 1,
    // the engine's values (units × steps, as z) for the hover
    text: Array.from({ length: H }, (_, u) => rows.map((r) => r[u].toFixed(4))),
    hovertemplate: `${plotlyLabel(sig.label)}  t=%{x}${token}  unit %{y}: %{text}<extra></extra>`,
  } : null;
  return {
    data: [{
      type: "heatmap", name: spec.id, z: rows, transpose: true, x0: win.start, dx: 1, showscale: true,
      colorbar: { thickness: 10, len: 1, x: 1.005, xpad: 4, ypad: 0, outlinewidth: 0, tickfont: { size: 10 },
        nticks: 3, title: { text: scaled ? "per unit" : gate ? "gate" : "value", side: "right", font: { size: 10 } } },
      colorscale: gate ? GATE_SCALE : DIVERGING, zmin: gate ? 0 : -amax, zmax: gate ? 1 : amax,
      hovertemplate: `${plotlyLabel(sig.label)}  t=%{x}${token}  unit %{y}: %{z:.4f}<extra></extra>`,
      ...(tokensAt ? { customdata: tokensAt } : {}),
      ...(scaled ? { z: scaled.z, transpose: false, zmin: scaled.zmin, zmax: scaled.zmax, text: scaled.text,
        hovertemplate: scaled.hovertemplate } : {}),
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

// Overlays ("ghosts", e.g. a what-if's original run or the other sessions of a compare):
// thin, dashed and faint in the signal's own colour, each named in the legend. The colour
// tells the signal, the dash the session, the legend both: nothing rests on colour alone.
const OVERLAY_DASHES = ["dash", "dot", "dashdot"];
const OVERLAY_LINE = { width: 1.5, opacity: 0.6 };
// h_new − h_orig of a what-if, on its own axis at the right (vermillion, dotted)
const DIFFERENCE = "#D55E00";
export const DIFFERENCE_NAME = "h_new − h_orig";

const column = (rows, unit) => (rows || []).map((r) => r[unit]);

/** The selected unit's states (c, h) over the window, with the overlays' same signals
 *  (`extra`: {overlays: [{id, label, start, data: {name: rows}}], difference: rows | null,
 *  label: how the run on screen is named, "" for "unit U"}). Overlays are drawn first, so
 *  the run on screen lies on top of them; legendrank lists it first. */
function lineFigure(spec, win, data, unit, extra = {}) {
  const g = GEOMETRY;
  const mine = extra.label || `unit ${unit}`;
  // an LSTM with proj_size: h has P values, the unit picker spans c's H; past P there is
  // no h to draw, and the chart says so (as the diagram does)
  const P = spec.session.proj_size;
  const noH = Boolean(P) && unit >= P;
  const names = noH ? spec.names.filter((n) => n !== "h") : spec.names;
  const overlays = (extra.overlays || []).flatMap((o, k) => names.filter((name) => o.data?.[name]).map((name) => ({
    type: "scatter", mode: "lines", name: `${name} (${o.label})`, x0: o.start, dx: 1, y: column(o.data[name], unit),
    line: { color: lineColour(name, spec.session), width: OVERLAY_LINE.width, dash: OVERLAY_DASHES[k % OVERLAY_DASHES.length], shape: "hv" },
    opacity: OVERLAY_LINE.opacity, legendrank: 100 + k, meta: o.id,
    hovertemplate: `${name}[${unit}] (${esc(o.label)}) t=%{x}: %{y:.4f}<extra></extra>`,
  })));
  const main = names.map((name) => ({
    type: "scatter", mode: "lines", name: `${name} (${mine})`, x0: win.start, dx: 1,
    y: column(data[name], unit), legendrank: 1,
    line: { color: lineColour(name, spec.session), width: 2, shape: "hv" },
    hovertemplate: `${name}[${unit}] t=%{x}: %{y:.4f}<extra></extra>`,
  }));
  const diff = extra.difference && !noH ? [{
    type: "scatter", mode: "lines", name: DIFFERENCE_NAME, x0: win.start, dx: 1, y: column(extra.difference, unit),
    yaxis: "y2", legendrank: 50, line: { color: DIFFERENCE, width: 1.5, dash: "dot", shape: "hv" },
    hovertemplate: `h_new[${unit}] − h_orig[${unit}] t=%{x}: %{y:.4g}<extra></extra>`,
  }] : [];
  const unitName = spec.session.unit_labels?.[unit];
  const notes = noH ? [{
    text: `no h line: h has only P = ${P} values (units 0–${P - 1}); unit ${unit} is one of the H = ${spec.session.hidden_size} of c`,
    xref: "paper", yref: "paper", x: 0, y: 1, xanchor: "left", yanchor: "bottom", showarrow: false,
    font: { size: 11, color: "#444" },
  }] : [];
  return {
    data: [...overlays, ...main, ...diff],
    layout: {
      annotations: notes,
      height: g.lineHeight, margin: { l: g.left, r: g.right, t: g.lineTop, b: g.lineBottom },
      paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff", font: FONT, hovermode: "closest",
      uirevision: "charts", showlegend: true,
      legend: { orientation: "h", x: 1, xanchor: "right", y: 1, yanchor: "bottom", font: { size: 11 } },
      xaxis: xAxis(win, true, spec.tokens),
      yaxis: { title: { text: unitName ? `unit ${unit}: ${String(unitName).split(":")[0]}` : `unit ${unit}` },
        zeroline: true, zerolinecolor: "#bbb", fixedrange: true },
      // the difference has its own scale (it is often tiny beside the states)
      ...(diff.length ? { yaxis2: { overlaying: "y", side: "right", fixedrange: true, zeroline: true,
        zerolinecolor: "#f3c3a5", showgrid: false, tickfont: { size: 10, color: DIFFERENCE },
        title: { text: "difference", font: { size: 10, color: DIFFERENCE }, standoff: 2 } } } : {}),
    },
  };
}

/** The figure of chart `spec` for window `win` ({start, stop}) from `data` (name -> rows);
 *  `extra` (line charts only): the overlays and the difference, as lineFigure takes them. */
export function figureFor(spec, win, data, unit, extra, perUnit = false) {
  return spec.type === "line" ? lineFigure(spec, win, data, unit, extra) : heatmapFigure(spec, win, data[spec.id] || [], perUnit);
}
