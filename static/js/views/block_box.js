// The block box ([data-view="block-box"]): in a residual language model (minLM, Mamba,
// xLSTM), the non-recurrent parts around the drawn layer's cell framed as one box around
// the diagram. Above it the stream flows in, through the optional causal convolution
// (added to the stream) and the norm whose output the cell reads; below it the cell's
// output (projected back to the stream's width), the residual add, the optional
// feed-forward and the stream out. Each part shows channel e of its row at the cursor's
// step, as the server computed it (the trace route's `block.*` rows, in `data-value`);
// the page computes nothing.
//
// The diagram's host is moved inside the box while a block is drawn and back out when
// not, so a session without blocks keeps the page exactly as it was.

import { getTrace } from "../net/api.js";
import { partKey } from "../state/parts.js";
import { formatNumber } from "./math_text.js";

const WINDOW_STEPS = 256; // steps of rows fetched around the cursor
const WINDOW_NUMBERS = 60_000; // at most this many numbers per fetch (a wide stream: fewer steps)

// The parts of a block in the order the stream meets them (cells.models.blocks.SIGNALS),
// above or below the cell; `label` and `says` may read the block's description.
const PARTS = [
  { signal: "block_in", side: "before", label: () => "stream in", says: () => "x_t, the residual stream this block reads" },
  { signal: "conv", side: "before", label: () => "causal conv", says: () => "conv(x)_t, a causal depthwise convolution of the stream, added to it: u_t = x_t + conv(x)_t" },
  { signal: "norm", side: "before", label: (b) => (b.options.norm === "layer" ? "LayerNorm" : "RMSNorm"), says: () => "a_t = norm(u_t): what the cell reads" },
  { signal: "cell_out", side: "after", label: (b) => (b.parts.includes("out") ? "out projection" : "cell output"), says: (b) => (b.parts.includes("out") ? "W_out·h_t: the cell's output projected back to the stream's width" : "the cell's output h_t") },
  { signal: "residual", side: "after", label: () => "+ residual", says: () => "v_t = u_t + the cell's output: the residual add" },
  { signal: "ff", side: "after", label: () => "feed-forward", says: (b) => `ff_t = down(${b.options.ff_activation}(up(ff_norm(v_t)))): the feed-forward sub-block, added to the stream` },
  { signal: "block_out", side: "after", label: () => "stream out", says: (b) => (b.parts.includes("ff") ? "y_t = v_t + ff_t, the stream the next layer reads" : "y_t = v_t, the stream the next layer reads") },
];

const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

/** The block around the drawn part's cell, or null (a single cell, a layer without one). */
const blockOf = (session) => session?.record?.blocks?.[session.layer] ?? null;

