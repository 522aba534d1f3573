// The cursor (t, stage): stepping, seeking, stage mode and play. Play advances one step
// at a time, and only after the previous step's frame is on screen, so no position is
// ever skipped; its pace comes from requestAnimationFrame, not from a chain of timers.

import * as store from "./store.js";

// Frames fetched ahead of the cursor (and one behind), after the cursor's own frame has
// come: the server keeps only its newest 4 queued frames, so never ask for more at once.
const AHEAD = 2;

export function createPlayer(getStream, cache) {
  let nextDue = 0;
  let rafId = 0;

  const steps = () => store.get().session?.steps ?? 0;
  const clampT = (t) => Math.max(0, Math.min(steps() - 1, Math.round(t)));

  /** Ask the stream for step t unless it is cached or on its way. */
  function request(t) {
    if (t >= 0 && t < steps() && cache.want(t)) getStream()?.seek(t);
  }

  /** Move the cursor to step t (and stage): a cached frame shows at once, else the stream
   *  fetches it; the neighbours are fetched ahead either way. */
  function seek(t, stage = store.get().stage) {
    const nt = clampT(t);
    const cached = cache.get(nt);
    if (cached) {
      store.set({ t: nt, stage, frame: cached });
      prefetch(nt);
      return;
    }
    store.set({ t: nt, stage });
    ensureFrame();
  }

  // Ask for the cursor's frame until it is on screen (a request the server dropped from
  // its bounded queue is asked again).
  let retry = 0;
  function ensureFrame() {
    clearTimeout(retry);
    const { t, frame } = store.get();
    if (frame?.t === t || steps() === 0) return;
    if (cache.want(t)) getStream()?.seek(t);
    retry = setTimeout(ensureFrame, 450);
  }

  function prefetch(t) {
    for (let k = 1; k <= AHEAD; k += 1) request(t + k);
    request(t - 1);
  }

  /** A frame arrived from the stream: cache it; show it if it is the cursor's step. */
  function receive(frame) {
    cache.put(frame);
    if (frame.t === store.get().t && store.get().frame?.t !== frame.t) {
      store.set({ frame });
      prefetch(frame.t);
    }
  }

  /** One step forward (+1) or back (−1); in stage mode, one stage. */
  function step(dir) {
    const { t, stage, stages } = store.get();
    if (stage === "all" || !stages.length) {
      seek(t + dir);
      return;
    }
    const k = stages.indexOf(stage) + dir;
    if (k >= 0 && k < stages.length) store.set({ stage: stages[k] });
    else if (dir > 0 && t < steps() - 1) seek(t + 1, stages[0]);
    else if (dir < 0 && t > 0) seek(t - 1, stages[stages.length - 1]);
  }

  function atEnd() {
    const { t, stage, stages } = store.get();
    const lastStage = stage === "all" || stage === stages[stages.length - 1];
    return t >= steps() - 1 && lastStage;
  }

  function tick(now) {
    rafId = 0;
    const s = store.get();
    if (!s.playing) return;
    const shown = s.frame && s.frame.t === s.t;
    const interval = 1000 / Math.max(1, s.speed);
    // One step per animation frame at most (no position is skipped); the schedule keeps
    // its pace across frame jitter, and never builds up a debt longer than one interval.
    if (shown && now >= nextDue) {
      if (atEnd()) {
        pause();
        return;
      }
      nextDue = Math.max(nextDue + interval, now - interval);
      step(+1);
    }
    rafId = requestAnimationFrame(tick);
  }

  function play() {
    if (steps() === 0) return;
    if (atEnd()) seek(0, store.get().stage === "all" ? "all" : store.get().stages[0]);
    store.set({ playing: true });
    nextDue = performance.now() + 1000 / Math.max(1, store.get().speed);
    if (!rafId) rafId = requestAnimationFrame(tick);
  }

  function pause() {
    store.set({ playing: false });
    if (rafId) cancelAnimationFrame(rafId);
    rafId = 0;
  }

  /** Turn stage mode on (starting at the first stage) or off (whole steps). */
  function setStageMode(on) {
    const { stages } = store.get();
    store.set({ stage: on && stages.length ? stages[0] : "all" });
  }

  return {
    seek,
    receive,
    step,
    play,
    pause,
    toggle: () => (store.get().playing ? pause() : play()),
    home: () => seek(0, store.get().stage === "all" ? "all" : store.get().stages[0]),
    end: () => seek(steps() - 1, store.get().stage === "all" ? "all" : store.get().stages.at(-1)),
    setStageMode,
  };
}
