// Side by side: the sessions of `?compare=ID1,ID2[,ID3]` after the first (the session on
// screen) each get a diagram and a sensitivity view that follow the one cursor, stage and
// unit, and one chart overlays h[unit] of every session. Their numbers are windows of
// GET /api/sessions/{id}/trace, indexed at the cursor in the same redraw as the main
// diagram, so every diagram's data-t is the same on every painted frame.

import { getSession, getTrace } from "../net/api.js";
import { createSensitivityView } from "./sensitivity.js";

const WINDOW = 1000; // steps of each companion held at once

/** `draw(host, session)` renders a diagram and returns {svg, update}. */
export function createCompare(host, chart, { draw, onSeek, onError }) {
  let companions = []; // {session, diagram, sens, win: {start, stop, signals}, loading}
  let primary = null;
  let lastState = null;

  async function load(c, t) {
    const start = Math.max(0, Math.min(c.session.steps - WINDOW, t - WINDOW / 2));
    const stop = Math.min(c.session.steps, start + WINDOW);
    if (c.loading === start) return;
    c.loading = start;
    try {
      const w = await getTrace(c.session.id, start, stop);
      c.win = w;
      if (lastState) paint(c, lastState);
      drawChart();
    } catch (err) {
      onError(err);
    } finally {
      c.loading = null;
    }
  }

  function frameOf(c, t) {
    const w = c.win;
    if (!w || t < w.start || t >= w.stop) return null;
    const signals = {};
    for (const [name, rows] of Object.entries(w.signals)) signals[name] = rows[t - w.start];
    return { t, signals };
  }

  function paint(c, state) {
    const t = Math.min(state.frame?.t ?? state.t, c.session.steps - 1);
    const frame = frameOf(c, t);
    if (!frame) {
      load(c, t);
      return;
    }
    c.diagram.update({ ...state, frame });
    c.sens.update({ ...state, session: c.session, frame });
  }

  /** Show the sessions `ids` beside `main` (the session on screen). */
  async function setSessions(main, ids, state = lastState) {
    primary = main;
    lastState = state;
    host.replaceChildren();
    companions = [];
    host.hidden = ids.length === 0;
    chart.hidden = ids.length === 0;
    const records = await Promise.all(ids.map((id) => getSession(id).catch((err) => {
      onError(err);
      return null;
    })));
    for (const session of records.filter(Boolean)) {
      const box = document.createElement("figure");
      box.className = "compare-item";
      const caption = document.createElement("figcaption");
      caption.textContent = `${session.preset ?? session.cell} (H = ${session.hidden_size})`;
      const dHost = document.createElement("div");
      dHost.className = "diagram-host compare-diagram";
      const sHost = document.createElement("div");
      sHost.dataset.view = "sensitivity";
      sHost.className = "sens-host";
      box.append(caption, dHost, sHost);
      host.append(box);
      const c = { session, diagram: draw(dHost, session), win: null, loading: null };
      c.sens = createSensitivityView(sHost, { onSeek, onError });
      companions.push(c);
      load(c, lastState?.t ?? 0);
    }
    if (lastState) update(lastState);
  }

  function update(state) {
    lastState = state;
    for (const c of companions) paint(c, state);
  }

  async function drawChart() {
    if (!companions.length || !window.Plotly || !primary || !lastState) return;
    const u = lastState.unit;
    const traces = [];
    const all = [{ session: primary, win: null }, ...companions];
    if (!all[0].win || all[0].unit !== u) {
      const w0 = companions[0].win;
      if (!w0) return;
      all[0].win = await getTrace(primary.id, w0.start, Math.min(primary.steps, w0.stop), ["h"]);
    }
    for (const c of all) {
      if (!c.win) continue;
      traces.push({ x: c.win.signals.h.map((_, k) => c.win.start + k), y: c.win.signals.h.map((r) => r[u]),
        name: `${c.session.preset ?? c.session.cell}: h[${u}]`, mode: "lines" });
    }
    chart.dataset.sessions = all.map((c) => c.session.id).join(",");
    window.Plotly.react(chart, traces, { height: 220, margin: { l: 50, r: 10, t: 10, b: 30 },
      legend: { orientation: "h" }, xaxis: { title: { text: "t" } } }, { displayModeBar: false, responsive: true });
  }

  return { setSessions, update, drawChart, ids: () => companions.map((c) => c.session.id) };
}
