// The one renderer: draws any layout (plain data: boxes, pipes, nodes, labels, strips)
// into an SVG once, then `update(state)` binds the displayed frame to it — colour, width,
// valve opening, strips, data-value — for the selected unit and stage.

import { formatNumber } from "../views/math_text.js";
import { PALETTE_RGB, paletteIndex, pipeWidth, signClass } from "./encode.js";
import { addDefs, el, mathLabel, polyline } from "./svg.js";

const STRIP_COLS = 32;

/** Set text only when it differs (a same-value write still costs a relayout). */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/**
 * Draw `layout` into `host`. ctx: {style, kind, session, signals: [Signal dicts],
 * stages: [names], hidden, input, onHover(name|null), onFocus(name), onUnit(k)}.
 */
export function renderDiagram(host, layout, ctx) {
  const meta = Object.fromEntries(ctx.signals.map((s) => [s.name, s]));
  const stageIndex = (name) => ctx.stages.indexOf(meta[name]?.stage);
  const bounded = (name) => Array.isArray(meta[name]?.range);
  const sizeOf = (name) => (meta[name]?.size === "input" ? ctx.input : ctx.hidden);

  host.replaceChildren();
  const [w, h] = layout.viewBox;
  const svg = el(host, "svg", {
    viewBox: `0 0 ${w} ${h}`, class: `diagram ${layout.style}`, role: "group",
    "aria-label": layout.title, "data-diagram": ctx.style, "data-cell": ctx.kind,
    "data-t": "", "data-unit": "0", "data-session": ctx.session,
  });
  addDefs(svg);
  const groups = Object.fromEntries(
    ["boxes", "pipes", "nodes", "labels", "strips"].map((g) => [g, el(svg, "g", { class: g })]),
  );

  const pipes = [];
  const valves = [];
  const strips = [];
  const staged = [];
  const stagedEl = (node, signal, stage) => {
    const k = stage ? ctx.stages.indexOf(stage) : stageIndex(signal);
    if (k >= 0) staged.push({ node, k });
  };

  for (const b of layout.boxes || []) {
    el(groups.boxes, "rect", { x: b.x, y: b.y, width: b.w, height: b.h, rx: 14, class: `box ${b.cls || ""}` });
    const [tx, ty, anchor] = b.titleAt || [b.x + 12, b.y + 20, "start"];
    if (b.title) mathLabel(groups.boxes, tx, ty, b.title, { class: `box-title ${b.cls || ""}`, "text-anchor": anchor });
  }

  for (const p of layout.pipes || []) {
    const known = p.signal && meta[p.signal];
    const d = polyline(p.points);
    const g = el(groups.pipes, "g", { class: `pipe ${p.cls || ""} ${p.identity ? `id-${p.identity}` : ""}` });
    el(g, "path", { d, class: "casing" });
    const path = el(g, "path", {
      d, class: "flow zero", "marker-end": p.arrow === false ? null : `url(#gs-${p.faded ? "arrow-faded" : "arrow"})`,
    });
    if (known) {
      path.setAttribute("data-signal", p.signal);
      stagedEl(g, p.signal, p.stage);
    }
    let valueText = null;
    if (p.label) {
      const [lx, ly] = p.label.at;
      mathLabel(groups.labels, lx, ly, p.label.text, {
        class: `pipe-label ${p.identity ? `id-${p.identity}` : ""} ${p.faded ? "faded" : ""}`,
        "text-anchor": p.label.anchor || "start", "data-signal": known ? p.signal : null,
      });
    }
    if (known && p.value) {
      valueText = el(groups.labels, "text", {
        x: p.value[0], y: p.value[1], class: "value", "text-anchor": p.value[2] || "start",
      });
    }
    if (known) {
      const withValue = meta[p.signal].size !== "input";
      pipes.push({ signal: p.signal, path, valueText, withValue, bounded: bounded(p.signal), g });
    }
    if (known && p.strip) strips.push(buildStrip(p.signal, p.strip));
  }

  // A strip is one small canvas (one pixel per unit) inside a foreignObject: cheap to
  // update every step even at H = 1024, where thousands of SVG rects would not be.
  function buildStrip(signal, spec) {
    const n = sizeOf(signal);
    const cols = Math.min(n, spec.cols || STRIP_COLS);
    const rows = Math.ceil(n / cols);
    const cw = spec.w / cols;
    const ch = Math.max(3, Math.min(cw, 9));
    const [x0, y0] = spec.at;
    const g = el(groups.strips, "g", { class: "strip", "data-signal": signal, "data-strip": signal });
    stagedEl(g, signal, spec.stage);
    el(g, "rect", { x: x0 - 0.5, y: y0 - 0.5, width: spec.w + 1, height: rows * ch + 1, class: "strip-frame" });
    const holder = el(g, "foreignObject", { x: x0, y: y0, width: spec.w, height: rows * ch });
    const canvas = document.createElementNS("http://www.w3.org/1999/xhtml", "canvas");
    canvas.width = cols;
    canvas.height = rows;
    canvas.className = "strip-image";
    holder.appendChild(canvas);
    const image = canvas;
    const sel = el(g, "rect", { class: "strip-selected", width: cw + 1, height: ch + 1 });
    el(g, "title").textContent = `${meta[signal].label}: ${n} units — click one to select it`;
    const strip = {
      signal, n, image, canvas, ctx: canvas.getContext("2d"), pixels: null, last: "",
      sel, cols, cw, ch, x0, y0, bounded: bounded(signal),
    };
    strip.pixels = strip.ctx.createImageData(cols, rows);
    image.addEventListener("click", (ev) => {
      const box = image.getBoundingClientRect();
      const col = Math.floor(((ev.clientX - box.left) / box.width) * cols);
      const row = Math.floor(((ev.clientY - box.top) / box.height) * rows);
      const k = row * cols + col;
      if (k >= 0 && k < n) ctx.onUnit(k);
      ev.stopPropagation();
    });
    return strip;
  }

  function paintStrip(s, vec) {
    const data = s.pixels.data;
    let key = "";
    for (let k = 0; k < s.n; k += 1) {
      const idx = paletteIndex(vec[k], s.bounded);
      key += String.fromCharCode(65 + idx);
      const [r, gg, b] = PALETTE_RGB[idx];
      const o = 4 * k;
      data[o] = r;
      data[o + 1] = gg;
      data[o + 2] = b;
      data[o + 3] = 255;
    }
    if (key === s.last) return; // same colours as on screen
    s.last = key;
    s.ctx.putImageData(s.pixels, 0, 0);
  }

  for (const n of layout.nodes || []) {
    const known = n.signal && meta[n.signal];
    if (n.type === "valve") {
      const g = el(groups.nodes, "g", { class: "valve", transform: `translate(${n.x},${n.y})` });
      el(g, "circle", { r: 17, class: "valve-body" });
      const fill = el(g, "circle", { r: 15, class: "valve-fill" });
      const disc = el(g, "rect", { x: -14, y: -3, width: 28, height: 6, rx: 3, class: "valve-disc" });
      el(g, "circle", { r: 2.6, class: "valve-dot" });
      el(g, "title").textContent = `${n.name || "valve"} (⊙): opening = ${meta[n.signal]?.label ?? n.signal}`;
      let valueText = null;
      if (n.value) {
        valueText = el(groups.labels, "text", {
          x: n.value[0], y: n.value[1], class: "value valve-value", "text-anchor": n.value[2] || "start",
        });
      }
      if (known) {
        g.setAttribute("data-signal", n.signal);
        stagedEl(g, n.signal, n.stage);
        valves.push({ signal: n.signal, g, fill, disc, valueText, base: n.flow === "v" ? 90 : 0, invert: Boolean(n.invert) });
      }
      if (n.caption) mathLabel(groups.labels, n.caption[0], n.caption[1], n.caption[2], { class: "node-caption", "text-anchor": "middle" });
      continue;
    }
    const g = el(groups.nodes, "g", {
      class: `node ${n.type} ${n.cls || ""}`, transform: `translate(${n.x},${n.y})`,
      "data-signal": known ? n.signal : null,
    });
    if (known) stagedEl(g, n.signal, n.stage);
    if (n.type === "layer" || n.type === "box") {
      const bw = n.w || 64;
      const bh = n.h || 40;
      el(g, "rect", { x: -bw / 2, y: -bh / 2, width: bw, height: bh, rx: 6 });
    } else if (n.type === "cell") {
      el(g, "circle", { r: n.r || 55 });
    } else if (n.type === "op") {
      const r = n.r || (String(n.text).length > 1 ? 23 : 13);
      el(g, "ellipse", { rx: r, ry: 13 });
    }
    mathLabel(g, 0, 1, n.text, { class: "node-text", "text-anchor": "middle", "dominant-baseline": "middle" });
    if (n.caption) mathLabel(groups.labels, n.caption[0], n.caption[1], n.caption[2], { class: "node-caption", "text-anchor": n.caption[3] || "middle" });
    if (known) el(g, "title").textContent = meta[n.signal].description || meta[n.signal].label;
  }

  for (const t of layout.texts || []) {
    mathLabel(groups.labels, t.at[0], t.at[1], t.text, { class: `free-label ${t.cls || ""}`, "text-anchor": t.anchor || "start" });
  }

  // Interaction: hover shows an equation, click pins it, a strip cell selects its unit.
  svg.addEventListener("pointerover", (ev) => {
    const node = ev.target.closest?.("[data-signal]");
    ctx.onHover(node ? node.getAttribute("data-signal") : null);
  });
  svg.addEventListener("pointerleave", () => ctx.onHover(null));
  svg.addEventListener("click", (ev) => {
    const cell = ev.target.closest?.("[data-unit-index]");
    if (cell) {
      ctx.onUnit(Number(cell.getAttribute("data-unit-index")));
      return;
    }
    const node = ev.target.closest?.("[data-signal]");
    if (node) ctx.onFocus(node.getAttribute("data-signal"));
  });

  let lastStage = null;
  let lastUnit = -1;

  // Attributes are written only when they change: an unchanged write still costs style
  // work, and a step should touch only what moved.
  const setAttr = (node, name, value) => {
    if (node.getAttribute(name) !== value) node.setAttribute(name, value);
  };

  function update(state) {
    const frame = state.frame;
    if (!frame) return;
    const unit = state.unit;
    const sig = frame.signals;
    for (const p of pipes) {
      const v = p.withValue ? sig[p.signal]?.[unit] : undefined;
      if (v === p.v) continue;
      p.v = v;
      if (v === undefined) {
        if (p.cls !== "flow zero") p.path.setAttribute("class", (p.cls = "flow zero"));
        p.path.style.strokeWidth = "";
        p.path.removeAttribute("data-value");
        if (p.valueText) setText(p.valueText, "");
        continue;
      }
      const cls = `flow ${signClass(v)}`;
      if (p.cls !== cls) p.path.setAttribute("class", (p.cls = cls));
      const width = pipeWidth(v, p.bounded).toFixed(2);
      if (p.width !== width) p.path.style.strokeWidth = (p.width = width);
      p.path.setAttribute("data-value", v.toFixed(6));
      if (p.valueText) setText(p.valueText, formatNumber(v));
    }
    for (const vv of valves) {
      const v = sig[vv.signal]?.[unit];
      if (v === undefined || v === vv.v) continue;
      vv.v = v;
      // An inverted valve opens by 1 − gate (the GRU's write valve): display mapping only.
      const open = Math.max(0, Math.min(1, vv.invert ? 1 - v : v));
      const turn = `rotate(${(vv.base + (1 - open) * 90).toFixed(1)})`;
      if (vv.turn !== turn) vv.disc.setAttribute("transform", (vv.turn = turn));
      const opacity = (0.15 + 0.85 * open).toFixed(3);
      if (vv.opacity !== opacity) vv.fill.style.opacity = (vv.opacity = opacity);
      vv.g.setAttribute("data-value", v.toFixed(6));
      if (vv.valueText) setText(vv.valueText, formatNumber(v));
    }
    for (const s of strips) {
      const vec = sig[s.signal];
      if (!vec) continue;
      paintStrip(s, vec);
      if (unit !== lastUnit) {
        const u = Math.min(unit, s.n - 1);
        s.sel.setAttribute("x", s.x0 + (u % s.cols) * s.cw - 0.5);
        s.sel.setAttribute("y", s.y0 + Math.floor(u / s.cols) * s.ch - 0.5);
        s.sel.style.display = unit < s.n ? "" : "none";
      }
    }
    if (state.stage !== lastStage) {
      const cur = state.stage === "all" ? Infinity : ctx.stages.indexOf(state.stage);
      for (const { node, k } of staged) {
        node.classList.toggle("pending", k > cur);
        node.classList.toggle("active", k === cur);
      }
      svg.classList.toggle("stage-mode", state.stage !== "all");
      lastStage = state.stage;
    }
    lastUnit = unit;
    // The hooks last, so that data-t never runs ahead of the values on screen.
    setAttr(svg, "data-unit", String(unit));
    setAttr(svg, "data-stage", state.stage);
    setAttr(svg, "data-t", String(frame.t));
  }

  return { svg, update, destroy: () => host.replaceChildren() };
}
