// Wires the page: catalog -> settings table -> URL -> session -> stream -> store -> views.

import { layoutFor, memoryCellUnavailable } from "./diagram/layouts/index.js";
import { renderLegend } from "./diagram/legend_view.js";
import { renderDiagram } from "./diagram/renderer.js";
import * as api from "./net/api.js";
import { createFrameCache } from "./net/frames.js";
import { openStream } from "./net/stream.js";
import { configFromSession, sessionBody } from "./state/session_config.js";
import { createPlayer } from "./state/player.js";
import { buildSettings, resolve, sameConfig } from "./state/settings.js";
import * as store from "./state/store.js";
import { flushUrl, readUrl, writeUrl } from "./state/url.js";
import { overlaysFor } from "./views/chart_overlays.js";
import { createCharts } from "./views/charts.js";
import { buildEquationList, updateEquations } from "./views/equations.js";
import { announce } from "./views/announce.js";
import { bindExports } from "./views/exports.js";
import { RELEASED_NOTICE, createForm, partShown, slotOf } from "./views/form.js";
import { bindKeys } from "./views/keys.js";
import { clampPart, createModelPickers, inputLabel, partOf } from "./views/model_parts.js";
import { createPrediction } from "./views/prediction.js";
import { createSensitivityView } from "./views/sensitivity.js";
import { showParallelCheck } from "./views/parallel_check.js";
import { paintPipes } from "./views/sensitivity_pipes.js";
import { lastStepGrew, showInput } from "./views/sequence_view.js";
import { createWhatIf, heldPart, holdableOf, markClamped } from "./views/whatif.js";
import { createCompare } from "./views/compare.js";
import { createTour } from "./views/tour.js";
import { formatHold, formatWeightEdits, parseHold, parseWeightEdits } from "./state/session_config.js";
import { createToolbar } from "./views/toolbar.js";
import { bindSwipe } from "./views/touch.js";
import { createTrainPanel } from "./views/train_panel.js";

const $ = (sel) => document.querySelector(sel);

let settings = null;
let form = null;
let stream = null;
let diagram = null;
let equationRows = [];
const frameCache = createFrameCache();
const player = createPlayer(() => stream, frameCache);
const toolbar = createToolbar({
  player, onUnit: setUnit, onStyle: (v) => store.set({ style: v }), onSpeed: (v) => store.set({ speed: v }),
});
bindKeys(player);
bindSwipe($("#diagram-host"), player);
const charts = createCharts($("#charts"), $("#chart-cursor"), {
  onSeek: (t, unit) => {
    if (unit !== null && unit !== undefined) setUnit(unit);
    player.seek(t);
  },
  onError: (err) => showError("general", `charts: ${err.message}`),
});

const prediction = createPrediction({ onError: (err) => showError("general", `prediction: ${err.message}`) });
const pickers = createModelPickers({ onPick: (layer, direction) => showPart(layer, direction) });
const sensitivity = createSensitivityView($("#sensitivity"), {
  onSeek: (t) => player.seek(t),
  onResult: (r) => paintPipes(diagram?.svg, r, store.get().sens_pipes),
  onError: (err) => showError("general", `sensitivity: ${err.message}`),
});
$("#sens-of").addEventListener("change", (ev) => store.set({ sens_of: ev.target.value }));
$("#sens-pipes").addEventListener("change", (ev) => store.set({ sens_pipes: ev.target.checked }));

