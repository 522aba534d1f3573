// The dock: the views that explain the cell (equations, sensitivity, prediction, what if,
// side by side) in one column beside the diagram that scrolls on its own. Bringing a view
// to the dock's top scrolls the dock only, never the page, so the diagram stays where the
// reader left it. Where the dock is not beside the diagram (a narrow screen puts it below),
// a view asked for from the diagram (the hold form, on a right-click) is pinned over the
// page's corner instead of the page jumping to it.

const $ = (sel) => document.querySelector(sel);

/** Whether `el` is wholly inside the viewport. */
function onScreen(el) {
  const r = el.getBoundingClientRect();
  return r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth && r.height > 0;
}

export function createDock() {
  const dock = $("#dock");
  const buttons = [...dock.querySelectorAll("[data-dock-to]")];

  /** Scroll the dock (not the page) so that `section` starts at its top. */
  function bring(section) {
    const top = section.getBoundingClientRect().top - dock.getBoundingClientRect().top + dock.scrollTop;
    const nav = dock.querySelector(".dock-nav");
    dock.scrollTop = Math.max(0, top - (nav ? nav.offsetHeight + 4 : 0));
    for (const b of buttons) b.setAttribute("aria-current", String(section.matches(b.dataset.dockTo)));
  }

  /** Show `el` (inside a docked view) without moving the page: bring its view to the dock's
   *  top; if it is still not on screen (the dock below the diagram), pin the view over the
   *  page until it is closed. Returns the view. */
  function reveal(el) {
    const section = el.closest(".dock > section");
    if (!section) return null;
    bring(section);
    if (!onScreen(el)) pin(section);
    return section;
  }

  function pin(section) {
    for (const other of dock.querySelectorAll(".pinned")) if (other !== section) unpin(other);
    section.classList.add("pinned");
    if (!section.querySelector(".unpin")) {
      const close = Object.assign(document.createElement("button"), { type: "button", className: "unpin", textContent: "×" });
      close.setAttribute("aria-label", "Put this view back in its place");
      close.addEventListener("click", () => unpin(section));
      section.prepend(close);
    }
  }
  function unpin(section) {
    section.classList.remove("pinned");
    section.querySelector(".unpin")?.remove();
  }

  for (const b of buttons) {
    b.addEventListener("click", () => {
      const section = dock.querySelector(b.dataset.dockTo);
      if (!section) return;
      // asked for by name: beside the diagram the dock scrolls; under it, the page does
      if (dock.scrollHeight > dock.clientHeight + 1) bring(section);
      else section.scrollIntoView({ block: "start" });
    });
  }
  document.addEventListener("keydown", (ev) => {
    if (ev.key !== "Escape") return;
    for (const s of dock.querySelectorAll(".pinned")) unpin(s);
  });

  // a view a session does not have (a head's prediction) has no button either
  const view = { keys: ["session"], update: () => {
    for (const b of buttons) b.hidden = Boolean(dock.querySelector(b.dataset.dockTo)?.hidden);
  } };
  return { reveal, bring, view };
}
