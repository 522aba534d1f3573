// The setup form (cell, options, weights, sequence), derived from the settings table: the
// kind list and the option controls are built from the catalog. The form only writes to
// the store (its draft); it is drawn from the store, so it always shows either the session
// on screen or edits marked "changed — Run to apply". Errors are shown at their field.

import { uploadWeights } from "../net/api.js";
import * as store from "../state/store.js";
import { applies, applied, parseValue, resolve, sameConfig } from "../state/settings.js";

const $ = (sel) => document.querySelector(sel);

let optionKeys = new Set(); // the kinds' option names (set when the form is built)

/** Said when holds and weight edits were dropped because they do not fit the cell chosen. */
export const RELEASED_NOTICE = "The held signals and edited weights do not apply to this cell and sequence: they were released.";

/** Whether going from draft `before` to `after` changes which cell runs (a row marked
 *  `cell` in the settings table: kind, weights source, preset, file, hidden size). */
const otherCell = (settings, before, after) => settings.form.some((r) => r.cell
  && (applies(r, before) || applies(r, after)) && String(before[r.key] ?? "") !== String(after[r.key] ?? ""));

/** Which error slot of the form a settings key (or a server field name) belongs to. */
export function slotOf(key) {
  const k = String(key ?? "");
  if (k === "hidden" || k === "hidden_size") return "hidden";
  if (k === "seed") return "seed";
  if (/^(sequence|text|seq|values|csv|vocabulary)/.test(k)) return "sequence";
  if (/^(weights|preset|file|upload)/.test(k)) return "weights";
  if (/^(cell|options|input_size|kind)/.test(k) || optionKeys.has(k)) return "cell";
  if (/^state\b/.test(k)) return "state"; // the starting state (views/start_state.js)
  return "general";
}

/** The draft as values: {values} or {errors: {slot: message}}. */
export function parseDraft(settings, draft) {
  const values = {};
  const errors = {};
  for (const row of settings.form) {
    const raw = draft[row.key];
    if (row.type === "int" && applies(row, draft)) {
      const got = parseValue(row, raw);
      if ("error" in got) errors[slotOf(row.key)] = got.error;
      else values[row.key] = got.value;
    } else {
      values[row.key] = raw;
    }
  }
  if (values.weights === "upload" && !values.weights_id) errors.weights = "Choose a weights file to upload first.";
  if (!String(values.text ?? "").length) errors.sequence = "The sequence is empty: type some text or paste numbers.";
  return Object.keys(errors).length ? { errors } : { values: resolve(settings, values) };
}

