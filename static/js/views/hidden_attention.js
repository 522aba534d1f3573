// Mamba's hidden attention ("The Hidden Attention of Mamba Models", Ali, Zimerman and Wolf
// 2024): for the selected channel, the exact weight of each earlier input u_s = x_conv_s in
// the read-out y_t′, for t′ and s in the window ending at the cursor — a t × s heatmap,
// lower-triangular (the past only), D on its diagonal. Beside the gradient sensitivity: this
// is the same dependence read off the run's Δ, B and C, not through a derivative. Numbers
// from GET /api/sessions/{id}/hidden-attention only.
//
// Each cell is a `rect[data-t][data-s][data-value]`; the cursor's row is marked. A click
// on a column seeks to that step. At most one request is in flight; an answer for an older
// cursor is dropped.

import { getHiddenAttention } from "../net/api.js";
import { PALETTE_RGB, paletteIndex } from "../diagram/encode.js";
import { formatNumber } from "./math_text.js";

const NS = "http://www.w3.org/2000/svg";
const SIZE = 300;
const PAD = 34;
const WINDOW = 32; // steps on each axis

const node = (name, attrs = {}) => {
  const n = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  return n;
};

/** The view in `host` (shown only for a Mamba session). */
export function createHiddenAttentionView(host, { onSeek, onError }) {
  const svg = node("svg", { viewBox: `0 0 ${SIZE + PAD + 8} ${SIZE + PAD + 8}`, role: "img", class: "attention-map" });
  const cells = node("g", { class: "attention-cells" });
  const axes = node("g", { class: "attention-axes" });
  svg.append(cells, axes);
  const caption = document.createElement("p");
  caption.className = "hint attention-caption";
  host.querySelector(".attention-host").replaceChildren(svg, caption);
  let asked = 0;
  let inFlight = false;
  let wanted = null;
  let shown = "";

  svg.addEventListener("click", (ev) => {
    const cell = ev.target.closest?.("[data-s]");
    if (cell) onSeek(Number(cell.getAttribute("data-s")));
  });

  function draw(r) {
    const n = r.weights.length;
    const d = SIZE / n;
    const top = Math.max(1e-12, ...r.weights.flat().map(Math.abs));
    cells.replaceChildren();
    axes.replaceChildren();
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        const v = r.weights[i][j];
        const [red, g, b] = PALETTE_RGB[paletteIndex(v / top, true)];
        cells.append(node("rect", {
          x: (PAD + j * d).toFixed(2), y: (4 + i * d).toFixed(2), width: d.toFixed(2), height: d.toFixed(2),
          fill: `rgb(${red},${g},${b})`, "data-t": r.start + i, "data-s": r.start + j, "data-value": v.toPrecision(8),
          class: i === n - 1 ? "cursor-row" : "",
        }));
      }
    }
    const label = (x, y, text, anchor = "middle") => {
      const t = node("text", { x, y, "text-anchor": anchor });
      t.textContent = text;
      axes.append(t);
    };
    label(PAD - 4, 4 + d / 2 + 3, `t′ = ${r.start}`, "end");
    label(PAD - 4, 4 + SIZE - d / 2 + 3, `${r.t}`, "end");
    label(PAD + d / 2, SIZE + 18, `s = ${r.start}`, "start");
    label(PAD + SIZE - d / 2, SIZE + 18, `${r.t}`, "end");
    svg.setAttribute("aria-label", `Hidden attention of channel ${r.channel}: how much each input `
      + `u_s (columns, steps ${r.start}–${r.t}) weighs in each read-out y_t′ (rows); colour scale ±${formatNumber(top, 3)}`);
    const row = r.weights[n - 1];
    const strongest = row.reduce((best, v, j) => (Math.abs(v) > Math.abs(row[best]) ? j : best), 0);
    caption.textContent = `Channel ${r.channel}: y_${r.t} = Σ_s α_{${r.t},s} u_s`
      + `${r.from_state[n - 1] ? " + what the state before step " + r.start + " carries" : ""}; `
      + `its largest weight is on step ${r.start + strongest} (${formatNumber(row[strongest], 4)}). Click a column to go to that step.`;
    host.dataset.t = String(r.t);
    host.dataset.channel = String(r.channel);
    host.dataset.start = String(r.start);
  }

  async function ask(q) {
    const my = ++asked;
    inFlight = true;
    try {
      const r = await getHiddenAttention(q.id, q.t, q.channel, WINDOW, q.part);
      if (my === asked) draw(r);
    } catch (err) {
      onError(err);
    } finally {
      inFlight = false;
      if (wanted) {
        const next = wanted;
        wanted = null;
        ask(next);
      }
    }
  }

  return {
    keys: ["session", "frame", "unit"],
    update(s) {
      const session = s.session;
      const mamba = Boolean(session?.dims && session.cell === "mamba");
      host.hidden = !mamba;
      if (!mamba || !s.frame) return;
      const channel = Math.min(s.unit, session.dims.E - 1);
      const key = `${session.id}|${session.layer}|${session.direction}|${s.frame.t}|${channel}`;
      if (key === shown) return;
      shown = key;
      const q = { id: session.id, t: s.frame.t, channel, part: session };
      if (inFlight) wanted = q;
      else ask(q);
    },
  };
}