// What if: a hold makes a new session (same config, one more intervention) and shows it
// beside the original run; "Release all" goes back to the original.
const whatIf = createWhatIf({
  onHold: async ({ signal, value, allUnits }) => {
    const s = store.get();
    if (!s.session || !s.config) return;
    const iv = { signal, value, start: s.t, stop: s.session.steps, units: allUnits ? null : [s.unit],
      ...heldPart(s.session) };
    const hold = formatHold([...parseHold(s.config.hold), iv]);
    const orig = s.orig || s.session.id;
    await run({ ...s.config, hold }, { t: s.t, stage: s.stage, unit: s.unit });
    if (store.get().session?.interventions?.length) store.set({ orig });
  },
  onRelease: () => runWhatIf({ hold: "" }).catch((err) => showError("general", err.message)),
  // an edit (of the drawn cell, as a hold) replaces any earlier edit of the same weight
  onEditWeight: (at) => {
    const edit = { ...at, ...heldPart(store.get().session) };
    const same = (e) => e.param === edit.param && e.row === edit.row && (e.col ?? null) === edit.col
      && (e.layer ?? 0) === (edit.layer ?? 0) && (e.direction ?? "forward") === (edit.direction ?? "forward");
    const others = parseWeightEdits(store.get().config?.wedit).filter((e) => !same(e));
    return runWhatIf({ wedit: formatWeightEdits([...others, edit]) });
  },
  onResetWeights: () => runWhatIf({ wedit: "" }),
});

/** The session on screen with what-if `changes` (holds, weight edits) made, compared with
 *  the original run; with nothing held or edited any more, the original run itself. Throws
 *  the server's refusal. */
async function runWhatIf(changes) {
  const s = store.get();
  if (!s.session || !s.config) return;
  const cfg = { ...s.config, ...changes };
  const cursor = { t: s.t, stage: s.stage, unit: s.unit };
  if (!cfg.hold && !cfg.wedit && s.orig) {
    const back = await api.getSession(s.orig).catch((err) => {
      if (err.status === 404) return null;
      throw err;
    });
    if (back) {
      startSession(back, cursor);
      store.set({ orig: "" });
      return;
    }
  }
  const orig = s.orig || s.session.id;
  const made = await api.createSession(sessionBody(settings, cfg, store.get().upload));
  startSession(made, cursor);
  store.set({ orig: made.interventions?.length || made.weight_edits?.length ? orig : "" });
}
function holdMenu(ev) {
  const node = ev.target.closest?.("[data-signal]");
  const s = store.get();
  if (!node || !holdableOf(s.session).includes(node.getAttribute("data-signal"))) return false;
  const shown = s.frame?.signals?.[node.getAttribute("data-signal")]?.[s.unit];
  return whatIf.choose(node.getAttribute("data-signal"), shown === undefined ? null : Number(shown.toPrecision(6)));
}
$("#diagram-host").addEventListener("contextmenu", (ev) => {
  if (holdMenu(ev)) ev.preventDefault();
});
$("#diagram-host").addEventListener("keydown", (ev) => {
  if ((ev.key === "h" || ev.key === "H") && !ev.ctrlKey && !ev.metaKey && !ev.altKey && holdMenu(ev)) ev.preventDefault();
});

function showError(slot, message) {
  store.set({ errors: { ...store.get().errors, [slot]: message } });
}

function setUnit(u) {
  const H = store.get().session?.hidden_size ?? 1;
  store.set({ unit: Math.max(0, Math.min(H - 1, u)) });
}

/** What the URL holds: the view and the config of the session on screen. */
function urlValues() {
  const s = store.get();
  const view = Object.fromEntries(settings.view.map((r) => [r.key, s[r.key]]));
  return { ...(s.config || {}), ...view, session: s.session?.id ?? "" };
}
const saveUrl = () => settings && writeUrl(settings, urlValues());
window.addEventListener("pagehide", () => settings && flushUrl(settings, urlValues()));
bindExports(store.get, () => {
  if (settings) flushUrl(settings, urlValues());
  return window.location.href;
}, (msg) => showError("general", msg));

