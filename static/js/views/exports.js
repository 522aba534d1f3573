// Exports: the trace as the server writes it (CSV, NPZ: GET /api/sessions/{id}/trace), the
// diagram as a self-contained SVG (computed styles inlined, strips as embedded images, so it
// opens anywhere) or a PNG drawn from that SVG, both with a caption under the drawing that
// says what it shows (views/export_caption.js), and the link of the view on screen.

import { captionLines } from "./export_caption.js";

const PROPS = [
  "fill", "fill-opacity", "stroke", "stroke-width", "stroke-opacity", "stroke-dasharray",
  "stroke-linecap", "stroke-linejoin", "opacity", "visibility", "display", "font-family",
  "font-size", "font-weight", "font-style", "paint-order", "dominant-baseline", "text-anchor",
  "baseline-shift",
];
const PNG_SCALE = 2;
const CAPTION_LINE = 20; // px per caption line, in the diagram's own units
const SVG_NS = "http://www.w3.org/2000/svg";

function save(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = Object.assign(document.createElement("a"), { href: url, download: filename });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The diagram on screen as a standalone SVG document: {text, width, height}, with the
 *  `caption` lines under the drawing (and as its <title>). */
export function standaloneSvg(svg, caption = []) {
  const clone = svg.cloneNode(true);
  const from = [svg, ...svg.querySelectorAll("*")];
  const to = [clone, ...clone.querySelectorAll("*")];
  from.forEach((node, k) => {
    const target = to[k];
    if (node.namespaceURI !== "http://www.w3.org/2000/svg" || node.tagName === "foreignObject") return;
    const cs = getComputedStyle(node);
    const style = PROPS.map((p) => [p, cs.getPropertyValue(p)]).filter(([, v]) => v && v !== "normal" && v !== "auto");
    target.setAttribute("style", style.map(([p, v]) => `${p}:${v}`).join(";"));
  });
  // a strip's canvas becomes an embedded image
  const originals = svg.querySelectorAll("foreignObject");
  clone.querySelectorAll("foreignObject").forEach((fo, k) => {
    const canvas = originals[k].querySelector("canvas");
    const img = document.createElementNS("http://www.w3.org/2000/svg", "image");
    for (const a of ["x", "y", "width", "height"]) img.setAttribute(a, fo.getAttribute(a));
    img.setAttribute("href", canvas ? canvas.toDataURL("image/png") : "");
    img.setAttribute("preserveAspectRatio", "none");
    img.setAttribute("style", `image-rendering:pixelated;visibility:${getComputedStyle(originals[k]).visibility}`);
    fo.replaceWith(img);
  });
  const [x0, y0, w, drawn] = svg.getAttribute("viewBox").split(/\s+/).map(Number);
  const h = drawn + (caption.length ? CAPTION_LINE * caption.length + CAPTION_LINE / 2 : 0);
  clone.setAttribute("xmlns", SVG_NS);
  clone.setAttribute("viewBox", `${x0} ${y0} ${w} ${h}`);
  clone.setAttribute("width", String(w));
  clone.setAttribute("height", String(h));
  clone.removeAttribute("class");
  const bg = document.createElementNS(SVG_NS, "rect");
  Object.entries({ x: x0, y: y0, width: w, height: h, fill: "#ffffff" }).forEach(([k, v]) => bg.setAttribute(k, String(v)));
  clone.insertBefore(bg, clone.firstChild);
  if (caption.length) {
    const title = document.createElementNS(SVG_NS, "title");
    title.textContent = caption.join("\n");
    clone.insertBefore(title, clone.firstChild);
    const g = document.createElementNS(SVG_NS, "g");
    g.setAttribute("data-caption", "");
    caption.forEach((line, k) => {
      const text = document.createElementNS(SVG_NS, "text");
      Object.entries({ x: x0 + 10, y: y0 + drawn + CAPTION_LINE * (k + 1) - 4 }).forEach(([a, v]) => text.setAttribute(a, String(v)));
      text.setAttribute("style", `font-family:system-ui,sans-serif;font-size:${k ? 13 : 14}px;fill:#1d2430${k ? "" : ";font-weight:600"}`);
      text.textContent = line; // text, never markup: a preset or file name is the user's
      g.append(text);
    });
    clone.append(g);
  }
  return { text: `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(clone)}`, width: w, height: h };
}

/** A PNG (Blob) of the standalone SVG (caption included), at PNG_SCALE × its size. */
export function diagramPng(svg, caption = []) {
  const { text, width: w, height: h } = standaloneSvg(svg, caption);
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => {
      const canvas = Object.assign(document.createElement("canvas"), { width: w * PNG_SCALE, height: h * PNG_SCALE });
      const ctx = canvas.getContext("2d");
      ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("the PNG could not be made"))), "image/png");
    };
    img.onerror = () => reject(new Error("the diagram could not be drawn as an image"));
    img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(text)}`;
  });
}

/** Wire the export buttons. getState() returns the store's state; link() the URL of the
 *  view on screen; onError(message). */
export function bindExports(getState, link, onError) {
  const $ = (sel) => document.querySelector(sel);
  const caption = () => captionLines(getState());
  const name = () => {
    const s = getState();
    return `gatescope-${s.session?.id ?? "diagram"}-t${s.frame?.t ?? s.t}`;
  };
  const trace = (format) => {
    const id = getState().session?.id;
    if (!id) return;
    const a = Object.assign(document.createElement("a"), {
      href: `/api/sessions/${encodeURIComponent(id)}/trace?format=${format}`, download: `gatescope-${id}.${format}`,
    });
    document.body.appendChild(a);
    a.click();
    a.remove();
  };
  $("#export-csv").addEventListener("click", () => trace("csv"));
  $("#export-npz").addEventListener("click", () => trace("npz"));
  $("#export-svg").addEventListener("click", () => {
    const svg = $("svg[data-diagram]");
    if (svg) save(new Blob([standaloneSvg(svg, caption()).text], { type: "image/svg+xml" }), `${name()}.svg`);
  });
  $("#export-png").addEventListener("click", async () => {
    const svg = $("svg[data-diagram]");
    try {
      if (svg) save(await diagramPng(svg, caption()), `${name()}.png`);
    } catch (err) {
      onError(err.message);
    }
  });
  $("#copy-link").addEventListener("click", async () => {
    const status = $("#copy-status");
    try {
      await navigator.clipboard.writeText(link());
      status.textContent = "Link copied.";
    } catch {
      status.textContent = `Copy this link: ${link()}`;
    }
  });
}
