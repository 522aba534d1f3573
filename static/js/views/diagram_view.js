// The main diagram as a view: rebuilt when another cell or style is drawn, else bound to
// the cursor (frame, unit, stage) by the renderer's update. The legend follows the layout.

import { layoutFor, memoryCellUnavailable } from "../diagram/layouts/index.js";
import { renderLegend } from "../diagram/legend_view.js";
import { renderDiagram } from "../diagram/renderer.js";
import { partKey } from "../state/parts.js";
import * as store from "../state/store.js";
import { inputLabel } from "./model_parts.js";
import { showParallelCheck } from "./parallel_check.js";

const $ = (sel) => document.querySelector(sel);

/** `onUnit(u)` selects a unit (a strip cell clicked). */
export function createDiagramView({ onUnit }) {
  let diagram = null;
  let built = ""; // the cell and style drawn

  function build(s) {
    const session = s.session;
    const style = s.style === "memory-cell" && !memoryCellUnavailable(session.cell) ? "memory-cell" : "olah";
    const layout = layoutFor(session.cell, style, {
      hidden: session.hidden_size, input: session.input_size, options: session.options,
      signals: session.signals, inputLabel: inputLabel(session), projection: session.proj_size,
      dims: session.dims,
    });
    renderLegend($("#legend"), layout.legend);
    showParallelCheck($("#diagram-host"), session);
    diagram = renderDiagram($("#diagram-host"), layout, {
      style, kind: session.cell, session: session.id, signals: session.signals, stages: session.stages,
      hidden: session.hidden_size, input: session.input_size, projection: session.proj_size,
      dims: session.dims, onHover: (name) => store.set({ hover: name }),
      onFocus: (name) => store.set({ signal: name }),
      onUnit,
    });
  }

  return {
    now: true, // a keypress costs one painted frame: the diagram is bound in the same task
    keys: ["session", "style", "frame", "unit", "stage"],
    update(s) {
      if (!s.session) return;
      const key = `${partKey(s.session)}|${s.style}`;
      if (key !== built) {
        built = key;
        build(s);
      }
      diagram.update(s);
    },
    svg: () => diagram?.svg ?? null,
  };
}
