// Guided tours: a story told in short steps, each setting the view (session, cursor, style,
// stage, focus, held signals, compare) and saying one thing. The text is data from
// GET /api/tours; this module shows the "Tours" menu and the step, and asks flow/tour.js
// to open the step's view (`apply(view)`). A step names the element it talks about
// (`target`, a CSS selector; the diagram when it names none), which is scrolled into view.
// Keys: N next, B back (outside text fields); each step is a URL state (tour, tour_step).

const $ = (sel) => document.querySelector(sel);
export const DIAGRAM_TARGET = "svg[data-diagram]";

/** The tour's one line: its own, else its first step's first sentence. */
const lineOf = (t) => t.summary ?? t.line ?? String(t.steps[0]?.text ?? "").split(/(?<=[.:!?])\s/)[0];

export function createTour({ apply, onStep, onEnd, onChoose }) {
  const panel = $("#tour");
  const text = $("#tour-text");
  const count = $("#tour-count");
  const title = $("#tour-title");
  let tour = null;
  let k = 0;

  async function go(n) {
    if (!tour) return;
    k = Math.max(0, Math.min(tour.steps.length - 1, n));
    const step = tour.steps[k];
    const target = step.target || DIAGRAM_TARGET;
    text.dataset.tourStep = String(k);
    text.dataset.tourTarget = target;
    text.setAttribute("data-tour-names", (step.names ?? []).join(","));
    text.textContent = step.text;
    count.textContent = `Step ${k + 1} of ${tour.steps.length}`;
    $("#tour-back").disabled = k === 0;
    $("#tour-next").disabled = k === tour.steps.length - 1;
    panel.dataset.state = "applying";
    onStep(tour.name, k);
    const mine = k;
    await apply(step.view ?? {});
    if (mine !== k || !tour) return;
    await drawn(step.view ?? {});
    if (mine !== k || !tour) return;
    await showTarget(target);
    panel.dataset.state = "ready";
  }

  /** Wait (a few seconds at most) until every diagram of the step is drawn at a step: the
   *  compared cells come after the main one, and drawn beside it they change the page's
   *  layout, which would move the step's element again. */
  async function drawn(view) {
    const wants = view.compare?.length || 1;
    for (let tries = 0; tries < 600; tries += 1) {
      const all = document.querySelectorAll(DIAGRAM_TARGET);
      if (all.length >= wants && [...all].every((svg) => svg.dataset.t)) return;
      await new Promise((resolve) => requestAnimationFrame(resolve));
    }
  }

  /** Whether `el` is on screen: inside the viewport and not under the tour's own (sticky)
   *  panel — at least half of it, or half the screen of one taller than that. */
  function inView(el) {
    const r = el.getBoundingClientRect();
    const top = Math.max(0, panel.getBoundingClientRect().bottom);
    const seen = Math.min(r.bottom, innerHeight) - Math.max(r.top, top);
    return r.left < innerWidth && r.right > 0 && seen >= Math.min(r.height, innerHeight - top) / 2;
  }

  /** Bring the step's element on screen and keep it there while the view settles: it may
   *  come a frame after the view opens, and what opens with it (a compared cell, a chart)
   *  can move it again. */
  async function showTarget(target) {
    let steady = 0;
    for (let tries = 0; tries < 120 && steady < 4; tries += 1) {
      const el = document.querySelector(target);
      if (el && el.getClientRects().length) {
        if (inView(el)) steady += 1;
        else {
          steady = 0;
          el.scrollIntoView({ block: "center", inline: "nearest" });
        }
      }
      await new Promise((resolve) => requestAnimationFrame(resolve));
    }
  }

  /** Start `t` (a tour from the API) at step n. */
  function start(t, n = 0) {
    tour = t;
    panel.hidden = false;
    title.textContent = `Tour: ${t.title}`;
    $("#tour-source").textContent = t.source ? `From ${t.source}.` : "";
    return go(n);
  }

  function end() {
    tour = null;
    panel.hidden = true;
    onEnd();
  }

  /** The "Tours" menu: every tour, its one line and its number of steps. */
  function setMenu(tours) {
    const list = $("#tours-list");
    list.replaceChildren(...tours.map((t) => {
      const li = document.createElement("li");
      const b = Object.assign(document.createElement("button"), { type: "button", className: "tour-item" });
      b.dataset.tourName = t.name;
      const name = Object.assign(document.createElement("strong"), { textContent: t.title });
      const line = Object.assign(document.createElement("span"), { className: "hint", textContent: lineOf(t) });
      const steps = Object.assign(document.createElement("span"), { className: "tour-steps", textContent: `${t.steps.length} steps` });
      b.append(name, " ", steps, line);
      b.addEventListener("click", () => {
        toggleMenu(false);
        onChoose(t);
      });
      li.append(b);
      return li;
    }));
  }
  const button = $("#tours-button");
  function toggleMenu(open = button.getAttribute("aria-expanded") !== "true") {
    button.setAttribute("aria-expanded", String(open));
    $("#tours-list").hidden = !open;
  }
  button.addEventListener("click", () => toggleMenu());

  $("#tour-next").addEventListener("click", () => go(k + 1));
  $("#tour-back").addEventListener("click", () => go(k - 1));
  $("#tour-end").addEventListener("click", end);
  document.addEventListener("keydown", (ev) => {
    const tag = ev.target?.tagName;
    if (ev.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
      toggleMenu(false);
      button.focus();
      return;
    }
    if (!tour || ev.altKey || ev.ctrlKey || ev.metaKey || ["INPUT", "TEXTAREA", "SELECT"].includes(tag)) return;
    if (ev.key === "n" || ev.key === "N") go(k + 1);
    else if (ev.key === "b" || ev.key === "B") go(k - 1);
    else return;
    ev.preventDefault();
  });

  return { start, go, setMenu, active: () => Boolean(tour) };
}
