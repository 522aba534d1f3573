// Plotly views linked to the cursor: heatmaps (unit × time) and a line chart of the
// selected unit, over a window of the trace from GET /api/sessions/{id}/trace, so that a
// 100,000-step trace stays light.
//
// Per step only the cursor overlay moves (a CSS transform, no Plotly call). The window is
// large and slides rarely: when the cursor nears its edge it jumps so that the cursor sits
// near the other edge. The next window is prepared ahead, off the critical path, into a
// hidden second set of charts (double buffering): fetched one signal at a time and drawn
// one chart per idle slot; the two sets then swap in one class change.
//
// Overlays (setOverlays): other sessions whose same signals the line chart draws faintly
// under the run on screen — a what-if's original run (with h_new − h_orig, as the server
// computes it, on a second axis) or the other sessions of a compare. They follow the same
// windows: one request per overlay per window, fetched and drawn with the line chart, so a
// step still costs no Plotly call. The heatmaps show the session on screen only: a heatmap
// has no faint version (its colour is the value), and a second one per overlay would double
// the charts the page keeps and redraws.

import { getTrace } from "../net/api.js";
import { CONFIG, GEOMETRY, chartSpecs, chartsHeight, figureFor } from "./chart_figures.js";
import { bindClicks } from "./chart_clicks.js";
import { fetchOverlays } from "./chart_overlays.js";
import { createDrawCount } from "./draw_count.js";
import { unitCount } from "../state/parts.js";

const WINDOW = 500; // steps in a window
const EDGE = 50; // a window slides when the cursor comes this close to its edge
const QUANT = 10; // window starts are multiples of this
const IDLE_TIMEOUT_MS = 300;

const idle = (fn) => (window.requestIdleCallback ? requestIdleCallback(fn, { timeout: IDLE_TIMEOUT_MS }) : setTimeout(fn, 16));

