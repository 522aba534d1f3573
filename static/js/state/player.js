// The cursor (t, stage): stepping, seeking, stage mode and play.
//
// Play follows a clock (llm-viz style): the k-th position of a play is due at
// start + k / speed, so the pace is a function of elapsed time, not of a chain of timers.
// It never skips a position: the cursor moves at most one position per animation frame,
// and only once the engine's frame for the current step is on screen; after a stall (a
// slow frame, a late answer) it catches up one position per frame. A debt longer than
// MAX_DEBT_S is forgiven (the clock is re-based) rather than raced through.

import * as store from "./store.js";

// Frames fetched ahead of the cursor: AHEAD when stepping by hand (and one behind),
// AHEAD_PLAYING while playing. The server keeps only its newest few queued frames (it says
// how many: GET /api/cells "stream.send_queue_frames"), so never more unanswered requests
// than that at once.
const AHEAD = 2;
const AHEAD_PLAYING = 8;
const MAX_DEBT_S = 0.75;

export function createPlayer(getStream, cache) {
  let rafId = 0;
  let maxInFlight = 1; // until the server says its queue size
  // The play's clock: position `taken` (positions moved since play) is due at
  // start + taken / speed.
  const clock = { start: 0, taken: 0, speed: 1 };

  const steps = () => store.get().session?.steps ?? 0;
  const clampT = (t) => Math.max(0, Math.min(steps() - 1, Math.round(t)));

  /** Ask the stream for step t unless it is cached or on its way. */
  function request(t) {
    if (t >= 0 && t < steps() && cache.want(t)) getStream()?.seek(t);
  }

  function prefetch(t) {
    const playing = store.get().playing;
    const ahead = playing ? AHEAD_PLAYING : AHEAD;
    for (let k = 1; k <= ahead && t + k < steps(); k += 1) {
      if (cache.has(t + k)) continue;
      if (cache.inFlight() >= maxInFlight) return;
      request(t + k);
    }
    if (!playing && cache.inFlight() < maxInFlight) request(t - 1);
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

  /** A frame arrived from the stream: cache it; show it if it is the cursor's step. */
  function receive(frame) {
    cache.put(frame);
    const s = store.get();
    if (frame.t === s.t && s.frame?.t !== frame.t) {
      store.set({ frame });
      prefetch(frame.t);
    } else if (s.playing) {
      prefetch(s.t); // keep the pipeline ahead of the cursor full
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

  const msPerStep = () => 1000 / clock.speed;

  function tick(now) {
    rafId = 0;
    const s = store.get();
    if (!s.playing) return;
    const speed = Math.max(1, s.speed);
    if (speed !== clock.speed) {
      // a new speed keeps the current position due now
      clock.speed = speed;
      clock.start = now - clock.taken * msPerStep();
    }
    let due = Math.floor((now - clock.start) / msPerStep());
    const maxDebt = Math.max(2, Math.ceil(MAX_DEBT_S * speed));
    if (due - clock.taken > maxDebt) {
      clock.start = now - (clock.taken + maxDebt) * msPerStep();
      due = clock.taken + maxDebt;
    }
    const shown = s.frame && s.frame.t === s.t;
    if (shown && due > clock.taken) {
      if (atEnd()) {
        pause();
        return;
      }
      clock.taken += 1;
      step(+1);
    }
    rafId = requestAnimationFrame(tick);
  }

  function play() {
    if (steps() === 0) return;
    if (atEnd()) seek(0, store.get().stage === "all" ? "all" : store.get().stages[0]);
    store.set({ playing: true });
    clock.speed = Math.max(1, store.get().speed);
    clock.start = performance.now();
    clock.taken = 0;
    prefetch(store.get().t);
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
    /** The server's send queue size: how many frames may be asked for at once. */
    setQueue: (n) => { maxInFlight = Math.max(1, n); },
  };
}