/** A diagram of `session` in `host` in the current style (the compare view's). */
function drawDiagramOf(host, session) {
  const s = store.get();
  const style = s.style === "memory-cell" && !memoryCellUnavailable(session.cell) ? "memory-cell" : "olah";
  const layout = layoutFor(session.cell, style, {
    hidden: session.hidden_size, input: session.input_size, options: session.options || {}, signals: session.signals,
    projection: session.proj_size ?? null,
  });
  const stages = (session.stages?.length ? session.stages : settings.kindOf(session.cell)?.stages) ?? [];
  return renderDiagram(host, layout, {
    style, kind: session.cell, session: session.id, signals: session.signals, stages,
    hidden: session.hidden_size, input: session.input_size, projection: session.proj_size ?? null,
    onHover: (name) => store.set({ hover: name }), onFocus: () => {}, onUnit: setUnit,
  });
}
/** A failed comparison, as the compare panel says it. */
function compareMessage(err) {
  const gone = err.status === 404 ? " It is not on this server (any more): the other sessions are shown." : "";
  return `Cannot compare: ${err.message}.${gone}`;
}
const compare = createCompare($("#compare-host"), {
  draw: drawDiagramOf, onSeek: (t) => player.seek(t),
  onError: (err) => showError("compare", compareMessage(err)),
  onSessions: () => showOverlays(store.get()),
});
/** The line chart's faint runs: a what-if's original, or the other sessions compared. */
function showOverlays(s) {
  const { list, label } = overlaysFor(s, compare.sessions());
  charts.setOverlays(list, label);
}
async function compareWith(choice) {
  const s = store.get();
  if (!s.session || !s.config) return;
  const [what, name] = choice.split(":");
  const cfg = what === "preset"
    ? { ...s.config, weights: "preset", preset: name, hold: "", wedit: "" }
    : { ...s.config, weights: "seed", cell: name, seed: s.config.seed ?? 0, hidden: s.session.hidden_size, hold: "", wedit: "" };
  if (what !== "preset") for (const row of settings.options) delete cfg[row.key];
  try {
    showError("compare", "");
    const made = await api.createSession(sessionBody(settings, resolve(settings, cfg), null));
    const ids = [...new Set([s.session.id, ...(s.compare ? s.compare.split(",").slice(1) : []), made.id])].slice(0, 3);
    store.set({ compare: ids.join(",") });
    await compare.setSessions(s.session, ids.slice(1), store.get());
  } catch (err) {
    showError("compare", compareMessage(err));
  }
}
$("#compare-add").addEventListener("click", () => compareWith($("#compare-with").value));
$("#compare-stop").addEventListener("click", () => {
  store.set({ compare: "" });
  compare.setSessions(store.get().session, []);
});

// Tours: a step's view names presets and settings; sessions made for a tour are kept by
// their body, so Back and Next reuse them.
const tourSessions = new Map();
async function tourSession(body) {
  const key = JSON.stringify(body);
  if (!tourSessions.has(key)) tourSessions.set(key, await api.createSession(body));
  return tourSessions.get(key);
}
async function applyTourView(v) {
  const s = store.get();
  const sample = (name) => settings.presetOf(name)?.sample ?? "";
  const cursor = { t: v.t ?? s.t, stage: v.stage ?? "all", unit: v.unit ?? 0 };
  try {
    if (v.compare && v.compare.length) {
      const text = v.text ?? sample(v.compare[0]);
      const made = await Promise.all(v.compare.map((p) => tourSession({ preset: p, sequence: { text } })));
      const ids = made.map((m) => m.id).join(",");
      if (s.compare !== ids) {
        store.set({ compare: ids });
        startSession(made[0], cursor);
        await compare.setSessions(made[0], made.slice(1).map((m) => m.id), store.get());
      }
    } else {
      // a seeded cell (a kind with no preset) or a preset
      const body = v.cell ? { ...v.cell, sequence: { text: v.text ?? "" } }
        : { preset: v.preset, sequence: { text: v.text ?? sample(v.preset) } };
      const hold = parseHold(v.hold ?? "");
      // a held step's charts carry the run without the hold faintly (its original)
      const orig = hold.length ? (await tourSession(body)).id : "";
      if (hold.length) body.interventions = hold;
      const made = await tourSession(body);
      if (s.session?.id !== made.id || s.compare) {
        if (s.compare) {
          store.set({ compare: "" });
          compare.setSessions(made, [], store.get());
        }
        startSession(made, cursor);
      }
      store.set({ orig });
    }
  } catch (err) {
    showError("general", `tour: ${err.message}`);
    return;
  }
  const patch = {};
  for (const key of ["style", "signal", "sens_of"]) if (v[key] !== undefined) patch[key] = v[key];
  if (v.unit !== undefined) patch.unit = v.unit;
  store.set(patch);
  player.seek(Math.min(cursor.t, store.get().session.steps - 1), cursor.stage);
}
const tour = createTour({
  apply: applyTourView,
  onStep: (name, k) => store.set({ tour: name, tour_step: k }),
  onEnd: () => store.set({ tour: "", tour_step: 0 }),
});

