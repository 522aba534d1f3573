// The setup form (cell, weights, sequence) and the toolbar (time, stage, unit, style).
// The form's values are the "config" half of the URL settings; errors from the server
// are shown next to the field they concern.

import { uploadWeights } from "./api.js";
import { memoryCellUnavailable } from "./diagram/layouts/index.js";

const $ = (sel) => document.querySelector(sel);
const CONFIG_KEYS = ["cell", "weights", "preset", "seed", "weights_id", "hidden", "reset_after", "nonlinearity", "seq", "text"];

export function createControls({ player, onRun, onChange }) {
  const form = $("#setup");
  const f = {
    cell: $("#cell-kind"), preset: $("#preset"), seed: $("#seed"), hidden: $("#hidden-size"),
    resetAfter: $("#reset-after"), nonlinearity: $("#nonlinearity"), text: $("#sequence-text"),
    weightsFile: $("#weights-file"), csv: $("#sequence-csv"),
  };
  const t = {
    slider: $("#time-step"), readout: $("#t-readout"), play: $("#play"), speed: $("#speed"),
    stageMode: $("#stage-mode"), stages: $("#stages"), unit: $("#unit"), style: $("#diagram-style"),
  };
  let presets = [];
  let weightsId = "";
  let uploaded = null; // what the last upload reported: {cell, input_size, hidden_size}

  const radio = (name) => form.querySelector(`input[name="${name}"]:checked`)?.value;
  const setRadio = (name, value) => {
    for (const r of form.querySelectorAll(`input[name="${name}"]`)) r.checked = r.value === value;
  };

  function fill(kinds, presetList) {
    presets = presetList;
    f.cell.replaceChildren(...kinds.map((k) => new Option(k.kind.replaceAll("_", " "), k.kind)));
    f.preset.replaceChildren(...presets.map((p) => new Option(p.name, p.name)));
  }

  /** Put a config (URL settings) into the form. */
  function apply(cfg) {
    f.cell.value = cfg.cell;
    setRadio("weights", cfg.weights);
    if (presets.some((p) => p.name === cfg.preset)) f.preset.value = cfg.preset;
    f.seed.value = String(cfg.seed);
    f.hidden.value = String(cfg.hidden);
    f.resetAfter.checked = cfg.reset_after;
    f.nonlinearity.value = cfg.nonlinearity;
    setRadio("seq", cfg.seq);
    f.text.value = cfg.text || (cfg.weights === "preset" ? currentPreset()?.sample ?? "" : "");
    weightsId = cfg.weights_id;
    $("#weights-id").textContent = weightsId ? `uploaded: ${weightsId}` : "";
    refreshVisibility();
  }

  const currentPreset = () => presets.find((p) => p.name === f.preset.value);

  /** The form as a config object. */
  function config() {
    const weights = radio("weights") || "preset";
    const preset = currentPreset();
    const text = f.text.value;
    return {
      cell: weights === "preset" && preset ? preset.cell : f.cell.value,
      weights, preset: f.preset.value, seed: Math.max(0, Number.parseInt(f.seed.value, 10) || 0),
      weights_id: weightsId, hidden: Math.max(1, Number.parseInt(f.hidden.value, 10) || 8),
      reset_after: f.resetAfter.checked, nonlinearity: f.nonlinearity.value,
      seq: radio("seq") || "text",
      // the preset's own sample is implied, so it stays out of the URL
      text: weights === "preset" && preset && text === preset.sample ? "" : text,
    };
  }

  function refreshVisibility() {
    const weights = radio("weights");
    for (const d of form.querySelectorAll("[data-weights]")) d.hidden = d.dataset.weights !== weights;
    const preset = currentPreset();
    if (weights === "preset" && preset) f.cell.value = preset.cell;
    // Only random weights take a size from the form; a preset or a file fixes it, and the
    // form says so rather than show a number that is not in use.
    const seeded = weights === "seed";
    f.hidden.disabled = !seeded;
    $("#opt-hidden").hidden = !seeded;
    const fixedH = weights === "preset" ? preset?.hidden_size : uploaded?.hidden_size;
    $("#hidden-fixed").hidden = seeded;
    $("#hidden-fixed").textContent = seeded ? ""
      : `Hidden size H${fixedH ? ` = ${fixedH}` : ""}, set by the ${weights === "preset" ? "preset" : "weights file"}.`;
    const [summary, ...rest] = (preset?.description ?? "").split("\n");
    $("#preset-summary").textContent = summary;
    $("#preset-description").textContent = rest.join("\n").trim();
    $("#opt-reset-after").hidden = f.cell.value !== "gru";
    $("#opt-nonlinearity").hidden = f.cell.value !== "rnn";
    const numbers = radio("seq") === "numbers";
    $("#sequence-hint").textContent = numbers
      ? "One step per line, numbers separated by commas or spaces."
      : weights === "preset" ? `One-hot over the preset's vocabulary “${preset?.vocabulary ?? ""}”.`
        : "Each character is one step, one-hot over the characters used.";
  }

  function showError(field, message) {
    const slot = form.querySelector(`[data-error-for="${field}"]`) || form.querySelector('[data-error-for="general"]');
    slot.textContent = message;
  }
  const clearErrors = () => form.querySelectorAll(".field-error").forEach((p) => { p.textContent = ""; });

  form.addEventListener("change", (ev) => {
    if (ev.target === f.cell && radio("weights") === "preset" && currentPreset()?.cell !== f.cell.value) {
      setRadio("weights", "seed"); // another kind than the preset's: random weights
    }
    if (ev.target === f.preset) f.text.value = currentPreset()?.sample ?? f.text.value;
    refreshVisibility();
    onChange();
  });
  form.addEventListener("input", () => onChange());
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearErrors();
    onRun(config());
  });
  f.csv.addEventListener("change", async () => {
    const file = f.csv.files?.[0];
    if (!file) return;
    const text = await file.text();
    setRadio("seq", "numbers");
    f.text.value = text.trim();
    refreshVisibility();
    onChange();
  });
  f.weightsFile.addEventListener("change", async () => {
    const file = f.weightsFile.files?.[0];
    if (!file) return;
    clearErrors();
    try {
      const res = await uploadWeights(file);
      weightsId = res.weights_id;
      uploaded = res;
      f.cell.value = res.cell ?? f.cell.value;
      $("#weights-id").textContent = `uploaded: ${res.cell} (I = ${res.input_size}, H = ${res.hidden_size})`;
      refreshVisibility();
      onChange();
    } catch (err) {
      showError("weights", err.message);
    }
  });

  // Toolbar
  $("#home").addEventListener("click", () => player.home());
  $("#end").addEventListener("click", () => player.end());
  $("#step-back").addEventListener("click", () => player.step(-1));
  $("#step-forward").addEventListener("click", () => player.step(+1));
  t.play.addEventListener("click", () => player.toggle());
  t.slider.addEventListener("input", () => player.seek(Number(t.slider.value)));
  t.stageMode.addEventListener("change", () => player.setStageMode(t.stageMode.checked));
  const handlers = { speed: null, unit: null, style: null, stage: null };
  t.speed.addEventListener("change", () => handlers.speed?.(Number(t.speed.value)));
  t.unit.addEventListener("change", () => handlers.unit?.(Number.parseInt(t.unit.value, 10) || 0));
  t.style.addEventListener("change", () => handlers.style?.(t.style.value));

  document.addEventListener("keydown", (ev) => {
    const tag = ev.target?.tagName;
    const typing = tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && ev.target.type !== "range"
      && ev.target.type !== "checkbox" && ev.target.type !== "radio");
    if (typing || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const act = { ArrowRight: () => player.step(+1), ArrowLeft: () => player.step(-1), " ": () => player.toggle(),
      Home: () => player.home(), End: () => player.end() }[ev.key];
    if (!act) return;
    ev.preventDefault();
    act();
  });

  function buildStages(stages, onPick) {
    t.stages.replaceChildren(...stages.map((s) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = s === "state" ? "c_t / state" : s;
      b.dataset.stage = s;
      b.addEventListener("click", () => onPick(s));
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

  /** Reflect the store in the toolbar (writing only what changed: each write costs style work). */
  function reflect(state) {
    const steps = state.session?.steps ?? 0;
    setAttr(t.slider, "max", String(Math.max(0, steps - 1)));
    if (t.slider.value !== String(state.t)) t.slider.value = String(state.t);
    setAttr(t.slider, "aria-valuetext", `step ${state.t} of ${steps}`);
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
    const H = state.session?.hidden_size ?? 1;
    setAttr(t.unit, "max", String(H - 1));
    if (document.activeElement !== t.unit && t.unit.value !== String(state.unit)) t.unit.value = String(state.unit);
    const why = state.session ? memoryCellUnavailable(state.session.cell) : "";
    const option = t.style.querySelector('option[value="memory-cell"]');
    if (option.disabled !== Boolean(why)) option.disabled = Boolean(why);
    if (t.style.disabled !== Boolean(why)) t.style.disabled = Boolean(why);
    setAttr(t.style, "title", why || "Switch between the Olah chain and the memory-cell picture");
    setText($("#style-why"), why);
    const styleValue = why ? "olah" : state.style;
    if (t.style.value !== styleValue) t.style.value = styleValue;
  }

  const presetSample = (name) => presets.find((p) => p.name === name)?.sample ?? "";

  return { fill, apply, config, presetSample, showError, clearErrors, reflect, buildStages, handlers, CONFIG_KEYS };
}
