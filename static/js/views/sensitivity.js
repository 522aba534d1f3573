// Sensitivity through time: for the cursor's (t, unit), how much each earlier step s still
// matters to of_t[unit] — ‖∂/∂x_s‖, ‖∂/∂h_s‖ and, where the kind has a cell state, the cell
// path ‖∂/∂c_s‖ (Written Memories, r2rt 2016: the RNN's sensitivity vanishes, the LSTM's
// cell path keeps it while f ≈ 1). Numbers come from GET /api/sessions/{id}/sensitivity
// only; the page draws them on a log scale and does no cell math.
//
// One element per step, `[data-step][data-value]` (data-value: the h path), with the x and
// c norms in `data-x` / `data-c` and the three as its hover text (<title>); a step axis
// (`.sens-steps-axis`, a few round steps) under the bars. Clicking a step seeks there. Requests follow the cursor;
// an answer to an older cursor is dropped (a counter), and at most one request is in flight.

import { getSensitivity } from "../net/api.js";

const NS = "http://www.w3.org/2000/svg";
// the chart is as wide as its place (the dock beside the diagram is narrow), so that its
// labels keep their size on screen; at least MIN_WIDTH
const MIN_WIDTH = 300;
const HEIGHT = 170;
const PAD = { left: 46, right: 8, top: 8, bottom: 22 };
const FLOOR = 1e-8; // the log axis starts here; smaller norms sit on it
const PATHS = [
  { key: "x", label: "‖∂/∂x_s‖ input", cls: "sens-x" },
  { key: "h", label: "‖∂/∂h_s‖ hidden path", cls: "sens-h" },
  { key: "c", label: "‖∂/∂c_s‖ cell path", cls: "sens-c" },
];

const el = (name, attrs = {}) => {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
};

/** The sensitivity view in `host`; `onSeek(t)` when a step is clicked, `onResult(r)` with
 *  every answer shown (the diagram colours pipes from it). */