function buildDiagram() {
  const s = store.get();
  if (!s.session) return;
  const kind = s.session.cell;
  const style = s.style === "memory-cell" && !memoryCellUnavailable(kind) ? "memory-cell" : "olah";
  const params = {
    hidden: s.session.hidden_size, input: s.session.input_size, options: s.session.options || {},
    signals: s.session.signals, inputLabel: inputLabel(s.session), projection: s.session.proj_size ?? null,
  };
  const layout = layoutFor(kind, style, params);
  renderLegend($("#legend"), layout.legend);
  showParallelCheck($("#diagram-host"), s.session);
  diagram = renderDiagram($("#diagram-host"), layout, {
    style, kind, session: s.session.id, signals: s.session.signals, stages: s.stages,
    hidden: s.session.hidden_size, input: s.session.input_size, projection: s.session.proj_size ?? null,
    onHover: (name) => store.set({ hover: name }),
    onFocus: (name) => store.set({ signal: name }),
    onUnit: setUnit,
  });
  diagram.update(s);
}

/** Make `session` the one on screen, at cursor (t, stage); the form now describes it. A
 *  model's cell on screen is the store's (layer, direction), within what the model has. */
function startSession(record, { t = 0, stage = "all", unit = 0 } = {}, notice = "") {
  // a preset's units have names ("depth", ...): wherever a unit is chosen or drawn
  const presetLabels = settings.presetOf(record.weights?.preset)?.unit_labels;
  const full = { ...record, unit_labels: record.unit_labels ?? presetLabels ?? null };
  const part = clampPart(full, store.get().layer, store.get().direction);
  const session = partOf(full, part.layer, part.direction);
  const comparing = store.get().compare;
  if (comparing && comparing.split(",")[0] !== record.id) {
    store.set({ compare: "" });
    compare.setSessions(record, []);
  }
  stream?.close();
  player.pause();
  frameCache.clear();
  // the stages of this kind, in the server's order (from the kind's signals)
  const stages = (session.stages && session.stages.length ? session.stages
    : settings.kindOf(session.cell)?.stages) ?? [];
  const config = configFromSession(settings, full); // the form describes the whole model
  // an uploaded file's record (its name, sizes, what it states) comes with the session
  const upload = session.weights?.weights_id ? { ...session.weights } : store.get().upload;
  store.set({
    session, stages, frame: null, config, draft: { ...config }, notice, upload, ...part,
    t: Math.max(0, Math.min(session.steps - 1, t)),
    stage: stage === "all" || stages.includes(stage) ? stage : "all",
    unit: Math.max(0, Math.min(session.hidden_size - 1, unit)),
  });
  showSession(session);
  saveUrl();
}

/** Draw the session's part (the picked cell) and stream it. */
function showSession(session) {
  const stages = store.get().stages;
  equationRows = buildEquationList($("#equation-list"), $("#equations-title"), session, stages,
    (name) => store.set({ signal: name }));
  charts.setSession(session);
  prediction.setSession(session);
  buildDiagram();
  stream = openStream(session.id, {
    layer: session.layer ?? 0, direction: session.direction ?? "forward",
    onFrame: (frame) => player.receive(frame),
    onStatus: (status) => {
      if (status !== "open") frameCache.resetPending();
      store.set({ connection: status });
    },
    onError: (msg) => showError("general", msg),
    cursor: () => store.get().t,
  });
}

/** Show another cell of the model on screen (the Layer and Direction pickers). */
function showPart(layer, direction) {
  const s = store.get();
  const record = s.session?.record;
  if (!record) return;
  const part = clampPart(record, layer, direction);
  const session = partOf(record, part.layer, part.direction);
  stream?.close();
  player.pause();
  frameCache.clear();
  const stages = (session.stages?.length ? session.stages : settings.kindOf(session.cell)?.stages) ?? s.stages;
  store.set({
    session, stages, frame: null, ...part,
    stage: s.stage === "all" || stages.includes(s.stage) ? s.stage : "all",
    unit: Math.max(0, Math.min(session.hidden_size - 1, s.unit)),
  });
  showSession(session);
  saveUrl();
}

