// The Train panel: train a character model on some text (or the sequence on screen) on the
// server, watch its progress and loss, cancel it; when it is done, open its session.
// Its settings (source, kind, size, steps) are rows of the one settings table (role
// "train"); the job on screen is the store's `training`. The loss chart only plots the
// numbers the server sent.

import { cancelTraining, followTraining, startTraining } from "../net/training.js";
import { parseValue } from "../state/settings.js";
import * as store from "../state/store.js";
import { CONFIG } from "./chart_figures.js";

const $ = (sel) => document.querySelector(sel);
const FONT = { family: "system-ui, sans-serif", size: 11, color: "#222" };
const STATE_TEXT = { queued: "Waiting for the server's training slot…", running: "Training…",
  done: "Done: opening the trained model.", failed: "Training failed", cancelled: "Cancelled." };

export function createTrainPanel({ settings, onTrained }) {
  const el = {
    form: $("#train"), text: $("#train-text"), cell: $("#train-cell"), hidden: $("#train-hidden"),
    steps: $("#train-steps"), start: $("#train-start"), cancel: $("#train-cancel"),
    progress: $("#train-progress"), status: $("#train-status"), error: $("#train-error"),
    chart: $("#train-loss"),
  };
  const row = (key) => settings.row(key);
  const sources = () => [...el.form.querySelectorAll('input[name="train_on"]')];

  el.cell.replaceChildren(...row("train_cell").values.map((k) => new Option(k.replaceAll("_", " "), k)));
  el.cell.value = row("train_cell").def;
  el.hidden.value = row("train_hidden").def;
  el.steps.value = row("train_steps").def;
  for (const radio of sources()) radio.checked = radio.value === row("train_on").def;
  const showSource = () => {
    el.text.disabled = sources().find((r) => r.checked)?.value !== "text";
  };
  for (const radio of sources()) radio.addEventListener("change", showSource);
  showSource();

  let stopFollowing = null;
  let points = { x: [], y: [] };
  let pending = { x: [], y: [] };
  let drawScheduled = false;

  function resetChart() {
    points = { x: [], y: [] };
    pending = { x: [], y: [] };
    el.chart.dataset.points = "0";
    window.Plotly?.newPlot(el.chart, [{ x: [], y: [], mode: "lines", name: "loss", line: { color: "#0072B2", width: 1.5 } }], {
      height: 200, margin: { l: 56, r: 12, t: 8, b: 38 }, font: FONT, showlegend: false,
      xaxis: { title: { text: "step" } }, yaxis: { title: { text: "loss (nats)" } },
    }, CONFIG);
  }

  function draw() {
    drawScheduled = false;
    if (!pending.x.length) return;
    const batch = pending;
    pending = { x: [], y: [] };
    points.x.push(...batch.x);
    points.y.push(...batch.y);
    window.Plotly?.extendTraces(el.chart, { x: [batch.x], y: [batch.y] }, [0]);
    el.chart.dataset.points = String(points.x.length);
  }

  function onStep(step, loss) {
    pending.x.push(step);
    pending.y.push(loss);
    if (!drawScheduled) {
      drawScheduled = true;
      requestAnimationFrame(draw);
    }
    const job = store.get().training;
    if (job) store.set({ training: { ...job, step, loss } });
  }

  async function onState(record) {
    store.set({ training: { ...record } });
    if (record.state === "done" && record.session) await onTrained(record.session);
  }

  function render(job) {
    const active = job && (job.state === "queued" || job.state === "running");
    el.start.disabled = Boolean(active);
    el.cancel.disabled = !active;
    el.progress.max = job?.steps || 1;
    el.progress.value = job?.step || 0;
    el.progress.dataset.step = String(job?.step ?? 0);
    el.progress.dataset.state = job?.state ?? "";
    el.progress.dataset.job = job?.job ?? "";
    if (!job) return;
    const loss = job.loss === null || job.loss === undefined ? "" : `, loss ${job.loss.toFixed(4)}`;
    const why = job.error ? `: ${job.error}` : "";
    el.status.textContent = `${STATE_TEXT[job.state] ?? job.state}${why} Step ${job.step} of ${job.steps}${loss}.`;
  }

  function fail(message) {
    el.error.textContent = message;
  }

  function trainingText() {
    const source = sources().find((r) => r.checked)?.value;
    if (source === "text") return { text: el.text.value };
    const s = store.get();
    if (s.config?.seq !== "text") return { error: "The sequence on screen is numbers; training here learns text. Choose “what I type below” and type some." };
    return { text: s.config.text };
  }

  el.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fail("");
    const got = {};
    for (const [key, input] of [["train_hidden", el.hidden], ["train_steps", el.steps]]) {
      const parsed = parseValue(row(key), input.value);
      if ("error" in parsed) return fail(parsed.error);
      got[key] = parsed.value;
    }
    const { text, error } = trainingText();
    if (error) return fail(error);
    if (!text || text.length < 2) return fail("The training text needs at least 2 characters.");
    stopFollowing?.();
    resetChart();
    try {
      const { job } = await startTraining({ text, cell: el.cell.value, hidden_size: got.train_hidden, steps: got.train_steps });
      store.set({ training: { job, state: "queued", step: 0, steps: got.train_steps, loss: null, session: null } });
      stopFollowing = followTraining(job, { onStep, onState });
    } catch (err) {
      fail(err.message);
    }
  });

  el.cancel.addEventListener("click", async () => {
    const job = store.get().training;
    if (!job) return;
    try {
      store.set({ training: await cancelTraining(job.job) });
    } catch (err) {
      fail(err.message);
    }
  });

  store.subscribe((s, changed) => {
    if (changed.has("training")) render(s.training);
  });
  render(store.get().training);
}
