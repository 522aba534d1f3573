// The "parallel = step by step ✓" badge of a session whose kind has a parallel form
// (minGRU, minLSTM): the largest difference the server measured between the cell's
// log-space scan and its step-by-step run over the session's inputs. The number is the
// server's (parallel_max_abs_diff); the page only shows it.

import { formatNumber } from "./math_text.js";

// Agreement within rounding: far below the 1e-5 of float32 at which the engine is checked.
const AGREES = 1e-5;

/** Show (or remove) the badge for `session` just before `anchor`. */
export function showParallelCheck(anchor, session) {
  let badge = anchor.parentElement.querySelector('[data-view="parallel-check"]');
  const diff = session?.parallel_max_abs_diff;
  if (diff === undefined || diff === null) {
    badge?.remove();
    return;
  }
  if (!badge) {
    badge = document.createElement("p");
    badge.className = "parallel-check";
    badge.dataset.view = "parallel-check";
    badge.setAttribute("role", "status");
    anchor.before(badge);
  }
  const ok = diff <= AGREES;
  badge.dataset.value = String(diff);
  badge.textContent = `parallel = step by step ${ok ? "✓" : "✗"} (max |difference| over every signal and step: ${
    diff === 0 ? "0" : diff.toExponential(2)})`;
  badge.title = `The cell computed by a log-space parallel scan and step by step agree to ${formatNumber(diff, 3)}`;
}