/** A sentence about how the server read the sequence, when it is worth saying. */
function sequenceNotice(cfg, session) {
  if (cfg.seq !== "numbers") return "";
  const rows = cfg.text.split(/\r\n|\r|\n/).filter((r) => r.trim());
  if (rows.length === session.steps + 1) return `The first row (${rows[0].trim().slice(0, 60)}) has no number in it: it was read as a header.`;
  return "";
}

/** Whether a server refusal is about the holds or the weight edits of the request. */
const refusesWhatIf = (err) => err.status === 422 && /^(interventions|weight_edits)\b/.test(String(err.detail ?? ""));

/** Run `cfg` and show it. `original` (a Run of the form, a link): make sure a held or
 *  edited session has its original run (`orig`), and release holds or weight edits the
 *  server refuses for this cell (another kind, sizes, a shorter sequence), with a notice,
 *  rather than failing the run. A new hold the server refuses (onHold) is shown as refused. */
async function run(cfg, cursor = {}, { original = false } = {}) {
  const was = store.get().orig;
  try {
    let made = cfg;
    let session;
    try {
      session = await api.createSession(sessionBody(settings, made, store.get().upload));
    } catch (err) {
      if (!original || !refusesWhatIf(err) || (!made.hold && !made.wedit)) throw err;
      made = { ...cfg, hold: "", wedit: "" };
      session = await api.createSession(sessionBody(settings, made, store.get().upload));
    }
    if (original) store.set({ orig: "" });
    const notice = made === cfg ? sequenceNotice(cfg, session) : RELEASED_NOTICE;
    startSession(session, { unit: store.get().unit, ...cursor }, notice);
    if (original) await ensureOriginal(was);
  } catch (err) {
    showError(slotOf(err.field), err.message);
  }
}

const whatIfOf = (session) => Boolean(session?.interventions?.length || session?.weight_edits?.length);

/** A held or weight-edited session on screen without its original run (a copied link, a
 *  reload that lost `orig`, a Run with other text) gets one: `candidate` when it is the
 *  same config without the holds and edits, else a new session of that config. */
async function ensureOriginal(candidate = "") {
  const s = store.get();
  const session = s.session;
  if (!whatIfOf(session) || !s.config) return;
  const plain = { ...s.config, hold: "", wedit: "" };
  try {
    if (candidate && candidate !== session.id) {
      const known = await api.getSession(candidate).catch((err) => {
        if (err.status === 404) return null;
        throw err;
      });
      if (known && !whatIfOf(known) && sameConfig(settings, configFromSession(settings, known), plain)) {
        if (store.get().session?.id === session.id) store.set({ orig: candidate });
        return;
      }
    }
    const made = await api.createSession(sessionBody(settings, plain, s.upload));
    if (store.get().session?.id === session.id) store.set({ orig: made.id });
  } catch (err) {
    showError("general", `what if: the original run could not be made: ${err.message}`);
  }
}

