// Side by side: the sessions of `?compare=ID1,ID2[,ID3]` after the first (the session on
// screen) each get a diagram and a sensitivity view that follow the one cursor, stage and
// unit; the page's line chart overlays their c and h (charts.js, told by `onSessions`).
// Their numbers are windows of GET /api/sessions/{id}/trace, indexed at the cursor in the
// same redraw as the main diagram, so every diagram's data-t is the same on every painted
// frame.

import { getSession, getTrace } from "../net/api.js";
import { partOf } from "../state/parts.js";
import { createSensitivityView } from "./sensitivity.js";

const WINDOW = 1000; // steps of each companion held at once

/** A failed comparison, as the compare panel says it. */
export function compareMessage(err) {
  const gone = err.status === 404 ? " It is not on this server (any more): the other sessions are shown." : "";
  return `Cannot compare: ${err.message}.${gone}`;
}

/** `draw(host, session)` renders a diagram and returns {svg, update}; `onSessions(records)`
 *  hears which sessions are shown beside the one on screen. */
export function createCompare(host, { draw, onSeek, onError, onSessions }) {
  let companions = []; // {session, diagram, sens, win: {start, stop, signals}, loading}
  let lastState = null;
  let generation = 0; // the latest setSessions: an older one still loading gives way

  async function load(c, t) {
    const start = Math.max(0, Math.min(c.session.steps - WINDOW, t - WINDOW / 2));
    const stop = Math.min(c.session.steps, start + WINDOW);
    if (c.loading === start) return;
    c.loading = start;
    try {
      const w = await getTrace(c.session.id, start, stop, undefined, c.session);
      c.win = w;
      if (lastState) paint(c, lastState);
    } catch (err) {
      onError(err);
    } finally {
      c.loading = null;
    }
  }

  function frameOf(c, t) {
    const w = c.win;
    if (!w || t < w.start || t >= w.stop) return null;
    // a trace nests a matrix signal's step (an mLSTM's heads × d × d memory, a Mamba's
    // channels × N states); a streamed frame holds it flat, row-major, as the diagram reads it
    const signals = {};
    for (const [name, rows] of Object.entries(w.signals)) {
      const row = rows[t - w.start];
      signals[name] = Array.isArray(row?.[0]) ? row.flat(Infinity) : row;
    }
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
    const gen = ++generation;
    lastState = state;
    host.replaceChildren();
    companions = [];
    host.hidden = ids.length === 0;
    // each drawn at the main one's layer and direction, as far as it has them
    const records = await Promise.all(ids.map((id) => getSession(id).then((r) => partOf(r, main.layer, main.direction)).catch((err) => {
      onError(err);
      return null;
    })));
    if (gen !== generation) return;
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
    onSessions(companions.map((c) => c.session));
    if (lastState) update(lastState);
  }

  function update(state) {
    lastState = state;
    for (const c of companions) paint(c, state);
  }

  return { setSessions, update, ids: () => companions.map((c) => c.session.id),
    sessions: () => companions.map((c) => c.session) };
}