export function createBlockBox() {
  const host = document.querySelector("#diagram-host");
  const frame = el("section", { className: "block-frame" });
  frame.dataset.view = "block-box";
  frame.setAttribute("aria-labelledby", "block-box-title");
  frame.setAttribute("aria-describedby", "block-box-legend");
  const title = el("h2", { id: "block-box-title", className: "block-title" });
  const legend = el("p", { id: "block-box-legend", className: "hint block-legend" });
  const channel = el("input", { id: "block-channel", type: "number", min: "0", step: "1", value: "0" });
  const channelLabel = el("label", { htmlFor: "block-channel", className: "block-channel" }, "Stream channel ", channel);
  const before = el("ol", { className: "block-row block-before" });
  const after = el("ol", { className: "block-row block-after" });
  before.setAttribute("aria-label", "Before the cell");
  after.setAttribute("aria-label", "After the cell");
  const head = el("div", { className: "block-head" }, title, channelLabel);
  frame.append(head, legend, before, after);

  let shown = ""; // the part whose box is built
  let block = null;
  let values = new Map(); // signal -> the value element
  let win = null; // {key, start, stop, rows: {name: [[...]]}}
  let asked = "";
  let refused = ""; // the part whose rows the server refused
  let e = 0; // the stream channel shown
  let followUnit = true; // the channel follows the selected unit until one is typed
  let last = null; // the state last drawn

  channel.addEventListener("change", () => {
    const E = block?.width ?? 1;
    e = Math.max(0, Math.min(E - 1, Math.round(Number(channel.value) || 0)));
    channel.value = String(e);
    followUnit = false;
    if (last) paint(last);
  });

  function place(on) {
    if (on && host.parentElement !== frame) {
      host.replaceWith(frame);
      before.after(host);
    } else if (!on && frame.isConnected) {
      frame.replaceWith(host);
    }
  }

  function build(session) {
    block = blockOf(session);
    win = null;
    asked = "";
    refused = "";
    place(Boolean(block));
    if (!block) return;
    followUnit = true;
    channel.max = String(block.width - 1);
    const isLast = session.layer === session.record.blocks.length - 1;
    title.textContent = `Block around layer ${session.layer}'s cell`;
    legend.textContent = `The parts of layer ${session.layer} that are not recurrent, as one box around its cell (the diagram): the residual stream (${block.width} channels) flows in at the top${
      block.parts.includes("conv") ? ", through a causal convolution added to it" : ""}, through the ${
      block.options.norm === "layer" ? "LayerNorm" : "RMSNorm"} whose output the cell reads, and out at the bottom: the cell's output${
      block.parts.includes("out") ? " projected back to the stream" : ""}, added to the stream (the residual)${
      block.parts.includes("ff") ? ", then a feed-forward added to it" : ""}${
      isLast && session.record.final_norm ? `; after this last layer the head reads the stream through a final ${session.record.final_norm === "layer" ? "LayerNorm" : "RMSNorm"}` : ""}. Each number is the chosen stream channel's value at the current step, as the server computed it.`;
    values = new Map();
    const item = (part) => {
      const value = el("span", { className: "block-value" }, "—");
      value.dataset.signal = `block.${part.signal}`;
      values.set(part.signal, value);
      const li = el("li", { className: "block-part", tabIndex: 0, title: part.says(block) },
        el("span", { className: "block-label" }, part.label(block)), " ", value,
        el("span", { className: "visually-hidden" }, `: ${part.says(block)}`));
      li.dataset.part = part.signal;
      return li;
    };
    const drawn = PARTS.filter((p) => block.signals.includes(p.signal));
    before.replaceChildren(...drawn.filter((p) => p.side === "before").map(item),
      el("li", { className: "block-reads" }, "↓ the cell reads it"));
    after.replaceChildren(...drawn.filter((p) => p.side === "after").map(item));
  }

  /** Fetch the rows of a window around step t (once per window). */
  async function fetchAround(session, t) {
    const key = partKey(session);
    const wanted = `${key}|${t}`;
    if (refused === key || (asked && asked.startsWith(`${key}|`))) return; // one fetch at a time
    const names = block.names;
    const steps = Math.max(1, Math.min(WINDOW_STEPS, Math.floor(WINDOW_NUMBERS / (names.length * block.width))));
    const start = Math.max(0, Math.min(t - Math.floor(steps / 2), session.steps - steps));
    const stop = Math.min(session.steps, start + steps);
    asked = wanted;
    try {
      const got = await getTrace(session.id, start, stop, names, session);
      if (partKey(last?.session) === key) win = { key, start, stop, rows: got.signals };
    } catch {
      refused = key; // the session is gone: dashes, and no more asks until another is drawn
      return;
    } finally {
      if (asked === wanted) asked = "";
    }
    if (last && partKey(last.session) === key) paint(last);
  }

  function paint(state) {
    const t = state.frame?.t ?? state.t;
    if (followUnit && state.unit < block.width) e = state.unit;
    if (document.activeElement !== channel) channel.value = String(e); // not under typing
    const key = partKey(state.session);
    const ready = win && win.key === key && t >= win.start && t < win.stop;
    frame.dataset.channel = String(e);
    if (!ready) {
      frame.dataset.t = "";
      for (const value of values.values()) {
        value.textContent = "—";
        delete value.dataset.value;
      }
      if (Number.isInteger(t) && t >= 0) fetchAround(state.session, t);
      return;
    }
    for (const [signal, value] of values) {
      const number = win.rows[`block.${signal}`][t - win.start][e];
      value.dataset.value = String(number);
      value.textContent = formatNumber(number, 4);
    }
    frame.dataset.t = String(t);
  }

  return {
    now: true, // a few text nodes: moved with the diagram in the same task
    keys: ["session", "frame", "unit"],
    update(state) {
      last = state;
      const key = state.session ? `${partKey(state.session)}|${state.session.steps}` : "";
      if (key !== shown) {
        shown = key;
        build(state.session);
      }
      if (block) paint(state);
    },
  };
}
