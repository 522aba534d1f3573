// Keys: ArrowRight/ArrowLeft step, Space plays/pauses, Home/End jump — except while the
// user types in a field, or on a control that uses the key itself (Space presses a
// focused button).

export function bindKeys(player) {
  document.addEventListener("keydown", (ev) => {
    const el = ev.target;
    const tag = el?.tagName;
    const typing = tag === "TEXTAREA" || tag === "SELECT" || el?.isContentEditable
      || (tag === "INPUT" && !["range", "checkbox", "radio", "button"].includes(el.type));
    // inside the diagram the arrows move between its parts (diagram/keyboard)
    if (typing || ev.altKey || ev.ctrlKey || ev.metaKey || ev.defaultPrevented) return;
    // Space on a button, a link, a checkbox or a radio presses it, as everywhere else
    const presses = tag === "BUTTON" || tag === "A" || tag === "SUMMARY"
      || (tag === "INPUT" && ["checkbox", "radio", "button"].includes(el.type));
    if (ev.key === " " && presses) return;
    const act = {
      ArrowRight: () => player.step(+1), ArrowLeft: () => player.step(-1), " ": () => player.toggle(),
      Home: () => player.home(), End: () => player.end(),
    }[ev.key];
    if (!act) return;
    ev.preventDefault();
    act();
  });
}