// Live typing: text typed at the end of the session's own text is appended to the session
// on screen (one step per grapheme, counted by the server: an accent typed after its letter
// changes that step instead of adding one), and the cursor follows. One request at a time;
// what is typed meanwhile goes with the next.
let appending = false;
async function liveAppend() {
  const s = store.get();
  const cfg = s.config;
  if (appending || !s.live || !s.session || !cfg || cfg.seq !== "text" || s.draft?.seq !== "text") return;
  const typed = s.draft.text;
  if (typed.length <= cfg.text.length || !typed.startsWith(cfg.text)) return;
  const sameElse = settings.form.every((r) => r.key === "text" || String(s.draft[r.key]) === String(cfg[r.key]));
  if (!sameElse) return;
  appending = true;
  try {
    const piece = typed.slice(cfg.text.length);
    const record = await api.appendToSession(s.session.id, { text: piece });
    // a held or edited run's original gets the same text, so the two stay step for step
    // (the line chart's faint run and the difference); one that cannot is made anew
    let inStep = !s.orig || !whatIfOf(s.session);
    if (!inStep) {
      const o = await api.appendToSession(s.orig, { text: piece }).catch(() => null);
      inStep = Boolean(o) && o.steps === record.steps && o.sequence?.text === record.sequence?.text;
    }
    const full = { ...(s.session.record ?? s.session), ...record, unit_labels: s.session.unit_labels };
    const session = partOf(full, s.layer, s.direction);
    const config = { ...cfg, text: record.sequence?.text ?? typed };
    // a model reads the whole text again (a backward cell starts at its end): no old frame
    // holds; nor when the piece completed the last step's grapheme (that step's input changed)
    const stale = full.cells?.length || lastStepGrew(s.session.sequence, record.sequence, s.session.steps);
    if (stale) frameCache.clear();
    store.set({ session, config, errors: {}, ...(stale ? { frame: null } : {}), ...(inStep ? {} : { orig: "" }) });
    charts.setSession(session);
    prediction.setSession(session);
    player.seek(session.steps - 1);
    if (!inStep) ensureOriginal();
  } catch (err) {
    showError(slotOf(err.field), err.message);
  } finally {
    appending = false;
  }
  if (store.get().draft.text !== store.get().config.text) liveAppend();
}

// Redraw on change: the diagram and the charts' cursor at once (what a keypress or a play
// step must update), the rest once per task, in a microtask — still before the frame is
// painted, so a step costs one rendered frame, not two. The URL is not rewritten while
// playing (every step would be a history write); pausing writes it.
let pendingKeys = null;
store.subscribe((s, changed) => {
  if (changed.has("style")) buildDiagram();
  else if (diagram && (changed.has("frame") || changed.has("unit") || changed.has("stage"))) diagram.update(s);
  if (s.compare && (changed.has("frame") || changed.has("unit") || changed.has("stage") || changed.has("sens_of"))) compare.update(s);
  if (s.compare && changed.has("style")) compare.setSessions(s.session, s.compare.split(",").slice(1), s);
  if (changed.has("session") || changed.has("orig") || changed.has("compare")) showOverlays(s);
  if (changed.has("frame") || changed.has("unit")) charts.update(s);
  if (changed.has("frame")) prediction.update(s);
  if (changed.has("frame") || changed.has("unit") || changed.has("sens_of") || changed.has("session")) sensitivity.update(s);
  if (changed.has("sens_pipes") || changed.has("style")) paintPipes(diagram?.svg, sensitivity.result(), s.sens_pipes);
  if (changed.has("frame") || changed.has("unit") || changed.has("session") || changed.has("style")) {
    markClamped(diagram?.svg, s.session, s.frame?.t ?? s.t, s.unit);
  }
  if (changed.has("draft") || changed.has("live")) liveAppend();
  if (!pendingKeys) {
    pendingKeys = new Set();
    queueMicrotask(flushViews);
  }
  for (const k of changed) pendingKeys.add(k);
});

const CONNECTION_TEXT = { open: "live", connecting: "connecting…", reconnecting: "reconnecting…", closed: "closed", idle: "" };
const QUIET = new Set(["hover", "connection", "draft", "errors", "upload"]);
function flushViews() {
  const changed = pendingKeys;
  pendingKeys = null;
  const st = store.get();
  toolbar.render(st);
  if (changed.has("session") || changed.has("layer") || changed.has("direction")) pickers.render(st);
  if (form && (changed.has("draft") || changed.has("config") || changed.has("errors") || changed.has("upload")
    || changed.has("notice") || changed.has("session"))) form.render(st);
  if (changed.has("session") || changed.has("upload")) {
    const up = st.session?.weights?.weights_id ? st.session.weights : null;
    $("#view-notice").textContent = partShown(up);
  }
  if (changed.has("errors")) {
    // the form fills its own error slots; the others (the compare panel's) are filled here
    for (const slot of document.querySelectorAll("[data-error-for]")) {
      if (!slot.closest("#setup")) slot.textContent = st.errors[slot.dataset.errorFor] ?? "";
    }
  }
  updateEquations(equationRows, $("#focus-equation"), st);
  if (changed.has("session") || changed.has("orig") || changed.has("unit")) whatIf.render(st);
  if (changed.has("sens_of") || changed.has("sens_pipes") || changed.has("session")) {
    const hasC = st.session?.signals.some((x) => x.name === "c");
    $("#sens-of").querySelector('option[value="c"]').disabled = !hasC;
    $("#sens-of").value = hasC ? st.sens_of : "h";
    $("#sens-pipes").checked = st.sens_pipes;
  }
  showInput($("#input-readout"), st);
  if (st.session) announce($("#announce"), st, settings.kindOf(st.session.cell)?.state ?? ["h"]);
  if (changed.has("connection")) {
    const conn = $("#connection");
    conn.dataset.state = st.connection;
    conn.textContent = CONNECTION_TEXT[st.connection];
  }
  if (!st.playing && [...changed].some((k) => !QUIET.has(k))) saveUrl();
}

