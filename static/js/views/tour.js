// Guided tours (/?tour=NAME): a story told in short steps, each setting the view (session,
// cursor, style, stage, focus, held signals, compare) and saying one thing. The text is data
// from GET /api/tours; this module only shows it and asks main.js to set the view
// (`apply(step)`). Keys: N next, B back (outside text fields); each step is a URL state
// (tour, tour_step).

const $ = (sel) => document.querySelector(sel);

export function createTour({ apply, onStep, onEnd }) {
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
    text.dataset.tourStep = String(k);
    text.setAttribute("data-tour-names", (step.names ?? []).join(","));
    text.textContent = step.text;
    count.textContent = `Step ${k + 1} of ${tour.steps.length}`;
    $("#tour-back").disabled = k === 0;
    $("#tour-next").disabled = k === tour.steps.length - 1;
    panel.dataset.state = "applying";
    onStep(tour.name, k);
    await apply(step.view ?? {});
    panel.dataset.state = "ready";
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

  $("#tour-next").addEventListener("click", () => go(k + 1));
  $("#tour-back").addEventListener("click", () => go(k - 1));
  $("#tour-end").addEventListener("click", end);
  document.addEventListener("keydown", (ev) => {
    const tag = ev.target?.tagName;
    if (!tour || ev.altKey || ev.ctrlKey || ev.metaKey || ["INPUT", "TEXTAREA", "SELECT"].includes(tag)) return;
    if (ev.key === "n" || ev.key === "N") go(k + 1);
    else if (ev.key === "b" || ev.key === "B") go(k - 1);
    else return;
    ev.preventDefault();
  });

  return { start, go, active: () => Boolean(tour) };
}
