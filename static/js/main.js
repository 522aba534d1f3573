// Wires the page: URL settings -> session -> stream -> store -> diagram, equations, charts.

import * as api from "./api.js";
import { createCharts } from "./charts.js";
import { createControls } from "./controls.js";
import { layoutFor, memoryCellUnavailable } from "./diagram/layouts/index.js";
import { renderLegend } from "./diagram/legend_view.js";
import { renderDiagram } from "./diagram/renderer.js";
import { buildEquationList, updateEquations } from "./equations.js";
import { createFrameCache } from "./frames.js";
import { createPlayer } from "./player.js";
import * as store from "./store.js";
import { openStream } from "./stream.js";
import { flushSettings, readSettings, writeSettings } from "./url_state.js";
import { showInput } from "./sequence_view.js";

const STAGE_ORDER = ["inputs", "gates", "forget", "write", "state", "output"];
const $ = (sel) => document.querySelector(sel);

let stream = null;
let diagram = null;
let equationRows = [];
const frameCache = createFrameCache();
const player = createPlayer(() => stream, frameCache);
const controls = createControls({ player, onRun: run, onChange: saveUrl });
const charts = createCharts($("#charts"), $("#chart-cursor"), {
  onSeek: (t, unit) => {
    if (unit !== null && unit !== undefined) setUnit(unit);
    player.seek(t);
  },
  onError: (err) => controls.showError("general", `charts: ${err.message}`),
});

function setUnit(u) {
  const H = store.get().session?.hidden_size ?? 1;
  store.set({ unit: Math.max(0, Math.min(H - 1, u)) });
}
controls.handlers.unit = setUnit;
controls.handlers.speed = (v) => store.set({ speed: v });
controls.handlers.style = (v) => store.set({ style: v });

function urlSettings() {
  const s = store.get();
  return {
    ...controls.config(), session: s.session?.id ?? "", t: s.t, unit: s.unit, stage: s.stage,
    style: s.style, signal: s.focus ?? "", speed: s.speed,
  };
}
function saveUrl() {
  writeSettings(urlSettings());
}
window.addEventListener("pagehide", () => flushSettings(urlSettings()));

function buildDiagram() {
  const s = store.get();
  if (!s.session) return;
  const kind = s.session.cell;
  const style = s.style === "memory-cell" && !memoryCellUnavailable(kind) ? "memory-cell" : "olah";
  const params = {
    hidden: s.session.hidden_size, input: s.session.input_size, options: s.session.options || {},
    signals: s.session.signals,
  };
  const layout = layoutFor(kind, style, params);
  renderLegend($("#legend"), layout.legend);
  diagram = renderDiagram($("#diagram-host"), layout, {
    style, kind, session: s.session.id, signals: s.session.signals, stages: s.stages,
    hidden: s.session.hidden_size, input: s.session.input_size,
    onHover: (name) => store.set({ hover: name }),
    onFocus: (name) => store.set({ focus: name }),
    onUnit: setUnit,
  });
  diagram.update(s);
}

/** Make `session` the one on screen, at cursor (t, stage). */
function startSession(session, { t = 0, stage = "all", unit = 0 } = {}) {
  stream?.close();
  player.pause();
  frameCache.clear();
  const stages = STAGE_ORDER.filter((st) => session.signals.some((x) => x.stage === st));
  store.set({
    session, stages, frame: null,
    t: Math.max(0, Math.min(session.steps - 1, t)),
    stage: stage === "all" || stages.includes(stage) ? stage : "all",
    unit: Math.max(0, Math.min(session.hidden_size - 1, unit)),
  });
  controls.buildStages(stages, (st) => store.set({ stage: st }));
  equationRows = buildEquationList($("#equation-list"), $("#equations-title"), session, stages,
    (name) => store.set({ focus: name }));
  charts.setSession(session);
  buildDiagram();
  stream = openStream(session.id, {
    onFrame: (frame) => player.receive(frame),
    onStatus: (status) => {
      if (status !== "open") frameCache.resetPending();
      store.set({ connection: status });
    },
    onError: (msg) => controls.showError("general", msg),
    cursor: () => store.get().t,
  });
  saveUrl();
}

