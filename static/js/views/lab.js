// The Lab view (`/?lab=NAME`): an experiment's committed results (GET /api/lab/NAME) as a
// table, one row per arm ([data-arm], the arm's mean of the primary metric in data-value),
// mean ± 95% CI per learning rate with the paper's numbers beside where it gives them, each
// row's trials on hover, "open" on an arm (its best model, the preset lab-NAME-ARM), the
// learning curves, the accuracy-vs-length plot where the experiment has one, the checked
// claims and the run's log. The numbers are the server's; nothing is recomputed here but
// the mean curve drawn across seeds.

import { request } from "../net/api.js";
import { CONFIG } from "./chart_figures.js";

const el = (tag, attrs = {}, text) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
};
const fmt = (x) => (Math.abs(x) >= 100 ? x.toFixed(1) : Math.abs(x) >= 10 ? x.toFixed(2) : x.toFixed(4));
const pm = (s) => (s ? `${fmt(s.mean)} ± ${fmt(s.ci95)}` : "—");

/** The section for ?lab=NAME, placed at the top of `host`; {keys, update} like the page's
 *  other views (the lab reads only the URL, so update has nothing to follow). */
export function createLabView(host, search = window.location.search) {
  const name = new URLSearchParams(search).get("lab");
  const view = { keys: [], update() {} };
  if (!name) return view;
  const section = el("section", { class: "panel lab", "data-view": "lab", "data-name": name,
    "aria-labelledby": "lab-title", "aria-busy": "true" });
  section.append(el("h2", { id: "lab-title" }, `Lab: ${name}`));
  host.prepend(section);
  request("GET", `/api/lab/${encodeURIComponent(name)}`)
    .then((r) => render(section, r))
    .catch((err) => {
      section.append(el("p", { role: "alert", class: "lab-error" }, err.message));
      section.setAttribute("aria-busy", "false");
    });
  return view;
}

function render(section, r) {
  section.querySelector("#lab-title").textContent = `Lab: ${r.title}`;
  section.append(el("p", { class: "lab-source" }, `Reproduces: ${r.source}.`));
  const about = el("details", { class: "lab-about" });
  about.append(el("summary", {}, "How it is run"), el("p", {}, r.about));
  section.append(about);
  section.append(table(r));
  section.append(conclusions(r));
  const curves = el("div", { class: "lab-chart", "data-view": "lab-curves", role: "img",
    "aria-label": "Held-out score by training step, each arm's mean over seeds" });
  section.append(curves);
  const byLength = lengthPlot(r);
  if (byLength) section.append(byLength.div);
  const log = el("details", { class: "lab-log" });
  log.append(el("summary", {}, "Log of the run that made these results"), el("pre", {}, r.log));
  section.append(log);
  section.setAttribute("aria-busy", "false");
  section.dataset.ready = "true";
  drawCurves(curves, r);
  if (byLength) byLength.draw();
}

function table(r) {
  const paper = r.paper?.by_lr ?? null; // per learning rate, per arm: [mean, ci95]
  const paperArm = r.paper?.by_arm ?? {};
  const t = el("table", { class: "lab-table" });
  t.append(el("caption", {}, `${r.primary} (${r.lower_is_better ? "lower" : "higher"} is better), `
    + `mean ± 95% CI over ${r.trials_per_lr ?? "the"} seeds`));
  const head = el("tr");
  head.append(el("th", { scope: "col" }, "arm"), el("th", { scope: "col" }, "all trials"));
  for (const lr of r.lrs) {
    head.append(el("th", { scope: "col" }, `lr ${lr}`));
    if (paper?.[lr]) head.append(el("th", { scope: "col" }, `article, lr ${lr}`));
  }
  if (!paper && Object.keys(paperArm).length) head.append(el("th", { scope: "col" }, "paper"));
  head.append(el("th", { scope: "col" }, "model"));
  const thead = el("thead");
  thead.append(head);
  t.append(thead);
  const body = el("tbody");
  for (const arm of r.arms) {
    const s = arm.summary[r.primary];
    const row = el("tr", { "data-arm": arm.name, "data-value": String(s.mean) });
    row.title = arm.trials.map((x) => `lr ${x.lr} seed ${x.seed}: ${fmt(x.metrics[r.primary])}`).join("\n");
    row.append(el("th", { scope: "row" }, arm.label || arm.name),
      el("td", { "data-lr": "all" }, pm(s)));
    for (const lr of r.lrs) {
      row.append(el("td", { "data-lr": lr }, pm(arm.by_lr?.[lr]?.[r.primary])));
      if (paper?.[lr]) {
        const p = paper[lr][arm.name];
        row.append(el("td", { "data-paper": lr }, p ? `${p[0]} ± ${p[1]}` : "—"));
      }
    }
    if (!paper && Object.keys(paperArm).length) {
      const p = paperArm[arm.name];
      row.append(el("td", { "data-paper": "arm" }, p ? Object.entries(p).map(([k, v]) => `${k} ${v}`).join(", ") : "—"));
    }
    const open = el("td");
    const link = el("a", { href: `/?preset=${encodeURIComponent(`lab-${r.name}-${arm.name}`)}`,
      "data-open": arm.name }, "open");
    link.setAttribute("aria-label", `open the best ${arm.label || arm.name} model in the diagram`);
    open.append(link);
    row.append(open);
    body.append(row);
  }
  t.append(body);
  return t;
}