export function createSensitivityView(host, { onSeek, onResult, onError }) {
  let width = MIN_WIDTH;
  const svg = el("svg", { viewBox: `0 0 ${width} ${HEIGHT}`, role: "img", class: "sens-chart",
    "aria-label": "How much each earlier step still matters, log scale" });
  const axis = el("g", { class: "sens-axis" });
  const lines = Object.fromEntries(PATHS.map((p) => [p.key, el("polyline", { class: `sens-line ${p.cls}` })]));
  const steps = el("g", { class: "sens-steps" });
  const stepAxis = el("g", { class: "sens-axis sens-steps-axis" });
  svg.append(axis, stepAxis, ...Object.values(lines), steps);
  const caption = document.createElement("p");
  caption.className = "hint sens-caption";
  caption.setAttribute("aria-live", "off");
  host.replaceChildren(svg, caption);

  let asked = 0; // the counter of the latest request
  let inFlight = false;
  let wanted = null; // {id, t, unit, of} waiting for the one in flight
  let shown = null;

  svg.addEventListener("click", (ev) => {
    const node = ev.target.closest?.("[data-step]");
    if (node) onSeek(Number(node.getAttribute("data-step")));
  });

  function drawAxis(top) {
    axis.replaceChildren();
    const decades = Math.round(Math.log10(top / FLOOR));
    for (let d = 0; d <= decades; d += 2) {
      const v = FLOOR * 10 ** d;
      const y = yOf(v, top);
      axis.append(el("line", { x1: PAD.left, x2: width - PAD.right, y1: y, y2: y }));
      const label = el("text", { x: PAD.left - 4, y: y + 3, "text-anchor": "end" });
      label.textContent = `1e${Math.round(Math.log10(v))}`;
      axis.append(label);
    }
  }

  /** About six round steps from `start` to `end`, labelled under the bars. */
  function drawStepAxis(start, end, xOf) {
    stepAxis.replaceChildren();
    const span = Math.max(1, end - start);
    const raw = span / 6;
    const unit = 10 ** Math.floor(Math.log10(Math.max(1, raw)));
    const every = [1, 2, 5, 10].map((m) => m * unit).find((m) => m >= raw) ?? 10 * unit;
    for (let s = Math.ceil(start / every) * every; s <= end; s += every) {
      const label = el("text", { x: xOf(s - start).toFixed(1), y: HEIGHT - 6, "text-anchor": "middle" });
      label.textContent = String(s);
      stepAxis.append(label);
    }
    const name = el("text", { x: PAD.left - 4, y: HEIGHT - 6, "text-anchor": "end" });
    name.textContent = "step s";
    stepAxis.append(name);
  }

  const yOf = (v, top) => {
    const lv = Math.log10(Math.max(FLOOR, v));
    const frac = (lv - Math.log10(FLOOR)) / (Math.log10(top) - Math.log10(FLOOR));
    return PAD.top + (1 - Math.min(1, frac)) * (HEIGHT - PAD.top - PAD.bottom);
  };

  function draw(r) {
    width = Math.max(MIN_WIDTH, Math.round(host.clientWidth || MIN_WIDTH));
    svg.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
    const n = r.h.length;
    const all = [...r.x, ...r.h, ...(r.c ?? [])].filter((v) => v > 0);
    const top = 10 ** Math.max(0, Math.ceil(Math.log10(Math.max(1, ...all))));
    drawAxis(top);
    const dx = (width - PAD.left - PAD.right) / Math.max(1, n);
    const xOf = (k) => PAD.left + (k + 0.5) * dx;
    for (const p of PATHS) {
      const values = r[p.key];
      lines[p.key].setAttribute("points", values ? values.map((v, k) => `${xOf(k).toFixed(1)},${yOf(v, top).toFixed(1)}`).join(" ") : "");
    }
    // one element per step: reuse the nodes there are
    while (steps.childNodes.length > n) steps.lastChild.remove();
    while (steps.childNodes.length < n) {
      const g = el("g", { class: "sens-step" });
      g.append(el("rect", { class: "sens-hit" }), el("rect", { class: "sens-bar" }), el("title"));
      steps.append(g);
    }
    drawStepAxis(r.start, r.start + n - 1, xOf);
    const base = yOf(FLOOR, top);
    for (let k = 0; k < n; k++) {
      const g = steps.childNodes[k];
      const s = r.start + k;
      g.setAttribute("data-step", String(s));
      g.setAttribute("data-value", r.h[k].toPrecision(8));
      g.setAttribute("data-x", r.x[k].toPrecision(8));
      if (r.c) g.setAttribute("data-c", r.c[k].toPrecision(8));
      else g.removeAttribute("data-c");
      g.classList.toggle("cursor", s === r.t);
      const [hit, bar, title] = g.childNodes;
      title.textContent = `step ${s}: ${PATHS.filter((p) => r[p.key]).map((p) => `${p.label} ${r[p.key][k].toPrecision(4)}`).join(", ")}`;
      const x0 = PAD.left + k * dx;
      hit.setAttribute("x", x0.toFixed(1));
      hit.setAttribute("y", String(PAD.top));
      hit.setAttribute("width", Math.max(1, dx).toFixed(2));
      hit.setAttribute("height", String(HEIGHT - PAD.top - PAD.bottom));
      const y = yOf(r.h[k], top);
      bar.setAttribute("x", (x0 + dx * 0.2).toFixed(1));
      bar.setAttribute("width", Math.max(0.5, dx * 0.6).toFixed(2));
      bar.setAttribute("y", y.toFixed(1));
      bar.setAttribute("height", Math.max(0, base - y).toFixed(1));
    }
    const of = r.of === "c" ? "c" : "h";
    caption.textContent = `How much ${of}_${r.t}[${r.unit}] still depends on steps ${r.start}…${r.t} `
      + `(log scale; bars: the hidden path; lines: ${PATHS.filter((p) => r[p.key]).map((p) => p.label).join(", ")}). Click a step to go there.`;
    svg.dataset.t = String(r.t);
    svg.dataset.unit = String(r.unit);
    svg.dataset.of = r.of;
    host.dataset.t = String(r.t);
    host.dataset.of = r.of;
  }

  async function fetchNow(req) {
    inFlight = true;
    const mine = ++asked;
    try {
      const r = await getSensitivity(req.id, req.t, req.unit, req.of, req.part);
      if (mine === asked && !wanted) {
        shown = r;
        draw(r);
        onResult?.(r);
      }
    } catch (err) {
      onError?.(err);
    } finally {
      inFlight = false;
      if (wanted) {
        const next = wanted;
        wanted = null;
        fetchNow(next);
      }
    }
  }

  /** Follow the store: the session on screen, its cursor and unit, and "Sensitivity of". */
  function update(state) {
    const s = state.session;
    const t = state.frame?.t ?? state.t;
    if (!s) return;
    const of = state.sens_of === "c" && s.signals.some((x) => x.name === "c") ? "c" : "h";
    if (of === "h" && s.proj_size && state.unit >= s.proj_size) {
      // an LSTM with proj_size: h has P values, the unit picker spans H (m_t and c_t)
      shown = null;
      asked += 1; // an answer still in flight is of another unit
      wanted = null;
      delete host.dataset.session;
      svg.style.display = "none";
      caption.textContent = `No sensitivity of h_t[${state.unit}]: h_t has P = ${s.proj_size} values here (proj_size). `
        + `Pick a unit below ${s.proj_size}, or “Sensitivity of” c, which has all ${s.hidden_size}.`;
      return;
    }
    svg.style.display = "";
    // a model's cell on screen (views/model_parts.js): its own steps and units
    const part = { layer: s.layer, direction: s.direction };
    const partKey = `${part.layer}/${part.direction}`;
    const req = { id: s.id, t, unit: state.unit, of, part };
    if (shown && shown.t === t && shown.unit === req.unit && shown.of === of && host.dataset.session === s.id
      && host.dataset.part === partKey) return;
    host.dataset.session = s.id;
    host.dataset.part = partKey;
    if (inFlight) wanted = req;
    else fetchNow(req);
  }

  return { update, result: () => shown };
}
