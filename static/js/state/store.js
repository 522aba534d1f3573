// The one store: the view settings of the table (t, unit, stage, style, signal, speed —
// their keys and defaults come from state/settings.js), the form's draft and the config of
// the session on screen, and what is only ever on screen: the session, the displayed
// frame, hover, play and connection state. Never DOM nodes or geometry. Views subscribe
// and redraw from it; the screen is a function of this state.

const RUNTIME = {
  session: null,      // the session on screen, from the API (id, cell, sizes, signals, ...)
  stages: [],         // stage names of the session's kind, in computation order (from the kind)
  frame: null,        // {t, seq, signals: {name: [floats]}} — the values on screen
  hover: null,        // signal name under the pointer
  playing: false,
  connection: "idle", // idle | connecting | open | reconnecting | closed
  config: null,       // the form settings that describe the session on screen
  draft: null,        // the form as edited (numbers as typed); Run makes it the config
  errors: {},         // form key (or "general", "sequence", ...) -> message
  upload: null,       // what the server said of the uploaded weights file
  notice: "",         // a sentence about the session on screen (a header row read, a part shown)
  training: null,     // the training job of the Train panel: {job, state, step, steps, loss, session, error}
  held: null,         // what the run without holds computes at the cursor: {key, signals} (views/held.js)
};

const state = { ...RUNTIME };
const listeners = new Set();

/** Add the view settings of the table (with their defaults) to the store. */
export function init(settings) {
  for (const row of settings.view) {
    if (row.key !== "session" && !(row.key in state)) state[row.key] = row.def;
  }
}

/** Current state (read-only by convention). */
export function get() {
  return state;
}

/** Merge `patch` into the state and tell subscribers which keys changed. */
export function set(patch) {
  const changed = new Set();
  for (const [key, value] of Object.entries(patch)) {
    if (!(key in state)) throw new Error(`store: unknown key ${key}`);
    if (state[key] !== value) {
      state[key] = value;
      changed.add(key);
    }
  }
  if (changed.size) for (const fn of listeners) fn(state, changed);
}

/** Call fn(state, changedKeys) after every change; returns an unsubscribe function. */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