export function createCharts(host, cursorEl, { onSeek, onError }) {
  let session = null;
  let specs = [];
  let sets = []; // two chart sets: {el, divs: {id: div}, win, data, ghosts, diff, ghostKey, unit, ready}
  // the sessions drawn faintly in the line chart: [{id, label, names, steps, part, difference}]
  let overlays = [];
  let overlayKey = "";
  let label = ""; // how the line chart names the run on screen ("" = "unit U")
  let front = null;
  let back = null;
  let job = null; // the window being prepared into `back`: {start, stop, urgent}
  let lastT = 0;
  let dir = 1;
  let unit = 0;
  let perUnit = false; // heatmaps: each unit on its own colour scale ("Scale each heatmap row")
  let cursor = { t: -1, shown: false, x: -1 };
  const count = createDrawCount(host); // data-draws, data-drawing: what a test waits on

  const T = () => session?.steps ?? 0;
  const clampStart = (s) => Math.max(0, Math.min(s, T() - WINDOW));
  const win = (start) => ({ start, stop: Math.min(T(), start + WINDOW) });
  const forwardStart = (t) => clampStart(Math.floor((t - EDGE) / QUANT) * QUANT);
  const backwardStart = (t) => clampStart(Math.ceil((t - WINDOW + EDGE + 1) / QUANT) * QUANT);
  const centredStart = (t) => clampStart(Math.round((t - WINDOW / 2) / QUANT) * QUANT);
  /** t is inside w and, unless w touches the trace's ends, not in its edge zones. */
  const comfortable = (w, t) => Boolean(w)
    && t >= w.start + (w.start > 0 ? EDGE : 0) && t < w.stop - (w.stop < T() ? EDGE : 0);

  function makeSet(k) {
    const el = document.createElement("div");
    el.className = `chart-set ${k === 0 ? "front" : "back"}`;
    const divs = {};
    for (const spec of specs) {
      const div = document.createElement("div");
      div.className = `chart-row ${spec.type}`;
      div.dataset.chart = spec.id;
      el.appendChild(div);
      divs[spec.id] = div;
    }
    host.appendChild(el);
    return { el, divs, win: null, data: null, ghosts: null, diff: null, ghostKey: "", unit: -1, ready: false };
  }

  function setSession(s) {
    // the old charts are dropped, not purged: a Plotly.react still settling (its margins
    // are redrawn a task later) finishes on its detached div instead of failing on a
    // purged one
    host.replaceChildren();
    session = s;
    specs = chartSpecs(s);
    sets = [makeSet(0), makeSet(1)];
    [front, back] = sets;
    job = null;
    lastT = 0;
    cursor = { t: -1, shown: false, x: -1 };
    cursorEl.style.top = `${GEOMETRY.heatPad}px`;
    cursorEl.style.height = `${chartsHeight(specs) - GEOMETRY.heatPad - GEOMETRY.lineBottom}px`;
    showCursor(false);
  }

  function draw(set, spec) {
    const line = spec.type === "line";
    // only overlays still asked for: one taken away leaves at once, a new one comes when fetched
    const shown = line ? overlays.filter((o) => set.ghosts?.[o.id]) : [];
    const diffOf = shown.find((o) => o.difference && set.diff?.from === o.id);
    const extra = line ? {
      label, difference: diffOf ? set.diff.rows : null,
      overlays: shown.map((o) => ({ id: o.id, label: o.label, start: set.win.start, data: set.ghosts[o.id] })),
    } : undefined;
    const div = set.divs[spec.id];
    const fig = figureFor(spec, set.win, set.data, unit, extra, perUnit);
    count.drew(window.Plotly.react(div, fig.data, fig.layout, CONFIG));
    if (line) {
      set.unit = unit;
      // test hook: which sessions this chart overlays (and whose difference it shows)
      div.dataset.overlay = shown.map((o) => o.id).join(",");
      div.dataset.difference = diffOf?.id ?? "";
    }
  }

  /** Draw `list` (see chart_overlays.js) faintly in the line chart; `mainLabel` names the
   *  run on screen in the legend ("" = by its unit). The front set gets them in place, the
   *  back one is prepared anew. */
  function setOverlays(list, mainLabel = "") {
    const key = JSON.stringify([mainLabel, list]);
    if (key === overlayKey) return;
    overlays = list;
    overlayKey = key;
    label = mainLabel;
    if (!session || !front) return;
    job = null;
    back.ready = false;
    const set = front;
    // in a microtask: a session being replaced (a hold, a release) is replaced by then, and
    // its charts, purged, are not drawn again
    count.during(new Promise((resolve) => queueMicrotask(resolve)).then(async () => {
      if (set !== front || !set.ready || overlayKey !== key) return plan(lastT);
      draw(set, specs.at(-1)); // what was taken away leaves at once
      const w = set.win;
      const got = list.length ? await fetchOverlays(session, w, list, onError) : { ghosts: {}, diff: null };
      if (set !== front || set.win !== w || !set.ready || overlayKey !== key) return;
      Object.assign(set, got, { ghostKey: key });
      draw(set, specs.at(-1));
      plan(lastT);
    }));
  }

  /** Fill `back` with window `w`: fetch and draw chart by chart, in idle slots unless urgent. */
  const prepare = (w, urgent) => count.during(fill(w, urgent));
  async function fill(w, urgent) {
    const my = { ...w, urgent };
    job = my;
    const set = back;
    set.ready = false;
    set.win = w;
    set.data = {};
    Object.assign(set, { ghosts: {}, diff: null, ghostKey: overlayKey });
    const sid = session.id;
    const list = overlays;
    let ghosted = !list.length;
    const takeOverlays = (got) => {
      Object.assign(set, got);
      ghosted = true;
    };
    const slot = () => new Promise((resolve) => (my.urgent ? resolve() : idle(resolve)));
    const alive = () => job === my && session?.id === sid && set.ghostKey === overlayKey && window.Plotly;
    try {
      if (urgent) {
        // one request per signal (in parallel): each stays far below the server's size cap
        const names = [...new Set(specs.flatMap((s) => s.names))];
        const [got] = await Promise.all([
          Promise.all(names.map((n) => getTrace(sid, w.start, w.stop, [n], session))),
          ghosted ? null : fetchOverlays(session, w, list, onError).then(takeOverlays),
        ]);
        got.forEach((g, k) => { set.data[names[k]] = g.signals[names[k]]; });
      }
      for (const spec of specs) {
        for (const name of spec.names) {
          if (set.data[name]) continue;
          await slot();
          if (!alive()) return;
          set.data[name] = (await getTrace(sid, w.start, w.stop, [name], session)).signals[name];
        }
        if (spec.type === "line" && !ghosted) {
          await slot();
          if (!alive()) return;
          takeOverlays(await fetchOverlays(session, w, list, onError));
        }
        await slot();
        if (!alive()) return;
        draw(set, spec);
      }
    } catch (err) {
      if (job === my) job = null;
      onError(err);
      return;
    }
    if (!alive()) return;
    bindClicks(set, () => (session ? unitCount(session) : 0), onSeek);
    set.ready = true;
    job = null;
    plan(lastT);
    placeCursor(lastT);
  }

  /** Make sure `back` holds (or is getting) window w. */
  function want(w, urgent) {
    if (back.ready && back.win?.start === w.start && back.win?.stop === w.stop) return;
    if (job && job.start === w.start && job.stop === w.stop) {
      job.urgent = job.urgent || urgent;
      return;
    }
    prepare(w, urgent);
  }

  function swap() {
    [front, back] = [back, front];
    front.el.className = "chart-set front";
    back.el.className = "chart-set back";
    back.ready = false;
    if (front.unit !== unit) draw(front, specs.at(-1));
    cursor.x = -1;
    host.dataset.start = String(front.win.start);
    host.dataset.stop = String(front.win.stop);
  }

  /** Decide which window the charts need for cursor t; swap in a prepared one. */
  function plan(t) {
    if (!session || !T()) return;
    const fw = front.ready ? front.win : null;
    if (comfortable(fw, t)) {
      // prepare the window the cursor will need next, well before it needs it
      if (dir > 0 && fw.stop < T() && t >= fw.start + WINDOW / 2) want(win(forwardStart(fw.stop - EDGE)), false);
      else if (dir < 0 && fw.start > 0 && t < fw.start + WINDOW / 2) want(win(backwardStart(fw.start + EDGE - 1)), false);
      return;
    }
    if (back.ready && comfortable(back.win, t)) {
      swap();
      return;
    }
    const inside = fw && t >= fw.start && t < fw.stop;
    let start = centredStart(t);
    if (inside) start = t >= fw.stop - EDGE ? forwardStart(t) : backwardStart(t);
    want(win(start), !inside);
  }

  function showCursor(on) {
    if (cursor.shown === on) return;
    cursor.shown = on;
    cursorEl.style.display = on ? "block" : "none";
  }

  function placeCursor(t) {
    if (cursor.t !== t) {
      cursor.t = t;
      cursorEl.setAttribute("data-t", String(t));
    }
    const xa = front?.ready ? front.divs[specs[0].id]._fullLayout?.xaxis : null;
    const w = front?.win;
    if (!xa || !w || t < w.start || t >= w.stop) {
      showCursor(false);
      return;
    }
    const x = Math.round((xa._offset + xa.l2p(t)) * 10) / 10;
    if (x !== cursor.x) {
      cursor.x = x;
      cursorEl.style.transform = `translateX(${x}px)`;
    }
    showCursor(true);
  }

  /** Follow the store: slide the window when needed, move the cursor, redraw on unit change. */
  function update(state) {
    if (!session || !state.session || state.session.id !== session.id) return;
    const t = state.frame?.t ?? state.t;
    if (t !== lastT) dir = t > lastT ? 1 : -1;
    lastT = t;
    if (state.unit !== unit) {
      unit = state.unit;
      if (front.ready) draw(front, specs.at(-1));
    }
    plan(t);
    placeCursor(t);
  }

  // After a resize Plotly re-lays the charts out: the cursor's x must be recomputed.
  window.addEventListener("resize", () => {
    cursor.x = -1;
    setTimeout(() => placeCursor(lastT), 150);
  });

  /** Colour each heatmap unit on its own scale, or all on one; both sets are redrawn
   *  (their numbers are kept: this changes the colours only). */
  function setUnitScale(on) {
    if (Boolean(on) === perUnit) return;
    perUnit = Boolean(on);
    for (const set of sets) {
      if (!set.win || !set.data) continue;
      for (const spec of specs) if (spec.type === "heatmap" && set.data[spec.id]) draw(set, spec);
    }
    host.dataset.unitScale = String(perUnit);
  }

  return { setSession, setOverlays, update, setUnitScale };
}
