// Side by side, wired: `?compare=ID1,ID2[,ID3]` (the first the session on screen) shows
// the others beside it (views/compare.js), drawn from the store like every view: which
// sessions are compared is the store's `compare`, so a link, a tour step and the
// "Compare" button all only set it. Returns the view ({keys, update}).

import * as api from "../net/api.js";
import { layoutFor, memoryCellUnavailable } from "../diagram/layouts/index.js";
import { renderDiagram } from "../diagram/renderer.js";
import { sessionBody } from "../state/session_config.js";
import { resolve } from "../state/settings.js";
import * as store from "../state/store.js";
import { compareMessage, createCompare } from "../views/compare.js";
import { inputLabel } from "../views/model_parts.js";

const $ = (sel) => document.querySelector(sel);


/** A diagram of `session` (a part record) in `host`, in the current style. */
function drawDiagramOf(host, session) {
  const style = store.get().style === "memory-cell" && !memoryCellUnavailable(session.cell) ? "memory-cell" : "olah";
  const layout = layoutFor(session.cell, style, {
    hidden: session.hidden_size, input: session.input_size, options: session.options, signals: session.signals,
    inputLabel: inputLabel(session), projection: session.proj_size, dims: session.dims,
  });
  // as the main diagram is drawn (views/diagram_view.js): a Mamba's parts per state read
  // their entry of the channel by the session's dims
  return renderDiagram(host, layout, {
    style, kind: session.cell, session: session.id, signals: session.signals, stages: session.stages,
    hidden: session.hidden_size, input: session.input_size, projection: session.proj_size,
    dims: session.dims, onHover: (name) => store.set({ hover: name }), onFocus: () => {}, onUnit: () => {},
  });
}

/** `onSessions(records)` hears which sessions are shown beside the one on screen. */
export function createCompareFlow({ settings, player, showError, onSessions }) {
  const compare = createCompare($("#compare-host"), {
    draw: drawDiagramOf, onSeek: (t) => player.seek(t),
    onError: (err) => showError("compare", compareMessage(err)),
    onSessions,
  });

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
    } catch (err) {
      showError("compare", compareMessage(err));
    }
  }
  $("#compare-add").addEventListener("click", () => compareWith($("#compare-with").value));
  $("#compare-stop").addEventListener("click", () => store.set({ compare: "" }));

  const sel = $("#compare-with");
  sel.replaceChildren(...[
    ...settings.presets.map((p) => [`preset:${p.name}`, `preset ${p.name} (${p.cell}, H = ${p.hidden_size})`]),
    ...settings.catalog.kinds.map((k) => [`kind:${k.kind}`, `${k.kind}, random weights, the same H`]),
  ].map(([value, text]) => new Option(text, value)));

  let shown = ""; // the sessions and style the companions were drawn for
  return {
    now: true, // every diagram's data-t is the same on every painted frame
    keys: ["session", "compare", "style", "frame", "unit", "stage", "sens_of"],
    update(s) {
      const others = s.compare ? s.compare.split(",").slice(1) : [];
      const key = `${s.session?.id}|${others.join(",")}|${s.style}`;
      if (key !== shown) {
        shown = key;
        compare.setSessions(s.session, others, s);
      } else if (others.length) compare.update(s);
    },
    sessions: () => compare.sessions(),
  };
}