function conclusions(r) {
  const box = el("div", { class: "lab-conclusions" });
  box.append(el("h3", {}, "The article's claims, checked on this run"));
  const list = el("ul");
  for (const c of r.conclusions) {
    const item = el("li", { "data-verdict": c.verdict });
    item.append(el("strong", {}, `${c.verdict}: `), document.createTextNode(`${c.claim}. `),
      el("span", { class: "lab-detail" }, c.detail));
    list.append(item);
  }
  box.append(list);
  return box;
}

function drawCurves(div, r) {
  if (!window.Plotly) return;
  const traces = [];
  for (const arm of r.arms) {
    for (const lr of r.lrs) {
      const curves = arm.trials.filter((x) => String(x.lr) === lr || `${x.lr}` === lr).map((x) => x.curve);
      if (!curves.length) continue;
      const steps = curves[0].map((p) => p[0]);
      const mean = steps.map((_, k) => {
        const vals = curves.filter((c) => c[k]).map((c) => c[k][2]);
        return vals.reduce((a, b) => a + b, 0) / vals.length;
      });
      traces.push({ x: steps, y: mean, mode: "lines+markers", name: `${arm.label || arm.name}, lr ${lr}` });
    }
  }
  window.Plotly.react(div, traces, {
    margin: { l: 50, r: 10, t: 10, b: 40 }, height: 320,
    xaxis: { title: { text: "training step" } },
    yaxis: { title: { text: "held-out score (as the fit saw it)" } },
  }, CONFIG);
}

/** Each arm's best trial against length: `extra.accepted_by_n` ("0"/"1" per n: was the
 *  string of length n accepted) or `extra.accuracy_by_n` (the fraction right at each n),
 *  averaged over up to 50 bins either way. */
function lengthPlot(r) {
  const series = (x) => {
    const e = x.extra || {};
    if (e.accuracy_by_n) return e.accuracy_by_n;
    return e.accepted_by_n ? [...e.accepted_by_n].map((b) => (b === "1" ? 1 : 0)) : null;
  };
  const arms = r.arms.filter((a) => a.trials.some(series));
  if (!arms.length) return null;
  const accuracy = arms.some((a) => a.trials.some((x) => x.extra?.accuracy_by_n));
  const what = accuracy ? "accuracy" : "accepted";
  const div = el("div", { class: "lab-chart", "data-view": "lab-length", role: "img",
    "aria-label": accuracy ? "Accuracy by string length n, each arm's best trial"
      : "Fraction of strings accepted by n, each arm's best trial" });
  const draw = () => {
    if (!window.Plotly) return;
    const traces = arms.map((arm) => {
      const best = arm.trials.reduce((a, b) => (b.metrics[r.primary] > a.metrics[r.primary] ? b : a));
      const values = series(best);
      const size = Math.max(1, Math.ceil(values.length / 50));
      const x = [];
      const y = [];
      for (let k = 0; k < values.length; k += size) {
        const part = values.slice(k, k + size);
        x.push(k + part.length);
        y.push(part.reduce((a, b) => a + b, 0) / part.length);
      }
      return { x, y, mode: "lines", name: arm.label || arm.name };
    });
    window.Plotly.react(div, traces, {
      margin: { l: 50, r: 10, t: 10, b: 40 }, height: 280,
      xaxis: { title: { text: "n" } }, yaxis: { title: { text: what }, range: [0, 1.05] },
    }, CONFIG);
  };
  return { div, draw };
}