function fillCompareChoices() {
  const sel = $("#compare-with");
  const opts = [
    ...settings.presets.map((p) => [`preset:${p.name}`, `preset ${p.name} (${p.cell}, H = ${p.hidden_size})`]),
    ...settings.catalog.kinds.map((k) => [`kind:${k.kind}`, `${k.kind}, random weights, the same H`]),
  ];
  sel.replaceChildren(...opts.map(([value, text]) => Object.assign(document.createElement("option"), { value, textContent: text })));
}

async function boot() {
  let catalog;
  let presets;
  try {
    [catalog, presets] = await Promise.all([api.getCells(), api.getPresets()]);
  } catch (err) {
    $('[data-error-for="general"]').textContent = err.message;
    return;
  }
  settings = buildSettings(catalog, presets.presets);
  store.init(settings);
  if (catalog.stream?.send_queue_frames) player.setQueue(catalog.stream.send_queue_frames);
  form = createForm({ settings, onRun: (cfg) => run(cfg, {}, { original: true }) });
  createTrainPanel({
    settings,
    onTrained: async (id) => {
      try {
        startSession(await api.getSession(id), {}, "The model trained here, on the text it learned (Layer picks which of its layers is drawn).");
      } catch (err) {
        showError("general", err.message);
      }
    },
  });
  const { values, errors } = readUrl(settings);
  const view = {};
  for (const row of settings.view) if (row.key !== "session" && row.key in values) view[row.key] = values[row.key];
  store.set(view);
  if (errors.length) store.set({ errors: { general: errors.join(" ") } });
  const cursor = { t: store.get().t, stage: store.get().stage, unit: store.get().unit };
  fillCompareChoices();
  if (values.tour) {
    try {
      const found = (await api.getTours()).find((t) => t.name === values.tour);
      if (found) {
        await tour.start(found, values.tour_step ?? 0);
        return;
      }
      showError("general", `No tour named “${values.tour}”.`);
    } catch (err) {
      showError("general", err.message);
    }
  }
  if (values.compare) {
    const ids = values.compare.split(",").filter(Boolean).slice(0, 3);
    try {
      const first = await api.getSession(ids[0]);
      store.set({ compare: ids.join(",") });
      startSession(first, cursor);
      await compare.setSessions(first, ids.slice(1), store.get());
      return;
    } catch (err) {
      showError("compare", compareMessage(err));
      store.set({ compare: "" });
    }
  }
  if (values.session) {
    try {
      startSession(await api.getSession(values.session), cursor);
      await ensureOriginal(store.get().orig);
      return;
    } catch (err) {
      if (err.status !== 404) showError("general", err.message);
      else store.set({ notice: "The session of this link is not on this server any more: its settings were run again." });
    }
  }
  const formValues = Object.fromEntries(settings.form.filter((r) => r.key in values).map((r) => [r.key, values[r.key]]));
  const cfg = resolve(settings, formValues);
  store.set({ draft: { ...cfg } });
  const notice = store.get().notice;
  await run(cfg, cursor, { original: true });
  if (notice && !store.get().notice) store.set({ notice });
}

boot();
