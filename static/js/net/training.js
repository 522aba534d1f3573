// Training jobs on the server: POST /api/train, GET/DELETE /api/train/{job}, and the
// WebSocket /api/train/{job}/progress that sends the steps done since its last message
// ({"step", "loss", "losses": [[step, loss], ...]}) and the job's record ({"state", ...})
// whenever its state changes.

import { request, TAB_ID } from "./api.js";

export const startTraining = (body) => request("POST", "/api/train", body);
export const readTraining = (job) => request("GET", `/api/train/${encodeURIComponent(job)}`);
export const cancelTraining = (job) => request("DELETE", `/api/train/${encodeURIComponent(job)}`);

const FINISHED = new Set(["done", "failed", "cancelled"]);
const POLL_MS = 500;

/** Follow a job: onStep(step, loss) per step, onState(record) on every state change, until
 *  it finishes. If the socket drops early, the job is polled instead. Returns stop(). */
export function followTraining(job, { onStep, onState }) {
  let stopped = false;
  let finished = false;
  let timer = null;
  const state = (record) => {
    if (FINISHED.has(record.state)) finished = true;
    onState(record);
  };
  const poll = async () => {
    if (stopped || finished) return;
    try {
      state(await readTraining(job));
    } catch {
      /* the next poll tries again */
    }
    if (!finished && !stopped) timer = setTimeout(poll, POLL_MS);
  };
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${window.location.host}/api/train/${encodeURIComponent(job)}/progress?tab=${TAB_ID}`);
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if ("state" in message) state(message);
    else if ("losses" in message) for (const [step, loss] of message.losses) onStep(step, loss);
    else if ("step" in message) onStep(message.step, message.loss);
  };
  ws.onclose = () => {
    if (!stopped && !finished) poll();
  };
  return () => {
    stopped = true;
    clearTimeout(timer);
    ws.close();
  };
}
