// What if: hold a valve or a state at a value from the cursor on (Written Memories, r2rt
// 2016: f = 1 and i = 0 "write it down"). The page asks the server for a new session with
// those interventions and shows it. The page's line chart draws the original run faintly
// beside the new one, with h_new − h_orig as the server computes it
// (GET /api/sessions/{id}/difference) on a second axis (charts.js, chart_overlays.js), in
// the charts' window and under their cursor. Held elements of the diagram carry
// data-clamped="true" and data-held-value. "Edit a weight" (views/weight_form.js) changes
// the cell instead, for every step; the charts compare the same way.

import { isFirstPart, partKey, samePart } from "../state/parts.js";
import { heldNote } from "./held.js";
import { createWeightForm } from "./weight_form.js";

/** The signals the drawn cell can hold (in a model its kind may differ from layer 0's). */
export const holdableOf = (session) => session?.holdable ?? []; // partOf's, the drawn cell's

const $ = (sel) => document.querySelector(sel);

/** The controls; `onHold({signal, value, allUnits})`, `onRelease()`,
 *  `onEditWeight({param, row, col, value})` and `onResetWeights()` (promises); `reveal(el)`
 *  brings the form on screen without scrolling the page. */
export function createWhatIf({ onHold, onRelease, onEditWeight, onResetWeights, reveal }) {
  const signalSel = $("#hold-signal");
  const valueIn = $("#hold-value");
  const unitsSel = $("#hold-units");
  const status = $("#hold-status");
  const weights = createWeightForm({ onEdit: onEditWeight, onReset: onResetWeights });

  $("#hold-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = Number(valueIn.value);
    if (valueIn.value.trim() === "" || !Number.isFinite(value)) {
      status.textContent = "Held value must be a number.";
      return;
    }
    onHold({ signal: signalSel.value, value, allUnits: unitsSel.value === "all" });
  });
  $("#hold-release").addEventListener("click", () => onRelease());

  /** Choose `signal` in the menu with `value` (the element's own, from the diagram). */
  function choose(signal, value) {
    if (![...signalSel.options].some((o) => o.value === signal)) return false;
    signalSel.value = signal;
    if (value !== null && value !== undefined) valueIn.value = String(value);
    reveal?.(valueIn);
    valueIn.focus({ preventScroll: true }); // the page stays on the valve
    valueIn.select();
    return true;
  }

  function render(state) {
    const s = state.session;
    if (!s) return;
    const holdable = holdableOf(s);
    const labels = Object.fromEntries(s.signals.map((x) => [x.name, x.label]));
    const menuKey = partKey(s);
    if (signalSel.dataset.session !== menuKey) {
      signalSel.dataset.session = menuKey;
      const keep = signalSel.value;
      signalSel.replaceChildren(...holdable.map((name) => Object.assign(document.createElement("option"),
        { value: name, textContent: `${name} (${labels[name] ?? name})` })));
      if (holdable.includes(keep)) signalSel.value = keep;
    }
    const held = s.interventions ?? [];
    $("#hold-release").disabled = held.length === 0;
    status.textContent = held.length
      ? `Held: ${held.map((iv) => `${iv.signal} = ${iv.value} for steps ${iv.start}…${iv.stop - 1}${iv.units ? ` (unit ${iv.units.join(", ")})` : ""}${isFirstPart(iv) ? "" : ` in layer ${iv.layer}, ${iv.direction}`}`).join("; ")}.`
      : "Nothing held: this is the run as the cell computes it.";
    weights.render(state);
  }

  return { render, choose };
}

/** Mark the diagram's held elements at the cursor: data-clamped and data-held-value, and
 *  their spoken names say they are held and what the cell would have computed (in a
 *  model, only where the cell drawn is the one holding). */
export function markClamped(svg, state) {
  if (!svg) return;
  const session = state.session;
  const t = state.frame?.t ?? state.t;
  for (const node of svg.querySelectorAll("[data-clamped]")) {
    node.removeAttribute("data-clamped");
    node.removeAttribute("data-held-value");
    const label = node.getAttribute("aria-label");
    if (label?.includes(HELD)) node.setAttribute("aria-label", label.split(HELD)[0]);
  }
  for (const iv of session?.interventions ?? []) {
    if (!samePart(iv, session) || t < iv.start || t >= iv.stop || (iv.units && !iv.units.includes(state.unit))) continue;
    const note = heldNote(state, session.signals.find((x) => x.name === iv.signal) ?? { name: iv.signal });
    for (const node of svg.querySelectorAll(`[data-signal="${iv.signal}"]`)) {
      node.setAttribute("data-clamped", "true");
      node.setAttribute("data-held-value", String(iv.value));
      const label = node.getAttribute("aria-label");
      if (label && node.getAttribute("role") === "img") node.setAttribute("aria-label", label.split(HELD)[0] + note);
    }
  }
}
const HELD = " (held";
