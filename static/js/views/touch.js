// Stepping by touch: a horizontal swipe on the diagram steps (left: forward, right: back),
// as a page turns; vertical movement is left to scrolling (touch-action: pan-y).

const MIN_DX = 40;
const MAX_DY = 35;

export function bindSwipe(el, player) {
  let start = null;
  el.addEventListener("pointerdown", (ev) => {
    if (ev.pointerType !== "mouse") start = { x: ev.clientX, y: ev.clientY, id: ev.pointerId };
  });
  el.addEventListener("pointercancel", () => { start = null; });
  el.addEventListener("pointerup", (ev) => {
    if (!start || ev.pointerId !== start.id) return;
    const dx = ev.clientX - start.x;
    const dy = ev.clientY - start.y;
    start = null;
    if (Math.abs(dx) >= MIN_DX && Math.abs(dy) <= MAX_DY) player.step(dx < 0 ? +1 : -1);
  });
}
