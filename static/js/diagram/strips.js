// Vector strips: the whole vector of a signal along its pipe, one cell per unit, the
// selected unit marked. A strip is one small canvas (one pixel per unit) inside a
// foreignObject: cheap to update every step even at H = 1024, where thousands of SVG rects
// would not be. Its footprint is fixed at any H (at most STRIP_ROWS rows): past that it
// shows the page of units that holds the selected unit, and says which.

import { GATE_RGB, PALETTE_RGB, gateIndex, paletteIndex } from "./encode.js";
import { el } from "./svg.js";

const STRIP_COLS = 32;
const STRIP_ROWS = 2;

/**
 * A strip of `signal` in `parent` at spec {at: [x, y], w, cols?}. info: {n (units), label,
 * gate (a 0…1 gate: its own scale), bounded, k (stage index), onUnit(k)}.
 */
export function buildStrip(parent, signal, spec, info) {
  const { n } = info;
  const cols = Math.min(n, spec.cols || STRIP_COLS);
  const rows = Math.min(STRIP_ROWS, Math.ceil(n / cols));
  const cap = cols * rows;
  const cw = spec.w / cols;
  const ch = Math.max(3, Math.min(cw, 9));
  const [x0, y0] = spec.at;
  const g = el(parent, "g", { class: "strip", "data-signal": signal, "data-strip": signal });
  el(g, "rect", { x: x0 - 0.5, y: y0 - 0.5, width: spec.w + 1, height: rows * ch + 1, class: "strip-frame" });
  const holder = el(g, "foreignObject", { x: x0, y: y0, width: spec.w, height: rows * ch });
  const canvas = document.createElementNS("http://www.w3.org/1999/xhtml", "canvas");
  canvas.width = cols;
  canvas.height = rows;
  canvas.className = "strip-image";
  holder.appendChild(canvas);
  const sel = el(g, "rect", { class: "strip-selected", width: cw + 1, height: ch + 1 });
  const title = el(g, "title");
  const draw = canvas.getContext("2d");
  const pixels = draw.createImageData(cols, rows);
  let last = "";
  const strip = {
    signal, n, g, k: info.k, unit: -1, from: 0,
    /** Show the page of units holding `unit`, and mark it. */
    place(unit) {
      const u = Math.min(unit, n - 1);
      strip.from = Math.floor(u / cap) * cap;
      const k = u - strip.from;
      sel.setAttribute("x", x0 + (k % cols) * cw - 0.5);
      sel.setAttribute("y", y0 + Math.floor(k / cols) * ch - 0.5);
      sel.style.display = unit < n ? "" : "none";
      const to = Math.min(n, strip.from + cap) - 1;
      g.setAttribute("data-units", `${strip.from}-${to}`);
      title.textContent = `${info.label}: ${n > cap ? `units ${strip.from}–${to} of ${n}` : `${n} units`} — click one to select it`;
    },
    /** Colour the cells from `vec` (writes the canvas only when a colour changed). */
    paint(vec) {
      const data = pixels.data;
      let key = String(strip.from);
      for (let j = 0; j < cap; j += 1) {
        const k = strip.from + j;
        const o = 4 * j;
        if (k >= n) {
          data[o + 3] = 0;
          continue;
        }
        const idx = info.gate ? gateIndex(vec[k]) : paletteIndex(vec[k], info.bounded);
        key += String.fromCharCode(65 + idx);
        const [r, gg, b] = (info.gate ? GATE_RGB : PALETTE_RGB)[idx];
        data[o] = r;
        data[o + 1] = gg;
        data[o + 2] = b;
        data[o + 3] = 255;
      }
      if (key === last) return; // same colours as on screen
      last = key;
      draw.putImageData(pixels, 0, 0);
    },
  };
  canvas.addEventListener("click", (ev) => {
    const box = canvas.getBoundingClientRect();
    const col = Math.floor(((ev.clientX - box.left) / box.width) * cols);
    const row = Math.floor(((ev.clientY - box.top) / box.height) * rows);
    const k = strip.from + row * cols + col;
    if (k >= 0 && k < n) info.onUnit(k);
    ev.stopPropagation();
  });
  return strip;
}
