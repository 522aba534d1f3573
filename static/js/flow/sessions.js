// Which session is on screen, and how the page gets there. Every way of opening one (a
// link at boot, a tour step, Run, a what-if, live typing, a trained model) ends in
// `start(record)` (a new session) or `show(part)` (another cell of it): the store gets the
// session, the stream is opened, and the views redraw from the store (main.js). A link
// and a tour step are both URL states, opened by one `openState(values)`.

import * as api from "../net/api.js";
import { openStream } from "../net/stream.js";
import { configFromSession, sessionBody } from "../state/session_config.js";
import { clampPart, isModel, partOf, unitCount } from "../state/parts.js";
import { resolve, sameConfig } from "../state/settings.js";
import * as store from "../state/store.js";
import { compareMessage } from "../views/compare.js";
import { RELEASED_NOTICE, slotOf } from "../views/form.js";
import { lastStepGrew } from "../views/sequence_view.js";

/** Whether a session holds or edits something (a what-if run). */
export const whatIfOf = (session) => Boolean(session?.interventions?.length || session?.weight_edits?.length);

/** Whether a server refusal is about the holds or the weight edits of the request. */
const refusesWhatIf = (err) => err.status === 422 && /^(interventions|weight_edits)\b/.test(String(err.detail ?? ""));

/** A sentence about how the server read the sequence, when it is worth saying. */
function sequenceNotice(cfg, session) {
  if (cfg.seq !== "numbers") return "";
  const rows = cfg.text.split(/\r\n|\r|\n/).filter((r) => r.trim());
  if (rows.length === session.steps + 1) return `The first row (${rows[0].trim().slice(0, 60)}) has no number in it: it was read as a header.`;
  return "";
}

