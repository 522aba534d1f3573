// Small SVG helpers for the renderer.
import { appendSvgMath } from "../views/math_text.js";

export const SVG_NS = "http://www.w3.org/2000/svg";

/** Create an SVG element with attributes and append it to parent. */
export function el(parent, tag, attrs = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  }
  if (parent) parent.appendChild(node);
  return node;
}

/** A <text> holding a math label (subscripts as tspans). */
export function mathLabel(parent, x, y, label, attrs = {}) {
  const t = el(parent, "text", { x, y, ...attrs });
  appendSvgMath(t, label);
  return t;
}

/** Path data for a polyline with slightly rounded corners. */
export function polyline(points, radius = 10) {
  if (points.length < 3) return `M${points.map((p) => p.join(",")).join("L")}`;
  let d = `M${points[0][0]},${points[0][1]}`;
  for (let k = 1; k < points.length - 1; k += 1) {
    const [px, py] = points[k - 1];
    const [x, y] = points[k];
    const [nx, ny] = points[k + 1];
    const r1 = Math.min(radius, Math.hypot(x - px, y - py) / 2);
    const r2 = Math.min(radius, Math.hypot(nx - x, ny - y) / 2);
    const a = [x - (r1 * (x - px)) / (Math.hypot(x - px, y - py) || 1),
      y - (r1 * (y - py)) / (Math.hypot(x - px, y - py) || 1)];
    const b = [x + (r2 * (nx - x)) / (Math.hypot(nx - x, ny - y) || 1),
      y + (r2 * (ny - y)) / (Math.hypot(nx - x, ny - y) || 1)];
    d += `L${a[0]},${a[1]}Q${x},${y} ${b[0]},${b[1]}`;
  }
  const last = points[points.length - 1];
  return `${d}L${last[0]},${last[1]}`;
}

/** Arrowhead markers shared by all pipes. */
export function addDefs(svg) {
  const defs = el(svg, "defs");
  for (const [id, cls] of [["arrow", "arrowhead"], ["arrow-faded", "arrowhead faded"]]) {
    const m = el(defs, "marker", {
      id: `gs-${id}`, viewBox: "0 0 10 10", refX: 8, refY: 5,
      markerWidth: 9, markerHeight: 9, markerUnits: "userSpaceOnUse", orient: "auto-start-reverse",
    });
    el(m, "path", { d: "M0,0 L10,5 L0,10 z", class: cls });
  }
  return defs;
}
