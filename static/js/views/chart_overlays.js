// Which other runs the line chart draws faintly, from the page state (issue 14): a
// what-if's original run (a held or weight-edited session with `orig`), or the other
// sessions of a compare; and their numbers over a window of the charts. The charts module
// (charts.js) asks for them with each window and draws them.

import { getDifference, getTrace } from "../net/api.js";
import { lineSignals } from "./chart_figures.js";

const count = (x) => (Array.isArray(x) ? x.length : Number(Boolean(x)));
const shortId = (id) => String(id).slice(0, 6);
/** A session as the legend names it: its preset or kind, and the start of its id. */
export const describe = (record) => `${record.preset ?? record.cell}, session ${shortId(record.id)}…`;

/** How the run on screen differs from its original ("" when it does not). */
function whatIfName(session) {
  const held = count(session.interventions) > 0;
  const edited = count(session.weight_edits) > 0;
  if (held && edited) return "held, weights edited";
  return held ? "held" : edited ? "weights edited" : "";
}

/** {label, list}: how the line chart names the run on screen ("" = by its unit) and the
 *  overlays [{id, label, names, steps, part, difference}] (`compared`: the compare's other
 *  session records, in order). */
export function overlaysFor(state, compared) {
  const s = state.session;
  if (!s) return { label: "", list: [] };
  const mine = lineSignals(s);
  const ids = (state.compare || "").split(",");
  if (state.compare && compared.length) {
    return {
      label: describe(s),
      list: compared.filter((r) => r.id !== s.id && ids.includes(r.id)).map((r) => ({
        id: r.id, label: describe(r), steps: r.steps, part: null, difference: false,
        // a signal the other kind has not (an RNN's c) is skipped
        names: lineSignals(r).filter((n) => mine.includes(n)),
      })),
    };
  }
  const name = whatIfName(s);
  if (!state.orig || state.orig === s.id || !name) return { label: "", list: [] };
  // the original has the same cell; in a model, the same layer and direction, which the
  // server's difference is taken of.
  const part = { layer: s.layer, direction: s.direction };
  return {
    label: name,
    list: [{
      id: state.orig, label: "original run", names: mine, steps: s.steps, part,
      difference: mine.includes("h"),
    }],
  };
}

/** The overlays' signals over window w of `session` (the run on screen): one request per
 *  overlay (its line signals at once, far below the server's size cap) and one for a
 *  difference, in parallel -> {ghosts: {id: {name: rows}}, diff: {from, rows} | null}. An
 *  overlay that fails is reported and left out; the charts go on. */
export async function fetchOverlays(session, w, list, onError) {
  const ghosts = {};
  let diff = null;
  await Promise.all(list.flatMap((o) => {
    const stop = Math.min(w.stop, o.steps ?? w.stop);
    if (w.start >= stop || !o.names.length) return [];
    const jobs = [getTrace(o.id, w.start, stop, o.names, o.part).then((g) => { ghosts[o.id] = g.signals; })];
    if (o.difference) {
      jobs.push(getDifference(session.id, o.id, w.start, Math.min(w.stop, session.steps), ["h"], o.part)
        .then((d) => { diff = { from: o.id, rows: d.signals.h }; }));
    }
    return jobs.map((p) => p.catch((err) => onError(err)));
  }));
  return { ghosts, diff };
}
