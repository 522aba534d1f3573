// The toolbar: time (buttons, slider, readout, speed), stage mode and the kind's stages,
// unit and diagram style. Its controls write to the player or the store; `render` draws
// them from the store, writing only what changed (each write costs style work).

import { memoryCellUnavailable } from "../diagram/layouts/index.js";
import * as store from "../state/store.js";
import { appendHtmlMath } from "./math_text.js";
import { unitCount } from "../state/parts.js";

const $ = (sel) => document.querySelector(sel);

/** A stage's caption, from the signals the kind computes in it (a GRU's state is h_t, an
 *  RNN's "gates" stage holds only its pre-activation W·[h_{t−1}, x_t] + b). */
export function stageCaption(stage, signals) {
  const here = signals.filter((s) => s.stage === stage && s.kind !== "input");
  if (stage === "gates" && !here.some((s) => s.kind === "gate")) return "affine W·[h, x] + b";
  if (stage === "state") {
    const made = here.filter((s) => s.kind === "state" || s.kind === "output").at(-1);
    return made ? `new state ${made.label}` : stage;
  }
  return stage;
}

export function createToolbar({ player, onUnit, onStyle, onSpeed }) {
  const t = {
    slider: $("#time-step"), readout: $("#t-readout"), play: $("#play"), speed: $("#speed"),
    stageMode: $("#stage-mode"), stages: $("#stages"), unit: $("#unit"), style: $("#diagram-style"),
  };
  $("#home").addEventListener("click", () => player.home());
  $("#end").addEventListener("click", () => player.end());
  $("#step-back").addEventListener("click", () => player.step(-1));
  $("#step-forward").addEventListener("click", () => player.step(+1));
  t.play.addEventListener("click", () => player.toggle());
  t.slider.addEventListener("input", () => player.seek(Number(t.slider.value)));
  t.stageMode.addEventListener("change", () => player.setStageMode(t.stageMode.checked));
  t.speed.addEventListener("change", () => onSpeed(Number(t.speed.value)));
  t.unit.addEventListener("change", () => {
    const n = Number(t.unit.value);
    if (Number.isInteger(n)) onUnit(n);
  });
  t.style.addEventListener("change", () => onStyle(t.style.value));

  let builtFor = null;
  function buildStages(session, stages) {
    builtFor = session;
    t.stages.replaceChildren(...stages.map((s) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      appendHtmlMath(b, stageCaption(s, session.signals));
      b.dataset.stage = s;
      b.addEventListener("click", () => store.set({ stage: s }));
      li.appendChild(b);
      return li;
    }));
  }

  const setText = (node, text) => {
    if (node.textContent !== text) node.textContent = text;
  };
  const setAttr = (node, name, value) => {
    if (node.getAttribute(name) !== value) node.setAttribute(name, value);
  };

  function render(state) {
    if (state.session && state.session !== builtFor) buildStages(state.session, state.stages);
    const steps = state.session?.steps ?? 0;
    setAttr(t.slider, "max", String(Math.max(0, steps - 1)));
    if (t.slider.value !== String(state.t)) t.slider.value = String(state.t);
    setAttr(t.slider, "aria-valuetext", `step ${state.t} of ${Math.max(0, steps - 1)}`);
    setText(t.readout, `t = ${state.t} / ${Math.max(0, steps - 1)}`);
    const label = state.playing ? "Pause" : "Play";
    if (t.play.getAttribute("aria-label") !== label) {
      t.play.setAttribute("aria-label", label);
      t.play.textContent = state.playing ? "❚❚" : "▶";
    }
    if (t.speed.value !== String(state.speed)) t.speed.value = String(state.speed);
    t.stageMode.checked = state.stage !== "all";
    for (const b of t.stages.querySelectorAll("button")) {
      setAttr(b, "aria-current", b.dataset.stage === state.stage ? "step" : "false");
    }
    const H = unitCount(state.session);
    setAttr(t.unit, "max", String(H - 1));
    if (document.activeElement !== t.unit && t.unit.value !== String(state.unit)) t.unit.value = String(state.unit);
    setText($("#unit-name"), state.session?.unit_labels?.[state.unit] ?? "");
    const why = state.session ? memoryCellUnavailable(state.session.cell) : "";
    const option = t.style.querySelector('option[value="memory-cell"]');
    if (option.disabled !== Boolean(why)) option.disabled = Boolean(why);
    if (t.style.disabled !== Boolean(why)) t.style.disabled = Boolean(why);
    setAttr(t.style, "title", why || "Switch between the Olah chain and the memory-cell picture");
    setText($("#style-why"), why);
    const styleValue = why ? "olah" : state.style;
    if (t.style.value !== styleValue) t.style.value = styleValue;
  }

  return { render };
}
