// The diagram's parts for the keyboard and for screen readers: Tab enters the diagram at one
// part (a roving tabindex), the arrows move between parts in computation order, Enter pins
// a part's equation; each part's accessible name says what it is and the value it shows
// ("forget valve, f_t[0] = 0.980", the selected unit in brackets as in the equations; the
// word "unit" stays out of it, since "Unit" names the unit control).

import { formatNumber } from "../views/math_text.js";

/** A label as read aloud: c_{t−1} -> "c_t−1". */
export const plainLabel = (label) => String(label ?? "").replace(/[{}]/g, "");

/**
 * parts: [{el, signal, name, k (stage index)}] in computation order. onFocus(signal) when a
 * part takes the focus or Enter is pressed on it.
 */
export function bindParts(svg, parts, onFocus) {
  parts.forEach((p, i) => {
    p.el.setAttribute("tabindex", i === 0 ? "0" : "-1");
    p.el.setAttribute("role", "img");
    if (!p.el.hasAttribute("data-signal")) p.el.setAttribute("data-signal", p.signal);
    p.el.setAttribute("aria-label", p.name);
    // what it is, in the engine's words (a description, not the name: the name stays short)
    if (p.description) p.el.setAttribute("aria-description", p.description);
    p.el.addEventListener("focus", () => {
      for (const q of parts) if (q !== p) q.el.setAttribute("tabindex", "-1");
      p.el.setAttribute("tabindex", "0");
      onFocus(p.signal);
    });
  });
  svg.addEventListener("keydown", (ev) => {
    const at = parts.findIndex((p) => p.el === document.activeElement);
    if (at < 0) return;
    const move = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[ev.key];
    if (move) {
      ev.preventDefault(); // the page's arrow keys step time; inside the diagram they move
      parts[(at + move + parts.length) % parts.length].el.focus();
    } else if (ev.key === "Enter") {
      onFocus(parts[at].signal);
    }
  });
  return {
    /** Say each part's value for the unit (v undefined: not computed yet at this stage;
     *  `past(part)`: a sentence where the part has no value for the unit, else null). */
    speak(values, unit, past = () => null) {
      for (const p of parts) {
        const v = values(p);
        const none = past(p);
        const text = none ? `${p.name}[${unit}]: none, ${none}`
          : `${p.name}[${unit}] = ${v === undefined ? "not computed yet" : formatNumber(v)}`;
        if (p.said !== text) {
          p.said = text;
          p.el.setAttribute("aria-label", text);
        }
      }
    },
  };
}