/** The POST /api/sessions body for a form config. */
function sessionBody(cfg) {
  const body = {};
  if (cfg.weights === "preset") body.preset = cfg.preset;
  else {
    body.cell = cfg.cell;
    if (cfg.weights === "upload") body.weights_id = cfg.weights_id;
    else {
      body.seed = cfg.seed;
      body.hidden_size = cfg.hidden;
    }
  }
  if (cfg.cell === "gru") body.options = { reset_after: cfg.reset_after };
  if (cfg.cell === "rnn") body.options = { nonlinearity: cfg.nonlinearity };
  if (cfg.seq === "numbers") {
    const rows = cfg.text.split(/[\n;]+/).map((r) => r.trim()).filter(Boolean)
      .map((r) => r.split(/[\s,]+/).filter(Boolean));
    if (rows.length && rows[0].some((x) => Number.isNaN(Number(x)))) rows.shift(); // CSV header
    const bad = rows.findIndex((r) => r.some((x) => x === "" || Number.isNaN(Number(x))));
    if (bad >= 0) throw Object.assign(new Error(`sequence: row ${bad + 1} is not all numbers`), { field: "sequence" });
    body.sequence = { values: rows.map((r) => r.map(Number)) };
    if (rows.length && cfg.weights === "seed") body.input_size = rows[0].length;
  } else {
    body.sequence = { text: cfg.text };
  }
  return body;
}

async function run(cfg, cursor = {}) {
  try {
    const body = sessionBody(cfg.weights === "preset" && !cfg.text
      ? { ...cfg, text: controls.presetSample(cfg.preset) } : cfg);
    const session = await api.createSession(body);
    startSession(session, { unit: store.get().unit, ...cursor });
  } catch (err) {
    controls.showError(err.field || "general", err.message);
  }
}

// Redraw on change: the diagram and the charts' cursor at once (what a keypress or a play
// step must update), the rest once per task, in a microtask — still before the frame is
// painted, so a step costs one rendered frame, not two. The URL is not rewritten while
// playing (every step would be a history write); pausing writes it.
let pendingKeys = null;
store.subscribe((s, changed) => {
  if (changed.has("style")) buildDiagram();
  else if (diagram && (changed.has("frame") || changed.has("unit") || changed.has("stage"))) diagram.update(s);
  if (changed.has("frame") || changed.has("unit")) charts.update(s);
  if (!pendingKeys) {
    pendingKeys = new Set();
    queueMicrotask(flushViews);
  }
  for (const k of changed) pendingKeys.add(k);
});

const CONNECTION_TEXT = { open: "live", connecting: "connecting…", reconnecting: "reconnecting…", closed: "closed", idle: "" };
function flushViews() {
  const changed = pendingKeys;
  pendingKeys = null;
  const st = store.get();
  controls.reflect(st);
  updateEquations(equationRows, $("#focus-equation"), st);
  showInput($("#input-readout"), st);
  if (changed.has("connection")) {
    const conn = $("#connection");
    conn.dataset.state = st.connection;
    conn.textContent = CONNECTION_TEXT[st.connection];
  }
  if (!st.playing && [...changed].some((k) => k !== "hover" && k !== "connection")) saveUrl();
}

async function boot() {
  const settings = readSettings();
  store.set({ unit: settings.unit, style: settings.style, speed: settings.speed, focus: settings.signal || null });
  let kinds;
  let presets;
  try {
    [kinds, presets] = await Promise.all([api.getCells(), api.getPresets()]);
  } catch (err) {
    controls.showError("general", err.message);
    return;
  }
  controls.fill(kinds.kinds, presets.presets);
  controls.apply(settings);
  const cursor = { t: settings.t, stage: settings.stage, unit: settings.unit };
  if (settings.session) {
    try {
      startSession(await api.getSession(settings.session), cursor);
      return;
    } catch (err) {
      if (err.status !== 404) controls.showError("general", err.message);
    }
  }
  await run(controls.config(), cursor);
}

boot();
