// The URL holds the view: the settings of the table that the URL keeps (view and form),
// each only where it applies and differs from its default, so that a link is short and
// says nothing that is not in use (no non-linearity on an LSTM). The form part written is
// the config of the session on screen, never un-run edits.

import { applies, defaultOf, parseValue, valueText } from "./settings.js";

/** Settings given in a query string: {values: {key: value}, errors: [sentences]}. */
export function readUrl(settings, search = window.location.search) {
  const params = new URLSearchParams(search);
  const values = {};
  const errors = [];
  for (const row of settings.rows) {
    if (!params.has(row.key)) continue;
    const got = parseValue(row, params.get(row.key));
    if ("error" in got) errors.push(`In the link: ${got.error}`);
    else values[row.key] = got.value;
  }
  // `?weights_id=…` alone means an uploaded file, `?seed=…` or `?cell=…` without a preset
  // random weights; `?preset=…` alone a preset (the default).
  if (!("weights" in values)) {
    if ("weights_id" in values) values.weights = "upload";
    else if (("seed" in values || "cell" in values || "hidden" in values) && !("preset" in values)) values.weights = "seed";
  }
  return { values, errors };
}

/** The query string for `values` (resolved settings). */
export function toQuery(settings, values) {
  const params = new URLSearchParams();
  for (const row of settings.rows) {
    const v = values[row.key];
    if (v === undefined || v === null || !applies(row, values)) continue;
    if (String(v) === String(defaultOf(row, values))) continue;
    if (row.maxInUrl && String(v).length > row.maxInUrl) continue;
    params.set(row.key, valueText(row, v));
  }
  const q = params.toString();
  return q ? `?${q}` : "";
}

let pending = null;
let latest = null;

function replace() {
  pending = null;
  if (latest !== window.location.search) {
    window.history.replaceState(null, "", `${window.location.pathname}${latest}`);
  }
}

/** Replace the URL with `values` (coalesced: at most one history write per 200 ms). */
export function writeUrl(settings, values) {
  latest = toQuery(settings, values);
  if (!pending) pending = setTimeout(replace, 200);
}

/** Write at once (before the page goes away). */
export function flushUrl(settings, values) {
  clearTimeout(pending);
  latest = toQuery(settings, values);
  replace();
}
