// The one renderer: draws any layout (plain data: boxes, pipes, nodes, labels, strips)
// into an SVG once, then `update(state)` binds the displayed frame to it — colour, width,
// valve opening, strips, data-value — for the selected unit and stage.

import { formatNumber } from "../views/math_text.js";
import { pipeWidth, signClass } from "./encode.js";
import { bindParts, plainLabel } from "./keyboard.js";
import { placeLabels } from "./place_labels.js";
import { buildStrip } from "./strips.js";
import { headView } from "./heads.js";
import { buildTank } from "./tank.js";
import { addDefs, el, mathLabel, polyline } from "./svg.js";
import { beyond, beyondMark, beyondText, lengthOf } from "./widths.js";


/** Set text only when it differs (a same-value write still costs a relayout). */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/**
 * Draw `layout` into `host`. ctx: {style, kind, session, signals: [Signal dicts],
 * stages: [names], hidden, input, projection (P of an LSTM with proj_size, else null),
 * onHover(name|null), onFocus(name), onUnit(k)}.
 */
export function renderDiagram(host, layout, ctx) {
  const meta = Object.fromEntries(ctx.signals.map((s) => [s.name, s]));
  const stageIndex = (name) => ctx.stages.indexOf(meta[name]?.stage);
  const bounded = (name) => Array.isArray(meta[name]?.range);
  const sizes = { hidden: ctx.hidden, input: ctx.input, projection: ctx.projection ?? null, dims: ctx.dims ?? null };
  // The number a part shows: its signal's at the selected unit, or, for a part drawn for
  // index `state` of a matrix signal (a Mamba's N states, its conv's delay line), that
  // entry of the selected channel: frames are row-major, E first (["E", "N"]) or last
  // (["lags", "E"]); an ["N"] signal is shared by the channels.
  const valueOf = (name, vec, unit, state) => {
    const shape = meta[name]?.shape;
    if (!vec || state === undefined || !sizes.dims || !shape) return vec?.[unit];
    if (shape.length === 1) return vec[state];
    return shape[0] === "E" ? vec[unit * sizes.dims[shape[1]] + state] : vec[state * sizes.dims.E + unit];
  };
  const sizeOf = (name) => lengthOf(meta[name], sizes);

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
  const tanks = []; // a matrix memory's heatmap (the mLSTM's C)
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
    const gate = known && meta[p.signal].kind === "gate";
    const g = el(groups.pipes, "g", { class: `pipe ${p.cls || ""} ${p.identity ? `id-${p.identity}` : ""}${gate ? " gate" : ""}` });
    el(g, "path", { d, class: "casing" });
    const path = el(g, "path", {
      d, class: "flow zero", "marker-end": p.arrow === false ? null : `url(#gs-${p.faded ? "arrow-faded" : "arrow"})`,
    });
    if (known) {
      path.setAttribute("data-signal", p.signal);
      if (p.state !== undefined) path.setAttribute("data-state", String(p.state));
      stagedEl(g, p.signal, p.stage);
    } else if (p.stage) {
      stagedEl(g, null, p.stage); // a pipe of no one number (a matrix memory's) still has its stage
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
      // the number names its caption: a test reads both and checks one against the other
      valueText = el(groups.labels, "text", {
        x: p.value[0], y: p.value[1], class: "value", "text-anchor": p.value[2] || "start",
        "data-signal": p.signal, "data-caption": p.label?.text ?? meta[p.signal].label,
        // placed for the longest text it shows: a projection's mark past its P values
        "data-placeholder": meta[p.signal].size === "projection" && sizes.projection ? beyondMark(sizes) : null,
      });
    }
    if (known) {
      const withValue = meta[p.signal].size !== "input" && !p.noValue; // noValue: a strip only
      pipes.push({ signal: p.signal, path, valueText, withValue, bounded: bounded(p.signal), g, k: stageIndex(p.signal),
        state: p.state, name: p.name });
    }
    if (known && p.strip) {
      const m = meta[p.signal];
      const strip = buildStrip(groups.strips, p.signal, p.strip, {
        n: sizeOf(p.signal), label: m.label, gate: m.kind === "gate", bounded: bounded(p.signal),
        k: stageIndex(p.signal), onUnit: ctx.onUnit,
      });
      stagedEl(strip.g, p.signal, p.strip.stage);
      strips.push(strip);
    }
  }

  for (const n of layout.nodes || []) {
    const known = n.signal && meta[n.signal];
    if (n.type === "tank" && known) {
      const tank = buildTank(groups.nodes, groups.labels, n, { k: stageIndex(n.signal), description: meta[n.signal].description });
      stagedEl(tank.g, n.signal, n.stage);
      tanks.push(tank);
      continue;
    }
    if (n.type === "valve") {
      const g = el(groups.nodes, "g", { class: "valve", transform: `translate(${n.x},${n.y})` });
      el(g, "circle", { r: 17, class: "valve-body" });
      const fill = el(g, "circle", { r: 15, class: "valve-fill" });
      const disc = el(g, "rect", { x: -14, y: -3, width: 28, height: 6, rx: 3, class: "valve-disc" });
      el(g, "circle", { r: 2.6, class: "valve-dot" });
      el(g, "title").textContent = `${n.name || "valve"} (⊙): opening = ${meta[n.signal]?.label ?? n.signal}`;
      let valueText = null;
      // An inverted valve (the GRU's write valve) opens by 1 − gate and shows that number.
      const invert = Boolean(n.invert);
      if (n.value && known) {
        valueText = el(groups.labels, "text", {
          x: n.value[0], y: n.value[1], class: "value valve-value", "text-anchor": n.value[2] || "start",
          "data-signal": n.signal, "data-caption": n.caption?.[2] ?? meta[n.signal].label,
          "data-complement": invert ? "true" : null,
        });
      }
      if (known) {
        g.setAttribute("data-signal", n.signal);
        if (invert) g.setAttribute("data-complement", "true");
        stagedEl(g, n.signal, n.stage);
        valves.push({ signal: n.signal, g, fill, disc, valueText, base: n.flow === "v" ? 90 : 0, invert, k: stageIndex(n.signal),
          name: n.name || "valve", state: n.state });
        if (n.state !== undefined) g.setAttribute("data-state", String(n.state));
      }
      if (n.caption) mathLabel(groups.labels, n.caption[0], n.caption[1], n.caption[2], { class: "node-caption", "text-anchor": n.caption[3] || "middle" });
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

  // Labels clear of each other, of the nodes and strips, and of every pipe.
  const obstacles = [];
  for (const g of groups.nodes.children) {
    const b = g.getBBox();
    const m = g.transform.baseVal.consolidate()?.matrix;
    obstacles.push({ x: b.x + (m?.e ?? 0), y: b.y + (m?.f ?? 0), w: b.width, h: b.height });
  }
  for (const f of groups.strips.querySelectorAll(".strip-frame")) {
    const b = f.getBBox();
    obstacles.push({ x: b.x, y: b.y, w: b.width, h: b.height });
  }
  const labelsInOrder = [
    ...groups.labels.querySelectorAll("text.pipe-label"), ...groups.labels.querySelectorAll("text.node-caption"),
    ...groups.labels.querySelectorAll("text.value"), ...groups.labels.querySelectorAll("text.free-label"),
    ...groups.boxes.querySelectorAll("text.box-title"),
  ];
  placeLabels(labelsInOrder, obstacles, layout.pipes || []);

  // The parts the keyboard walks: each valve, then each signal's pipe (once), in stage order.
  const seen = new Set();
  const parts = [];
  for (const vv of valves) {
    parts.push({ el: vv.g, signal: vv.signal, k: vv.k, source: vv,
      name: `${vv.name}, ${vv.invert ? "(1 − " : ""}${plainLabel(meta[vv.signal].label)}${vv.invert ? ")" : ""}` });
  }
  for (const p of pipes) {
    const key = `${p.signal}|${p.state ?? ""}`;
    if (!p.withValue || seen.has(key)) continue;
    seen.add(key);
    const m = meta[p.signal];
    parts.push({ el: p.g, signal: p.signal, k: p.k, source: p,
      name: p.name ?? plainLabel(m.label), description: m.description });
  }
  for (const t of tanks) {
    parts.push({ el: t.g, signal: t.signal, k: t.k, source: t, description: meta[t.signal].description,
      name: `memory tank ${plainLabel(meta[t.signal].label)}, the diagonal entry of the framed row` });
  }
  parts.sort((a, b) => a.k - b.k);
  const keyboard = bindParts(svg, parts, ctx.onFocus);

  // Interaction: hover shows an equation, click pins it.
  svg.addEventListener("pointerover", (ev) => {
    const node = ev.target.closest?.("[data-signal]");
    ctx.onHover(node ? node.getAttribute("data-signal") : null);
  });
  svg.addEventListener("pointerleave", () => ctx.onHover(null));
  svg.addEventListener("click", (ev) => {
    const node = ev.target.closest?.("[data-signal]");
    if (node) ctx.onFocus(node.getAttribute("data-signal"));
  });

  let lastStage = null;

  // Attributes are written only when they change: an unchanged write still costs style
  // work, and a step should touch only what moved.
  const setAttr = (node, name, value) => {
    if (node.getAttribute(name) !== value) node.setAttribute(name, value);
  };

  // Until its stage (stage mode), a signal shows no number: its pipe is drawn empty, its
  // valve half open and grey, its strip blank, and it carries no data-value.
  function update(state) {
    const frame = state.frame;
    if (!frame) return;
    const unit = state.unit;
    const sig = headView(frame.signals, meta, ctx.hidden);
    const cur = state.stage === "all" ? Infinity : ctx.stages.indexOf(state.stage);
    for (const p of pipes) {
      const past = p.withValue && p.k <= cur && beyond(meta[p.signal], unit, sizes);
      const v = p.withValue && p.k <= cur && !past ? valueOf(p.signal, sig[p.signal], unit, p.state) : undefined;
      if (v === p.v && past === p.past) continue;
      p.v = v;
      p.past = past;
      if (past) p.path.setAttribute("data-beyond", "true");
      else p.path.removeAttribute("data-beyond");
      if (v === undefined) {
        if (p.cls !== "flow zero") p.path.setAttribute("class", (p.cls = "flow zero"));
        p.path.style.strokeWidth = p.width = "";
        p.path.removeAttribute("data-value");
        if (p.valueText) setText(p.valueText, past ? beyondMark(sizes) : "");
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
      const raw = vv.k <= cur ? valueOf(vv.signal, sig[vv.signal], unit, vv.state) : undefined;
      if (raw === vv.v) continue;
      vv.v = raw;
      if (raw === undefined) {
        vv.disc.setAttribute("transform", (vv.turn = `rotate(${vv.base + 45})`));
        vv.fill.style.opacity = vv.opacity = "0";
        vv.g.removeAttribute("data-value");
        if (vv.valueText) setText(vv.valueText, "");
        continue;
      }
      const shown = vv.invert ? 1 - raw : raw; // display mapping of the valve's own caption
      const open = Math.max(0, Math.min(1, shown));
      const turn = `rotate(${(vv.base + (1 - open) * 90).toFixed(1)})`;
      if (vv.turn !== turn) vv.disc.setAttribute("transform", (vv.turn = turn));
      const opacity = (0.15 + 0.85 * open).toFixed(3);
      if (vv.opacity !== opacity) vv.fill.style.opacity = (vv.opacity = opacity);
      vv.g.setAttribute("data-value", shown.toFixed(6));
      if (vv.valueText) setText(vv.valueText, formatNumber(shown));
    }
    for (const s of strips) {
      const vec = s.k <= cur ? sig[s.signal] : undefined;
      s.g.style.visibility = vec ? "" : "hidden";
      if (!vec) continue;
      if (s.unit !== unit) {
        s.unit = unit;
        s.place(unit);
      }
      s.paint(vec);
    }
    for (const t of tanks) t.paint(t.k <= cur ? frame.signals[t.signal] : undefined, unit);
    keyboard.speak((part) => (part.source.v === undefined ? undefined
      : part.source.invert ? 1 - part.source.v : part.source.v), unit,
    (part) => (part.source.past ? beyondText(meta[part.signal], unit, sizes) : null));
    if (state.stage !== lastStage) {
      for (const { node, k } of staged) {
        node.classList.toggle("pending", k > cur);
        node.classList.toggle("active", k === cur);
      }
      svg.classList.toggle("stage-mode", state.stage !== "all");
      lastStage = state.stage;
    }
    // The hooks last, so that data-t never runs ahead of the values on screen.
    setAttr(svg, "data-unit", String(unit));
    setAttr(svg, "data-stage", state.stage);
    setAttr(svg, "data-t", String(frame.t));
  }

  return { svg, update, destroy: () => host.replaceChildren() };
}
