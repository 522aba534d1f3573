// The legend under the diagram, drawn from the layout's entries (so a GRU's legend speaks of
// h_{t−1} / h_t, not of c). Text goes in through textContent only.

import { appendHtmlMath } from "../views/math_text.js";

/** Replace the contents of the <dl> `dl` with `entries` ([{swatches: [[cls, text]], text}]). */
export function renderLegend(dl, entries = []) {
  dl.replaceChildren(...entries.map(({ swatches, text }) => {
    const row = document.createElement("div");
    const dt = document.createElement("dt");
    for (const [cls, label] of swatches) {
      const sw = document.createElement("span");
      sw.className = `sw ${cls}`;
      sw.textContent = label;
      dt.appendChild(sw);
    }
    const dd = document.createElement("dd");
    appendHtmlMath(dd, text);
    row.append(dt, dd);
    return row;
  }));
}