export function createForm({ settings, onRun }) {
  const form = $("#setup");
  const f = {
    cell: $("#cell-kind"), preset: $("#preset"), seed: $("#seed"), hidden: $("#hidden-size"),
    text: $("#sequence-text"), weightsFile: $("#weights-file"), csv: $("#sequence-csv"),
  };
  const radios = (name) => [...form.querySelectorAll(`input[name="${name}"]`)];
  const options = {}; // option key -> its control
  optionKeys = new Set(settings.options.map((r) => r.key));

  f.cell.replaceChildren(...settings.catalog.kinds.map((k) => new Option(k.kind.replaceAll("_", " "), k.kind)));
  f.preset.replaceChildren(...settings.presets.map((p) => new Option(p.name, p.name)));
  for (const row of settings.options) {
    const div = document.createElement("div");
    div.className = "option";
    div.dataset.row = row.key;
    const id = `option-${row.key}`;
    let control;
    if (row.type === "bool") {
      control = Object.assign(document.createElement("input"), { type: "checkbox", id, name: row.key });
      div.append(control, Object.assign(document.createElement("label"), { htmlFor: id, textContent: row.label }));
    } else {
      control = Object.assign(document.createElement("select"), { id, name: row.key });
      control.append(...row.values.map((v) => new Option(String(v), String(v))));
      div.append(Object.assign(document.createElement("label"), { htmlFor: id, textContent: row.label }), control);
    }
    const why = Object.assign(document.createElement("span"), { className: "hint set-by" });
    div.append(why);
    options[row.key] = { control, why, row };
    $("#options").append(div);
  }
  f.seed.setAttribute("aria-label", `Seed (${settings.row("seed").min} to ${settings.row("seed").max})`);
  f.hidden.setAttribute("aria-label", `Hidden size H (1 to ${settings.row("hidden").max})`);

  const draft = () => store.get().draft;
  // options the uploaded file leaves open that the user has not chosen yet (asked before Run)
  let confirmed = new Set();
  const unconfirmed = (state) => {
    const d = state.draft;
    const up = state.upload;
    if (d.weights !== "upload" || !up || up.weights_id !== d.weights_id) return [];
    if (state.config?.weights_id === d.weights_id) return []; // the session on screen chose already
    return (up.open_options ?? []).filter((k) => applies(settings.row(k) ?? {}, d) && !confirmed.has(k));
  };
  const presetOf = (name) => settings.presetOf(name);

  /** Write one edit into the store's draft, with what it implies for the other fields. */
  function edit(patch) {
    const d = draft();
    const next = { ...d, ...patch };
    if ("cell" in patch && d.weights === "preset" && presetOf(d.preset)?.cell !== patch.cell) {
      next.weights = "seed"; // another kind than the preset's: random weights
    }
    if ("preset" in patch && d.text === presetOf(d.preset)?.sample) next.text = presetOf(patch.preset)?.sample ?? d.text;
    if (next.weights === "preset" && presetOf(next.preset)) next.cell = presetOf(next.preset).cell;
    for (const row of settings.options) {
      // an option left over from another kind takes the new kind's default
      if (next.cell !== d.cell && !(row.key in patch)) next[row.key] = row.def(next);
    }
    const errors = { ...store.get().errors };
    for (const k of Object.keys(patch)) delete errors[slotOf(k)];
    // holds and weight edits were made for the cell on screen: another cell releases them
    const released = Boolean(next.hold || next.wedit) && otherCell(settings, d, next);
    if (released) Object.assign(next, { hold: "", wedit: "" });
    store.set({ draft: next, errors, ...(released ? { notice: RELEASED_NOTICE } : {}) });
  }

  form.addEventListener("input", (ev) => {
    const t = ev.target;
    if (t === f.text) edit({ text: t.value });
    else if (t === f.seed) edit({ seed: t.value });
    else if (t === f.hidden) edit({ hidden: t.value });
  });
  form.addEventListener("change", (ev) => {
    const t = ev.target;
    if (t === f.cell) edit({ cell: t.value });
    else if (t === f.preset) edit({ preset: t.value });
    else if (t.name === "weights" || t.name === "seq") edit({ [t.name]: t.value });
    else if (options[t.name]) {
      const { row } = options[t.name];
      confirmed.add(t.name);
      edit({ [t.name]: row.type === "bool" ? t.checked : row.values.find((v) => String(v) === t.value) });
    }
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const got = parseDraft(settings, draft());
    const open = unconfirmed(store.get());
    if (open.length) {
      // asked once: the next Run uses what the form then says, and the session records it
      for (const k of open) confirmed.add(k);
      got.errors = { ...(got.errors || {}), cell: `The weights file does not say which ${open.join(" or ")} it was trained with: check it above, then Run again.` };
    }
    if (got.errors) {
      store.set({ errors: got.errors });
      return;
    }
    store.set({ errors: {} });
    onRun(got.values);
  });
  $("#live").addEventListener("change", (ev) => store.set({ live: ev.target.checked }));
  f.csv.addEventListener("change", async () => {
    const file = f.csv.files?.[0];
    if (file) edit({ seq: "numbers", text: (await file.text()).replace(/\s+$/, "") });
  });
  /** Upload the chosen weights file (with the vocabulary chosen beside it); `branch`: the
   *  ONNX If branch to read it by (views/onnx_branches.js), the server's first when none. */
  async function uploadChosen(branch) {
    const file = f.weightsFile.files?.[0];
    if (!file) return;
    try {
      const res = await uploadWeights(file, undefined, $("#vocabulary-file")?.files?.[0], branch,
        $("#weights-data-file")?.files?.[0]);
      confirmed = new Set();
      store.set({ upload: res });
      edit({ weights: "upload", weights_id: res.weights_id, cell: res.cell ?? draft().cell, ...(res.options || {}) });
    } catch (err) {
      restoreWeightsInUse();
      store.set({ errors: { ...store.get().errors, weights: err.message } });
    }
  }
  f.weightsFile.addEventListener("change", () => uploadChosen());

  /** A refused file changes nothing: the form goes back to the weights of the session on
   *  screen (source, kind, options) and its hints to their record (sizes, layers, name). */
  function restoreWeightsInUse() {
    const s = store.get();
    if (!s.config) return;
    const back = Object.fromEntries(settings.form.filter((r) => r.cell || r.option).map((r) => [r.key, s.config[r.key]]));
    store.set({ upload: s.session?.weights?.weights_id ? { ...s.session.weights } : null });
    edit(back);
  }

  const setText = (node, text) => {
    if (node.textContent !== text) node.textContent = text;
  };
  const setValue = (node, v) => {
    if (node.value !== String(v ?? "")) node.value = String(v ?? "");
  };

  /** Draw the form from the store. */
  function render(state) {
    const d = state.draft;
    if (!d) return;
    for (const r of radios("weights")) r.checked = r.value === d.weights;
    for (const r of radios("seq")) r.checked = r.value === d.seq;
    setValue(f.cell, d.cell);
    setValue(f.preset, d.preset);
    setValue(f.seed, d.seed);
    setValue(f.hidden, d.hidden);
    setValue(f.text, d.text);
    for (const div of form.querySelectorAll("[data-row]")) {
      div.hidden = !applies(settings.row(div.dataset.row), d);
    }
    const upload = state.upload && state.upload.weights_id === d.weights_id ? state.upload : null;
    // options a file states are the file's, shown as such and not editable
    for (const { control, why, row } of Object.values(options)) {
      const stated = d.weights === "upload" && upload?.options && row.key in upload.options
        && !(upload.open_options ?? []).includes(row.key);
      if (row.type === "bool") control.checked = Boolean(d[row.key]);
      else setValue(control, d[row.key]);
      control.disabled = Boolean(stated);
      setText(why, stated ? "set by the file" : d.weights === "upload" && upload?.open_options?.includes(row.key)
        ? "the file does not say: choose before Run" : "");
    }
    f.cell.disabled = d.weights === "upload";
    const preset = presetOf(d.preset);
    $("#cell-fixed").hidden = d.weights === "seed";
    setText($("#cell-fixed"), d.weights === "preset" ? `Cell kind ${d.cell.replaceAll("_", " ")}, set by the preset.`
      : d.weights === "upload" ? `Cell kind ${d.cell.replaceAll("_", " ")}, set by the weights file.` : "");
    const fixedH = d.weights === "preset" ? preset?.hidden_size
      : upload?.hidden_size ?? (state.config?.weights_id === d.weights_id ? state.session?.hidden_size : undefined);
    $("#hidden-fixed").hidden = d.weights === "seed";
    setText($("#hidden-fixed"), d.weights === "seed" ? ""
      : `Hidden size H${fixedH ? ` = ${fixedH}` : ""}, set by the ${d.weights === "preset" ? "preset" : "weights file"}.`);
    const [summary, ...rest] = (preset?.description ?? "").split("\n");
    setText($("#preset-summary"), summary);
    setText($("#preset-description"), rest.join("\n").trim());
    setText($("#weights-id"), uploadText(upload, d, state));
    setText($("#weights-part"), d.weights === "upload" ? partShown(upload) : "");
    setText($("#sequence-hint"), d.seq === "numbers"
      ? "One step per line, numbers separated by commas. A first row with no number in it is read as a header."
      : `One step per character as you see it (emoji and accented letters included): an accent typed after its letter, an emoji with its skin tone or a flag is one step. One-hot over ${d.weights === "preset" ? `the preset's vocabulary “${preset?.vocabulary ?? ""}”` : "the characters used"}.`);
    for (const slot of form.querySelectorAll("[data-error-for]")) setText(slot, state.errors[slot.dataset.errorFor] ?? "");
    for (const [key, el] of [["seed", f.seed], ["hidden", f.hidden]]) {
      el.setAttribute("aria-invalid", state.errors[key] ? "true" : "false");
    }
    const dirty = Boolean(state.config) && !sameDraft(state);
    setText($("#form-status"), dirty ? "changed — Run to apply" : "");
    form.dataset.dirty = String(dirty);
    setText($("#session-notice"), state.notice || "");
    $("#live").checked = Boolean(state.live);
    form.querySelector("[data-live]").hidden = d.seq !== "text";
  }

  function sameDraft(state) {
    const got = parseDraft(settings, state.draft);
    return got.values ? sameConfig(settings, got.values, state.config) : false;
  }

  return { render, applied: (values) => applied(settings, values), uploadChosen };
}

/** Which part of a bigger file is shown ("" when the file holds one layer, one direction). */
export function partShown(upload) {
  if (!upload?.directions || (upload.layers <= 1 && upload.directions.length <= 1)) return "";
  const dirs = upload.directions;
  const name = upload.filename ? `“${upload.filename}”` : "This file";
  if (upload.model) {  // a whole model: every cell runs, the Layer and Direction pickers choose one
    return `${name} is a whole model: ${upload.layers} layer${upload.layers === 1 ? "" : "s"} × ${dirs.length} direction${dirs.length === 1 ? "" : "s"} (${dirs.join(", ")}); `
      + "all of it runs — pick the cell shown with Layer and Direction.";
  }
  return `${name} holds ${upload.layers} layer${upload.layers === 1 ? "" : "s"} × ${dirs.length} direction${dirs.length === 1 ? "" : "s"} (${dirs.join(", ")}); `
    + `shown here: layer ${upload.shown.layer}, ${upload.shown.direction} direction only.`;
}

function uploadText(upload, d, state) {
  if (d.weights !== "upload" || !d.weights_id) return "";
  if (upload) {
    const name = upload.filename ?? "weights file";
    const size = upload.bytes ? `, ${(upload.bytes / 1024).toFixed(1)} KiB` : "";
    // what loading left out or changed (tensors left out, int8 read as float), as the record says
    const notices = (upload.notices ?? []).map((n) => ` — ${n}`).join("");
    return `uploaded: ${name} — ${upload.cell} (I = ${upload.input_size}, H = ${upload.hidden_size}${size})${notices}`;
  }
  const s = state.session;
  return s && state.config?.weights_id === d.weights_id
    ? `uploaded file: ${s.cell} (I = ${s.input_size}, H = ${s.hidden_size})` : "uploaded file";
}
