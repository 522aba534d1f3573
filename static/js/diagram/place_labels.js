// Keeps every label of a drawn diagram clear: no two labels overlap, no label covers a
// node or a strip, and no pipe runs through a label. A layout gives each label where it
// would like it; this moves a label that collides to the nearest free spot (a few units
// up, down or sideways), so a layout is plain data and every kind and size stays legible.
// Geometry only: runs once per drawing, never per step.

const MARGIN = 1.5; // user units kept free around a label
const PIPE_HALF = 2.5; // half the width of a pipe kept free of labels
const STEPS = [0, 2, 4, 6, 8, 10, 13, 16, 19, 22, 26, 30, 35, 40, 46, 52];
// a value's usual text, measured while the label is placed
const VALUE_PLACEHOLDER = "−0.000";

function offsets() {
  const out = [];
  for (const d of STEPS) {
    if (d === 0) out.push([0, 0]);
    else out.push([0, -d], [0, d], [d, 0], [-d, 0], [d, -d], [-d, -d], [d, d], [-d, d]);
  }
  return out;
}
const CANDIDATES = offsets();

const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
const grow = (r, m) => ({ x: r.x - m, y: r.y - m, w: r.w + 2 * m, h: r.h + 2 * m });

/** Points every 2 units along each pipe's polyline (user units). */
function pipePoints(pipes) {
  const pts = [];
  for (const p of pipes) {
    for (let k = 1; k < p.points.length; k += 1) {
      const [x0, y0] = p.points[k - 1];
      const [x1, y1] = p.points[k];
      const n = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0) / 2));
      for (let j = 0; j <= n; j += 1) pts.push([x0 + ((x1 - x0) * j) / n, y0 + ((y1 - y0) * j) / n]);
    }
  }
  return pts;
}

/**
 * Move the labels of `svg` clear of each other, of `obstacles` (rects {x, y, w, h}) and of
 * the `pipes` (layout pipes with points). `labels`: SVG text elements in order of
 * priority (earlier ones keep their place when they can).
 */
export function placeLabels(labels, obstacles, pipes) {
  const pts = pipePoints(pipes);
  const taken = obstacles.map((r) => grow(r, MARGIN));
  const crossed = (r) => {
    const g = grow(r, PIPE_HALF);
    for (const [x, y] of pts) if (x > g.x && x < g.x + g.w && y > g.y && y < g.y + g.h) return true;
    return false;
  };
  for (const text of labels) {
    const empty = !text.textContent;
    if (empty) text.textContent = text.getAttribute("data-placeholder") || VALUE_PLACEHOLDER;
    const b = text.getBBox();
    const box = { x: b.x, y: b.y, w: b.width, h: b.height };
    const x0 = Number(text.getAttribute("x"));
    const y0 = Number(text.getAttribute("y"));
    let best = [0, 0];
    for (const [dx, dy] of CANDIDATES) {
      const r = { x: box.x + dx, y: box.y + dy, w: box.w, h: box.h };
      if (!taken.some((t) => overlaps(t, r)) && !crossed(r)) {
        best = [dx, dy];
        break;
      }
    }
    if (best[0] || best[1]) {
      text.setAttribute("x", String(x0 + best[0]));
      text.setAttribute("y", String(y0 + best[1]));
    }
    taken.push(grow({ x: box.x + best[0], y: box.y + best[1], w: box.w, h: box.h }, MARGIN));
    if (empty) text.textContent = "";
  }
}
