// The bank: every channel of a Mamba layer at the cursor's step, one pixel row per channel
// and three columns — its mean log-retention (mean over its N states of log exp(Δ_t A):
// 0 keeps everything), its write strength ‖Δ_t B_t u_t‖ and its read-out y_t. At 1,536
// channels × 16 states a drawing of valves cannot show a layer; this picture can, and a
// click on a row selects that channel for the drill-down. Rows sort by channel or by a
// column (display order only). Every number is the engine's (`retention`,
// `write_strength`, `y` of the frame); each row also carries them as data attributes.

import { GATE_RGB, PALETTE_RGB, gateIndex, paletteIndex } from "../diagram/encode.js";
import { formatNumber } from "./math_text.js";

export const BANK_COLUMNS = [
  { signal: "retention", title: "mean log-retention", attr: "retention" },
  { signal: "write_strength", title: "write strength", attr: "write" },
  { signal: "y", title: "output y_t", attr: "value" },
];

// colour of a value in its column: retention ≤ 0 on the gate scale as exp(mean log) (1 =
// keeps all: dark), write strength ≥ 0 squashed onto the gate scale, y diverging by sign
const COLOURS = {
  retention: (v) => GATE_RGB[gateIndex(Math.exp(v))],
  write_strength: (v) => GATE_RGB[gateIndex(v / (1 + v))],
  y: (v) => PALETTE_RGB[paletteIndex(v, false)],
};

/** The bank view in `host` (shown only for a Mamba session); `onUnit(channel)` on a click. */
export function createBankView(host, { onUnit }) {
  const sort = host.querySelector("#bank-sort");
  const canvas = host.querySelector("canvas.bank-image");
  const rowsEl = host.querySelector(".bank-rows");
  const caption = host.querySelector(".bank-selected");
  const draw = canvas.getContext("2d");
  let order = [];
  let shownKey = "";

  canvas.addEventListener("click", (ev) => {
    const box = canvas.getBoundingClientRect();
    const row = Math.floor(((ev.clientY - box.top) / box.height) * order.length);
    if (row >= 0 && row < order.length) onUnit(order[row]);
  });

  function orderOf(frame, E, by) {
    const channels = Array.from({ length: E }, (_, c) => c);
    if (by === "channel") return channels;
    const vec = frame.signals[by];
    return channels.sort((a, b) => vec[b] - vec[a] || a - b); // largest first
  }

  function rows(E) {
    while (rowsEl.childElementCount > E) rowsEl.lastElementChild.remove();
    while (rowsEl.childElementCount < E) rowsEl.append(document.createElement("span"));
    return rowsEl.children;
  }

  return {
    now: true,
    keys: ["session", "frame", "unit", "bank_sort"],
    update(s) {
      const session = s.session;
      const mamba = Boolean(session?.dims && session.signals.some((x) => x.name === "write_strength"));
      host.hidden = !mamba;
      if (!mamba || !s.frame) return;
      const E = session.dims.E;
      const by = s.bank_sort || "channel";
      if (sort.value !== by) sort.value = by;
      const frame = s.frame;
      order = orderOf(frame, E, by);
      const key = `${session.id}|${frame.t}|${frame.seq}|${by}|${s.unit}`;
      if (key === shownKey) return;
      shownKey = key;
      canvas.width = BANK_COLUMNS.length;
      canvas.height = E;
      const image = draw.createImageData(BANK_COLUMNS.length, E);
      const items = rows(E);
      order.forEach((c, row) => {
        BANK_COLUMNS.forEach((col, k) => {
          const [r, g, b] = COLOURS[col.signal](frame.signals[col.signal][c]);
          const o = 4 * (row * BANK_COLUMNS.length + k);
          image.data.set([r, g, b, 255], o);
        });
        const item = items[row];
        item.dataset.channel = String(c);
        item.dataset.row = String(row);
        for (const col of BANK_COLUMNS) item.dataset[col.attr] = frame.signals[col.signal][c].toFixed(6);
        item.classList.toggle("selected", c === s.unit);
      });
      draw.putImageData(image, 0, 0);
      const c = Math.min(s.unit, E - 1);
      host.dataset.t = String(frame.t);
      host.dataset.unit = String(c);
      caption.dataset.channel = String(c);
      caption.dataset.value = frame.signals.y[c].toFixed(6);
      caption.textContent = `channel ${c} (row ${order.indexOf(c)} of ${E}, sorted by ${by}): `
        + BANK_COLUMNS.map((col) => `${col.title} ${formatNumber(frame.signals[col.signal][c], 4)}`).join(", ");
      canvas.setAttribute("aria-label", `Every channel of this layer at step ${frame.t}, one row each, `
        + `sorted by ${by}: ${BANK_COLUMNS.map((col) => col.title).join(", ")}`);
    },
  };
}
