// The mLSTM's memory as a tank: the selected head's d × d matrix C_t as a heatmap, one
// rect per entry with its data-value (the engine's number; rows are value dims, columns
// key dims, as the engine stores them). The row of the selected unit is framed: h̃_t of
// the unit is that row read against the query. A large d shows the WINDOW × WINDOW block
// holding that row, and says which block.

import { PALETTE, paletteIndex } from "./encode.js";
import { headOf } from "./heads.js";
import { appendSvgMath } from "../views/math_text.js";
import { el, mathLabel } from "./svg.js";

const WINDOW = 16;

/** Build the tank of layout node `n` ({x, y, size, signal, heads, hidden, caption}) in
 *  `nodes`, its caption in `labels`. Returns {g, signal, k, v, paint(frame signals, unit)}. */
export function buildTank(nodes, labels, n, { k, description }) {
  const g = el(nodes, "g", { class: "node tank", "data-signal": n.signal, "data-tank": n.signal });
  el(g, "rect", { x: n.x - 4, y: n.y - 4, width: n.size + 8, height: n.size + 8, rx: 6, class: "tank-wall" });
  el(g, "title").textContent = description;
  const cellsG = el(g, "g", { class: "tank-cells" });
  const mark = el(g, "rect", { class: "tank-row", x: n.x, y: n.y, width: n.size, height: 0 });
  const { d } = headOf(0, n.hidden, n.heads);
  const side = Math.min(d, WINDOW);
  const base = n.caption?.[2] ?? "";
  const captionText = (head) => `${base} (head ${head})`;
  const blockText = (r0) => `rows ${r0}–${r0 + side - 1}, columns 0–${side - 1} of d = ${d}`;
  const caption = n.caption ? mathLabel(labels, n.caption[0], n.caption[1], captionText(0),
    { class: "node-caption", "text-anchor": n.caption[3] || "middle" }) : null;
  // a large memory: which block is shown, on a line of its own above the caption
  const blockNote = n.caption && d > side ? mathLabel(labels, n.caption[0], n.caption[1] - 16, blockText(0),
    { class: "node-caption", "text-anchor": n.caption[3] || "middle" }) : null;
  const cell = n.size / side;
  const rects = [];
  for (let r = 0; r < side; r += 1) {
    for (let c = 0; c < side; c += 1) {
      rects.push(el(cellsG, "rect", { x: n.x + c * cell, y: n.y + r * cell, width: cell, height: cell,
        class: "tank-cell", "data-signal": n.signal }));
    }
  }
  const tank = { g, signal: n.signal, k, v: undefined, block: "0|0" };
  /** Show the memory of `vec` (heads·d·d, row-major) for `unit`; vec undefined: not yet. */
  tank.paint = (vec, unit) => {
    const { head, row } = headOf(unit, n.hidden, n.heads);
    const r0 = Math.floor(row / side) * side;
    const block = `${head}|${r0}`;
    if (tank.block !== block && caption) {
      caption.replaceChildren();
      appendSvgMath(caption, captionText(head));
      if (blockNote) {
        blockNote.replaceChildren();
        appendSvgMath(blockNote, blockText(r0));
      }
    }
    tank.block = block;
    mark.setAttribute("y", String(n.y + (row - r0) * cell));
    mark.setAttribute("height", String(cell));
    g.setAttribute("data-head", String(head));
    // colours scaled to the largest |entry| shown (a memory's entries are small: k is
    // scaled by 1/√d); the numbers in data-value are the engine's, unscaled
    let scale = 0;
    rects.forEach((_, i) => {
      const v = vec?.[(head * d + r0 + Math.floor(i / side)) * d + (i % side)];
      if (v !== undefined && Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
    });
    g.setAttribute("data-scale", scale.toExponential(3));
    rects.forEach((rect, i) => {
      const r = r0 + Math.floor(i / side);
      const c = i % side;
      const v = vec?.[(head * d + r) * d + c];
      if (v === undefined) {
        rect.removeAttribute("data-value");
        rect.style.fill = "";
        return;
      }
      rect.setAttribute("data-value", v.toFixed(6));
      rect.setAttribute("data-head", String(head));
      rect.setAttribute("data-row", String(r));
      rect.setAttribute("data-col", String(c));
      rect.style.fill = PALETTE[paletteIndex(scale > 0 ? v / scale : 0, true)];
    });
    // what the keyboard says: the diagonal entry of the unit's row (its value dim read
    // under the same key dim)
    tank.v = vec?.[(head * d + row) * d + Math.min(row, d - 1)];
  };
  return tank;
}
