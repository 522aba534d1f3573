// Wires the page: catalog -> settings table -> URL -> session -> stream -> store -> views.
//
// Every view has one small lifecycle (as LSTMVis's view components do): it is an object
// `{keys, update(state, changed)}`, where `keys` are the store keys it draws from (null:
// every change) and `update` redraws it from the store; `now: true` marks the views a
// keypress or a play step must move in the same task (the diagrams, the charts' cursor).
// main.js only builds the views and runs them when their keys change; which session is
// on screen is flow/sessions.js's, what-if, compare and tours are in flow/.

import * as api from "./net/api.js";
import { createFrameCache } from "./net/frames.js";
import { createPlayer } from "./state/player.js";
import { partKey, unitCount } from "./state/parts.js";
import { buildSettings } from "./state/settings.js";
import * as store from "./state/store.js";
import { flushUrl, readUrl, writeUrl } from "./state/url.js";
import { createSessions } from "./flow/sessions.js";
import { createWhatIfFlow } from "./flow/whatif.js";
import { createCompareFlow } from "./flow/compare.js";
import { createTourFlow } from "./flow/tour.js";
import { overlaysFor } from "./views/chart_overlays.js";
import { createCharts } from "./views/charts.js";
import { createDiagramView } from "./views/diagram_view.js";
import { createBlockBox } from "./views/block_box.js";
import { createDock } from "./views/dock.js";
import { createEquationsView } from "./views/equations.js";
import { bindExports } from "./views/exports.js";
import { createForm } from "./views/form.js";
import { createHeldView } from "./views/held.js";
import { bindKeys } from "./views/keys.js";
import { createModelPickers } from "./views/model_parts.js";
import { createPanels } from "./views/panels.js";
import { createPrediction } from "./views/prediction.js";
import { createSensitivityView } from "./views/sensitivity.js";
import { paintPipes } from "./views/sensitivity_pipes.js";
import { createToolbar } from "./views/toolbar.js";
import { bindSwipe } from "./views/touch.js";
import { bindZoom } from "./views/zoom.js";
import { createTrainPanel } from "./views/train_panel.js";
import { createLabView } from "./views/lab.js";
import { createStartStateView } from "./views/start_state.js";
import { createBranchChooser } from "./views/onnx_branches.js";
import { createReservedTokens } from "./views/reserved_tokens.js";
import { createBankView } from "./views/bank.js";
import { createHiddenAttentionView } from "./views/hidden_attention.js";

const $ = (sel) => document.querySelector(sel);
createLabView($("main"));

let settings = null;
const views = []; // filled at boot, in drawing order
const frameCache = createFrameCache();
let sessions = null;
const player = createPlayer(() => stream(), frameCache);
const dock = createDock();
const stream = () => sessions?.stream() ?? null;

