// What if, wired: a hold or a weight edit makes a new session (the same config, one more
// intervention or edit of the cell drawn) shown beside the original run; "Release all" and
// "Reset weights" go back to the original. Right-click (or H on) a valve picks it in the
// hold form, brought beside the diagram (`reveal`, views/dock.js) without scrolling the
// page. Returns the panel's view ({keys, update}).

import { headView } from "../diagram/heads.js";
import * as api from "../net/api.js";
import { formatHold, formatWeightEdits, parseHold, parseWeightEdits, sessionBody } from "../state/session_config.js";
import { samePart } from "../state/parts.js";
import * as store from "../state/store.js";
import { createWhatIf, holdableOf, markClamped } from "../views/whatif.js";

/** `sessions` (flow/sessions.js), `diagramSvg()` (the main diagram's svg), `showError`,
 *  `reveal(el)` (bring a docked control on screen without moving the page). */
export function createWhatIfFlow({ settings, sessions, diagramSvg, showError, reveal }) {
  /** The session on screen with what-if `changes` (holds, weight edits) made, compared with
   *  the original run; with nothing held or edited any more, the original run itself.
   *  Throws the server's refusal. */
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
        sessions.start(back, cursor);
        store.set({ orig: "" });
        return;
      }
    }
    const orig = s.orig || s.session.id;
    const made = await api.createSession(sessionBody(settings, cfg, store.get().upload));
    sessions.start(made, cursor);
    store.set({ orig: made.interventions?.length || made.weight_edits?.length ? orig : "" });
  }

  /** A hold or a release; one the server refuses is told in the panel, beside the form. */
  async function holding(changes) {
    try {
      showError("whatif", "");
      await runWhatIf(changes);
    } catch (err) {
      showError("whatif", err.message);
    }
  }

  const panel = createWhatIf({
    onHold: ({ signal, value, allUnits }) => {
      const s = store.get();
      if (!s.session || !s.config) return;
      const iv = { signal, value, start: s.t, stop: s.session.steps, units: allUnits ? null : [s.unit],
        layer: s.session.layer, direction: s.session.direction };
      return holding({ hold: formatHold([...parseHold(s.config.hold), iv]) });
    },
    onRelease: () => holding({ hold: "" }),
    // an edit (of the drawn cell, as a hold) replaces any earlier edit of the same weight
    onEditWeight: (at) => {
      const s = store.get();
      const edit = { ...at, layer: s.session.layer, direction: s.session.direction };
      const same = (e) => e.param === edit.param && e.row === edit.row && (e.col ?? null) === edit.col && samePart(e, edit);
      const others = parseWeightEdits(s.config?.wedit).filter((e) => !same(e));
      return runWhatIf({ wedit: formatWeightEdits([...others, edit]) });
    },
    onResetWeights: () => runWhatIf({ wedit: "" }),
    reveal,
  });

  function holdMenu(ev) {
    const node = ev.target.closest?.("[data-signal]");
    const s = store.get();
    if (!node || !holdableOf(s.session).includes(node.getAttribute("data-signal"))) return false;
    // the number the part shows for the unit: an mLSTM's per-head gate is its head's
    const meta = Object.fromEntries(s.session.signals.map((x) => [x.name, x]));
    const shown = headView(s.frame?.signals, meta, s.session.hidden_size)?.[node.getAttribute("data-signal")]?.[s.unit];
    return panel.choose(node.getAttribute("data-signal"), shown === undefined ? null : Number(shown.toPrecision(6)));
  }
  const host = document.querySelector("#diagram-host");
  host.addEventListener("contextmenu", (ev) => {
    if (holdMenu(ev)) ev.preventDefault();
  });
  host.addEventListener("keydown", (ev) => {
    if ((ev.key === "h" || ev.key === "H") && !ev.ctrlKey && !ev.metaKey && !ev.altKey && holdMenu(ev)) ev.preventDefault();
  });

  return {
    panel: { keys: ["session", "orig", "unit"], update: (s) => panel.render(s) },
    // held elements of the diagram at the cursor (drawn with the diagram, in the same frame)
    clamped: { now: true, keys: ["frame", "unit", "session", "style", "held"], update: (s) => markClamped(diagramSvg(), s) },
  };
}
