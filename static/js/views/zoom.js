// Zoom and pan of the main diagram, for a phone (or a crowded diagram): buttons (zoom in,
// zoom out, fit), a pinch of two fingers or ctrl + wheel (a trackpad's pinch) zoom about
// the point between the fingers or under the pointer; a drag pans while zoomed. The svg is
// scaled by a CSS transform inside its host, which clips it: the page's layout, the exports
// (they read the svg's own viewBox) and everything around the diagram stay as they are.
// One finger swipes to step (views/touch.js) only while the diagram is not zoomed.

const MAX = 6;
const STEP = 1.5;
const DRAG = 5; // px a pointer moves before a press becomes a pan (a click stays a click)

export function bindZoom(host, { zoomIn, zoomOut, fit, level }) {
  let k = 1;
  let tx = 0;
  let ty = 0;
  const pointers = new Map(); // pointerId -> {x, y} (client coordinates)
  let gesture = null; // {kind: "pan" | "pinch", ...} at its start
  let swallowClick = false;

  /** Keep the scaled diagram covering its host (no empty margin dragged in). */
  function clamp() {
    const w = host.clientWidth;
    const h = host.clientHeight;
    tx = Math.min(0, Math.max(w - k * w, tx));
    ty = Math.min(0, Math.max(h - k * h, ty));
  }
  function apply() {
    clamp();
    host.style.setProperty("--zoom-k", String(k));
    host.style.setProperty("--zoom-x", `${tx}px`);
    host.style.setProperty("--zoom-y", `${ty}px`);
    host.classList.toggle("zoomed", k > 1);
    host.dataset.zoom = k.toFixed(3);
    level.textContent = `${Math.round(k * 100)}%`;
    zoomOut.disabled = k <= 1;
    zoomIn.disabled = k >= MAX;
  }
  /** Zoom to `next` keeping the host point (fx, fy) (host-local px) where it is. */
  function zoomAt(next, fx, fy) {
    const k1 = Math.min(MAX, Math.max(1, next));
    tx = fx - ((fx - tx) * k1) / k;
    ty = fy - ((fy - ty) * k1) / k;
    k = k1;
    apply();
  }
  const local = (x, y) => {
    const r = host.getBoundingClientRect();
    return [x - r.left, y - r.top];
  };
  const centre = () => [host.clientWidth / 2, host.clientHeight / 2];

  zoomIn.addEventListener("click", () => zoomAt(k * STEP, ...centre()));
  zoomOut.addEventListener("click", () => zoomAt(k / STEP, ...centre()));
  fit.addEventListener("click", () => {
    k = 1;
    tx = 0;
    ty = 0;
    apply();
  });

  host.addEventListener("wheel", (ev) => {
    if (!ev.ctrlKey) return; // a plain wheel scrolls the page
    ev.preventDefault();
    zoomAt(k * Math.exp(-ev.deltaY / 300), ...local(ev.clientX, ev.clientY));
  }, { passive: false });

  const pair = () => [...pointers.values()].slice(0, 2);
  host.addEventListener("pointerdown", (ev) => {
    pointers.set(ev.pointerId, { x: ev.clientX, y: ev.clientY });
    if (pointers.size === 2) {
      const [a, b] = pair();
      gesture = { kind: "pinch", dist: Math.hypot(a.x - b.x, a.y - b.y) || 1, k };
    } else if (pointers.size === 1 && k > 1 && (ev.pointerType !== "mouse" || ev.button === 0)) {
      gesture = { kind: "press", x: ev.clientX, y: ev.clientY, tx, ty };
    }
  });
  host.addEventListener("pointermove", (ev) => {
    if (!pointers.has(ev.pointerId)) return;
    pointers.set(ev.pointerId, { x: ev.clientX, y: ev.clientY });
    if (gesture?.kind === "pinch" && pointers.size >= 2) {
      const [a, b] = pair();
      const [fx, fy] = local((a.x + b.x) / 2, (a.y + b.y) / 2);
      zoomAt((gesture.k * Math.hypot(a.x - b.x, a.y - b.y)) / gesture.dist, fx, fy);
      ev.preventDefault();
    } else if (gesture?.kind === "press" || gesture?.kind === "pan") {
      const dx = ev.clientX - gesture.x;
      const dy = ev.clientY - gesture.y;
      if (gesture.kind === "press" && Math.hypot(dx, dy) < DRAG) return;
      if (gesture.kind === "press") host.setPointerCapture?.(ev.pointerId);
      gesture.kind = "pan";
      tx = gesture.tx + dx;
      ty = gesture.ty + dy;
      apply();
      ev.preventDefault();
    }
  });
  const end = (ev) => {
    pointers.delete(ev.pointerId);
    if (gesture?.kind === "pan") swallowClick = true; // the drag was not a click on a valve
    if (pointers.size === 0) gesture = null;
  };
  host.addEventListener("pointerup", end);
  host.addEventListener("pointercancel", end);
  host.addEventListener("click", (ev) => {
    if (!swallowClick) return;
    swallowClick = false;
    ev.stopPropagation();
    ev.preventDefault();
  }, true);
  window.addEventListener("resize", apply);
  apply();

  return {
    /** Whether one finger should step rather than pan: not while zoomed or pinching. */
    swipes: () => k === 1 && pointers.size <= 1 && gesture?.kind !== "pinch",
  };
}