function showError(slot, message) {
  store.set({ errors: { ...store.get().errors, [slot]: message } });
}
function setUnit(u) {
  const H = unitCount(store.get().session);
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

bindKeys(player);
const zoom = bindZoom($("#diagram-host"), {
  zoomIn: $("#zoom-in"), zoomOut: $("#zoom-out"), fit: $("#zoom-fit"), level: $("#zoom-level"),
});
bindSwipe($("#diagram-host"), player, zoom.swipes);
bindExports(store.get, () => {
  if (settings) flushUrl(settings, urlValues());
  return window.location.href;
}, (msg) => showError("general", msg));
$("#sens-of").addEventListener("change", (ev) => store.set({ sens_of: ev.target.value }));
$("#sens-pipes").addEventListener("change", (ev) => store.set({ sens_pipes: ev.target.checked }));
$("#unit-scale").addEventListener("change", (ev) => store.set({ unit_scale: ev.target.checked }));
$("#bank-sort").addEventListener("change", (ev) => store.set({ bank_sort: ev.target.value }));

/** The views, in the order they draw (the diagram first: the others read its svg). */
function buildViews() {
  const toolbar = createToolbar({
    player, onUnit: setUnit, onStyle: (v) => store.set({ style: v }), onSpeed: (v) => store.set({ speed: v }),
  });
  const diagram = createDiagramView({ onUnit: setUnit });
  const charts = createCharts($("#charts"), $("#chart-cursor"), {
    onSeek: (t, unit) => {
      if (unit !== null && unit !== undefined) setUnit(unit);
      player.seek(t);
    },
    onError: (err) => showError("general", `charts: ${err.message}`),
  });
  const prediction = createPrediction({ onError: (err) => showError("general", `prediction: ${err.message}`) });
  const sensitivity = createSensitivityView($("#sensitivity"), {
    onSeek: (t) => player.seek(t),
    onResult: (r) => paintPipes(diagram.svg(), r, store.get().sens_pipes),
    onError: (err) => showError("general", `sensitivity: ${err.message}`),
  });
  // the line chart's faint runs: a what-if's original, or the other sessions compared
  const showOverlays = () => {
    const { list, label } = overlaysFor(store.get(), compare.sessions());
    charts.setOverlays(list, label);
  };
  const compare = createCompareFlow({ settings, player, showError, onSessions: showOverlays });
  const whatIf = createWhatIfFlow({ settings, sessions, diagramSvg: diagram.svg, showError, reveal: dock.reveal });
  const pickers = createModelPickers({ onPick: (layer, direction) => sessions.showPart(layer, direction) });
  const form = createForm({ settings, onRun: (cfg) => sessions.run(cfg, {}, { original: true }) });
  // a view drawing a session: told when another one (or more steps of it) is shown
  const perSession = (view) => {
    let shown = "";
    return (s) => {
      const key = s.session ? `${partKey(s.session)}|${s.session.steps}` : "";
      if (key && key !== shown) {
        shown = key;
        view.setSession(s.session);
      }
    };
  };
  const chartsSession = perSession(charts);
  const predictionSession = perSession(prediction);
  views.push(
    diagram,
    createBlockBox(),
    compare,
    { now: true, keys: ["session", "orig", "compare"], update: showOverlays },
    { keys: ["unit_scale", "session"], update: (s) => {
      $("#unit-scale").checked = Boolean(s.unit_scale);
      charts.setUnitScale(s.unit_scale);
    } },
    { now: true, keys: ["session", "frame", "unit"], update: (s, changed) => {
      chartsSession(s);
      if (changed.has("frame") || changed.has("unit")) charts.update(s);
    } },
    { now: true, keys: ["session", "frame"], update: (s, changed) => {
      predictionSession(s);
      if (changed.has("frame")) prediction.update(s);
    } },
    { now: true, keys: ["frame", "unit", "sens_of", "session"], update: (s) => sensitivity.update(s) },
    { now: true, keys: ["sens_pipes", "style"], update: (s) => paintPipes(diagram.svg(), sensitivity.result(), s.sens_pipes) },
    createBankView($("#bank"), { onUnit: setUnit }),
    createHiddenAttentionView($("#hidden-attention"), {
      onSeek: (t) => player.seek(t),
      onError: (err) => showError("general", `hidden attention: ${err.message}`),
    }),
    whatIf.clamped,
    createHeldView(),
    { now: true, keys: ["draft", "live"], update: () => sessions.liveAppend() },
    { keys: null, update: (s) => toolbar.render(s) },
    { keys: ["session", "layer", "direction"], update: (s) => pickers.render(s) },
    { keys: ["draft", "config", "errors", "upload", "notice", "session"], update: (s) => form.render(s) },
    createStartStateView({ settings }),
    createBranchChooser({ onChoose: (branch) => form.uploadChosen(branch) }),
    createReservedTokens(),
    ...createPanels(settings),
    createEquationsView((name) => store.set({ signal: name })),
    whatIf.panel,
    dock.view,
  );
}

// Redraw on change: the `now` views at once (what a keypress or a play step must update),
// the rest once per task, in a microtask — still before the frame is painted, so a step
// costs one rendered frame, not two. The URL is not rewritten while playing (every step
// would be a history write); pausing writes it.
const wants = (view, changed) => view.keys === null || view.keys.some((k) => changed.has(k));
let pendingKeys = null;
store.subscribe((s, changed) => {
  for (const view of views) if (view.now && wants(view, changed)) view.update(s, changed);
  if (!pendingKeys) {
    pendingKeys = new Set();
    queueMicrotask(flushViews);
  }
  for (const k of changed) pendingKeys.add(k);
});

const QUIET = new Set(["hover", "connection", "draft", "errors", "upload", "held"]);
function flushViews() {
  const changed = pendingKeys;
  pendingKeys = null;
  const st = store.get();
  for (const view of views) if (!view.now && wants(view, changed)) view.update(st, changed);
  if (!st.playing && [...changed].some((k) => !QUIET.has(k))) saveUrl();
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
  sessions = createSessions({ settings, player, frameCache, showError, saveUrl });
  buildViews();
  const tours = createTourFlow({ settings, sessions, showError });
  createTrainPanel({
    settings,
    onTrained: async (id) => {
      try {
        sessions.start(await api.getSession(id), {}, "The model trained here, on the text it learned (Layer picks which of its layers is drawn).");
      } catch (err) {
        showError("general", err.message);
      }
    },
  });
  const { values, errors } = readUrl(settings);
  if (errors.length) store.set({ errors: { general: errors.join(" ") } });
  if (values.tour) {
    try {
      if (await tours.start(values.tour, values.tour_step ?? 0)) return;
      showError("general", `No tour named “${values.tour}”.`);
    } catch (err) {
      showError("general", err.message);
    }
  }
  // the default page (a link with no settings) opens where the default preset's story
  // begins (the counter's first bracket), not at a step where nothing has happened yet
  if (!window.location.search.replace(/^\?/, "") && !("t" in values)) {
    values.t = settings.presetOf(settings.row("preset").def)?.start ?? 0;
  }
  await sessions.openState(values);
}

boot();
