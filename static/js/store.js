// The one store: the cursor (t, stage), the selected unit and signal, the session
// description and the values of the displayed frame. Never DOM nodes or geometry.
// Views subscribe and redraw from it; the screen is a function of this state.

const state = {
  session: null,      // session body from the API (id, cell, sizes, signals, vocabulary, ...)
  stages: [],         // stage names of the session's cell, in computation order
  t: 0,               // requested cursor step
  stage: "all",       // "all" or one of `stages` (stage mode)
  unit: 0,            // selected unit
  style: "olah",      // diagram style
  frame: null,        // {t, seq, signals: {name: [floats]}} — the values on screen
  focus: null,        // signal name selected by click (equation panel)
  hover: null,        // signal name under the pointer
  playing: false,
  speed: 10,          // steps per second while playing
  connection: "idle", // idle | connecting | open | reconnecting | closed
};

const listeners = new Set();

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

/** Value of `signal` for the selected unit in the displayed frame, or undefined. */
export function valueOf(signal, unit = state.unit) {
  const vec = state.frame?.signals?.[signal];
  return vec ? vec[unit] : undefined;
}
