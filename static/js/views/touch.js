// Stepping by touch: a horizontal swipe on the diagram steps (left: forward, right: back),
// as a page turns; vertical movement is left to scrolling (touch-action: pan-y). A second
// finger makes it a pinch, and while the diagram is zoomed one finger pans (views/zoom.js):
// `swipes()` says when a swipe steps.

const MIN_DX = 40;
const MAX_DY = 35;

export function bindSwipe(el, player, swipes = () => true) {
  let start = null;
  let fingers = 0;
  el.addEventListener("pointerdown", (ev) => {
    if (ev.pointerType === "mouse") return;
    fingers += 1;
    start = fingers === 1 && swipes() ? { x: ev.clientX, y: ev.clientY, id: ev.pointerId } : null;
  });
  const lift = (ev) => {
    if (ev.pointerType !== "mouse") fingers = Math.max(0, fingers - 1);
  };
  el.addEventListener("pointercancel", (ev) => {
    lift(ev);
    start = null;
  });
  el.addEventListener("pointerup", (ev) => {
    lift(ev);
    if (!start || ev.pointerId !== start.id) return;
    const dx = ev.clientX - start.x;
    const dy = ev.clientY - start.y;
    start = null;
    if (swipes() && Math.abs(dx) >= MIN_DX && Math.abs(dy) <= MAX_DY) player.step(dx < 0 ? +1 : -1);
  });
}