/** `settings` (the table), `player`, `frameCache`, `showError(slot, message)`, `saveUrl()`. */
export function createSessions({ settings, player, frameCache, showError, saveUrl }) {
  let stream = null;
  let create = api.createSession; // a tour's steps reuse the sessions they made (openState)

  /** Draw `session` (a part of a record) and stream it; `patch` goes into the store with it. */
  function show(session, patch = {}) {
    stream?.close();
    player.pause();
    frameCache.clear();
    const s = store.get();
    const stages = session.stages;
    store.set({
      stage: s.stage === "all" || stages.includes(s.stage) ? s.stage : "all",
      unit: Math.max(0, Math.min(unitCount(session) - 1, s.unit)),
      ...patch, session, stages, frame: null, layer: session.layer, direction: session.direction,
    });
    stream = openStream(session.id, {
      part: session,
      onFrame: (frame) => player.receive(frame),
      onStatus: (status) => {
        if (status !== "open") frameCache.resetPending();
        store.set({ connection: status });
      },
      onError: (msg) => showError("general", msg),
      cursor: () => store.get().t,
    });
    saveUrl();
  }

  /** Make `record` the session on screen, at cursor (t, stage, unit); the form now
   *  describes it. The cell drawn is the store's (layer, direction), within the record's. */
  function start(record, { t = 0, stage = "all", unit = 0 } = {}, notice = "") {
    // a preset's units have names ("depth", ...): wherever a unit is chosen or drawn
    const presetLabels = settings.presetOf(record.weights?.preset)?.unit_labels;
    const full = { ...record, unit_labels: record.unit_labels ?? presetLabels ?? null };
    const at = clampPart(full, store.get().layer, store.get().direction);
    const session = partOf(full, at.layer, at.direction);
    const comparing = store.get().compare;
    if (comparing && comparing.split(",")[0] !== record.id) store.set({ compare: "" });
    const config = configFromSession(settings, full); // the form describes the whole model
    // an uploaded file's record (its name, sizes, what it states) comes with the session
    const upload = session.weights?.weights_id ? { ...session.weights } : store.get().upload;
    show(session, {
      config, draft: { ...config }, notice, upload,
      t: Math.max(0, Math.min(session.steps - 1, t)),
      stage: stage === "all" || session.stages.includes(stage) ? stage : "all",
      unit: Math.max(0, Math.min(unitCount(session) - 1, unit)),
    });
  }

  /** Show another cell of the model on screen (the Layer and Direction pickers). */
  function showPart(layer, direction) {
    const record = store.get().session?.record;
    if (!record) return;
    const at = clampPart(record, layer, direction);
    show(partOf(record, at.layer, at.direction));
  }

  /** Run `cfg` and show it. `original` (a Run of the form, a link): make sure a held or
   *  edited session has its original run (`orig`), and release holds or weight edits the
   *  server refuses for this cell (another kind, sizes, a shorter sequence), with a notice,
   *  rather than failing the run. Refusals go to the field they name. */
  async function run(cfg, cursor = {}, { original = false } = {}) {
    const was = store.get().orig;
    try {
      let made = cfg;
      let session;
      try {
        session = await create(sessionBody(settings, made, store.get().upload));
      } catch (err) {
        if (!original || !refusesWhatIf(err) || (!made.hold && !made.wedit)) throw err;
        made = { ...cfg, hold: "", wedit: "" };
        session = await create(sessionBody(settings, made, store.get().upload));
      }
      if (original) store.set({ orig: "" });
      const notice = made === cfg ? sequenceNotice(cfg, session) : RELEASED_NOTICE;
      start(session, { unit: store.get().unit, ...cursor }, notice);
      if (original) await ensureOriginal(was);
    } catch (err) {
      showError(slotOf(err.field), err.message);
    }
  }

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
      const made = await create(sessionBody(settings, plain, s.upload));
      if (store.get().session?.id === session.id) store.set({ orig: made.id });
    } catch (err) {
      showError("general", `what if: the original run could not be made: ${err.message}`);
    }
  }

  /** Open the URL state `values` (settings read from a link, or a tour step's): its view
   *  settings, then the sessions it compares, or the session it names, or else the config
   *  it describes, run. `reuse`: sessions made for the same body are made once (a tour's
   *  Back and Next come back to the sessions they made). */
  async function openState(values, { reuse = null } = {}) {
    const view = { compare: "" };
    // the sessions compared are set once the first is on screen
    for (const row of settings.view) if (!["session", "compare"].includes(row.key) && row.key in values) view[row.key] = values[row.key];
    store.set(view);
    const cursor = { t: store.get().t, stage: store.get().stage, unit: store.get().unit };
    create = reuse ? memo(reuse) : api.createSession;
    try {
      if (values.compare) {
        const ids = values.compare.split(",").filter(Boolean).slice(0, 3);
        try {
          start(await api.getSession(ids[0]), cursor);
          store.set({ compare: ids.join(",") });
          return;
        } catch (err) {
          showError("compare", compareMessage(err));
          store.set({ compare: "" });
        }
      }
      if (values.session) {
        try {
          start(await api.getSession(values.session), cursor);
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
    } finally {
      create = api.createSession;
    }
  }

  /** api.createSession that answers a body it has seen with the session it made then. */
  function memo(made) {
    return async (body) => {
      const key = JSON.stringify(body);
      if (!made.has(key)) made.set(key, await api.createSession(body));
      return made.get(key);
    };
  }

  // Live typing: text typed at the end of the session's own text is appended to the
  // session on screen (one step per grapheme, counted by the server: an accent typed after
  // its letter changes that step instead of adding one), and the cursor follows. One
  // request at a time; what is typed meanwhile goes with the next.
  let appending = false;
  async function liveAppend() {
    const s = store.get();
    const cfg = s.config;
    if (appending || !s.live || !s.session || !cfg || cfg.seq !== "text" || s.draft?.seq !== "text") return;
    const typed = s.draft.text;
    if (typed.length <= cfg.text.length || !typed.startsWith(cfg.text)) return;
    if (!settings.form.every((r) => r.key === "text" || String(s.draft[r.key]) === String(cfg[r.key]))) return;
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
      const full = { ...record, unit_labels: s.session.unit_labels };
      const session = partOf(full, s.layer, s.direction);
      const config = { ...cfg, text: record.sequence?.text ?? typed };
      // a model reads the whole text again (a backward cell starts at its end): no old
      // frame holds; nor when the piece completed the last step's grapheme
      const stale = isModel(record) || lastStepGrew(s.session.sequence, record.sequence, s.session.steps);
      if (stale) frameCache.clear();
      store.set({ session, config, errors: {}, ...(stale ? { frame: null } : {}), ...(inStep ? {} : { orig: "" }) });
      player.seek(session.steps - 1);
      if (!inStep) ensureOriginal();
    } catch (err) {
      showError(slotOf(err.field), err.message);
    } finally {
      appending = false;
    }
    if (store.get().draft.text !== store.get().config.text) liveAppend();
  }

  return { start, showPart, run, ensureOriginal, openState, liveAppend, stream: () => stream };
}
