// Tours, wired: a step of a tour is a URL state. Its `view` (preset or cell, text, hold, compare,
// t, unit, stage, style, signal, sens_of, sens_pipes) is turned into the settings a link
// would carry, every view setting it leaves out at its default, and opened through the
// same path as a link at boot (flow/sessions.js openState). The sessions a tour makes are
// kept by their request, so Back and Next come back to them.

import * as api from "../net/api.js";
import { defaultOf } from "../state/settings.js";
import * as store from "../state/store.js";
import { createTour } from "../views/tour.js";

// the view settings a step sets (its own or their defaults); the others (speed, live, the
// tour itself) are the reader's
const STEP_VIEW = ["t", "unit", "stage", "style", "signal", "sens_of", "sens_pipes", "layer", "direction", "orig",
  "compare"];

export function createTourFlow({ settings, sessions, showError }) {
  const made = new Map(); // request body (JSON) -> the session made for it

  /** The URL settings of a step's `view` (a compare names presets: their sessions' ids). */
  async function stepValues(v) {
    const values = {};
    for (const key of STEP_VIEW) values[key] = key in v ? v[key] : defaultOf(settings.row(key), {});
    // a seeded cell ({cell, seed, hidden_size, options}: a kind with no preset) or a preset
    const source = v.cell
      ? { weights: "seed", cell: v.cell.cell, seed: v.cell.seed ?? 0, hidden: v.cell.hidden_size, ...(v.cell.options || {}) }
      : { weights: "preset", preset: v.preset };
    Object.assign(values, source, { hold: v.hold ?? "" });
    if (v.text !== undefined) values.text = v.text;
    if (v.compare?.length) {
      const text = v.text ?? settings.presetOf(v.compare[0])?.sample ?? "";
      const bodies = v.compare.map((p) => ({ preset: p, sequence: { text } }));
      const records = await Promise.all(bodies.map(async (body) => {
        const key = JSON.stringify(body);
        if (!made.has(key)) made.set(key, await api.createSession(body));
        return made.get(key);
      }));
      values.compare = records.map((r) => r.id).join(",");
    } else values.compare = "";
    return values;
  }

  async function apply(v) {
    try {
      await sessions.openState(await stepValues(v), { reuse: made });
    } catch (err) {
      showError("general", `tour: ${err.message}`);
    }
  }

  const tour = createTour({
    apply,
    onStep: (name, k) => store.set({ tour: name, tour_step: k }),
    onEnd: () => store.set({ tour: "", tour_step: 0 }),
    onChoose: (t) => tour.start(t, 0),
  });
  // the menu lists every tour the server has
  const tours = api.getTours();
  tours.then((list) => tour.setMenu(list), (err) => showError("general", `tours: ${err.message}`));

  /** Start the tour named `name` at step k; false when the server has none of that name. */
  async function start(name, k) {
    const found = (await tours).find((t) => t.name === name);
    if (!found) return false;
    await tour.start(found, k);
    return true;
  }
  return { start };
}
