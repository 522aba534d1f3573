// Frames received from the WebSocket, kept by step t (bounded, least recently used out),
// so that stepping to a neighbour shows the engine's frame at once while the stream
// fetches the next neighbours ahead of the cursor.

const LIMIT = 512;
// The server keeps only its newest few queued frames, so an answer may never come:
// a request older than this is asked again.
const PENDING_MS = 400;

export function createFrameCache() {
  const frames = new Map(); // t -> frame (insertion order = recency)
  const pending = new Map(); // step asked for and not yet answered -> when

  return {
    get(t) {
      const f = frames.get(t);
      if (f) {
        frames.delete(t);
        frames.set(t, f);
      }
      return f;
    },
    has: (t) => frames.has(t),
    put(frame) {
      pending.delete(frame.t);
      frames.delete(frame.t);
      frames.set(frame.t, frame);
      if (frames.size > LIMIT) frames.delete(frames.keys().next().value);
    },
    /** Mark t as asked for; false if it is cached or (recently) asked for already. */
    want(t) {
      const now = performance.now();
      if (frames.has(t) || now - (pending.get(t) ?? -Infinity) < PENDING_MS) return false;
      pending.set(t, now);
      return true;
    },
    /** How many asked-for steps are still on their way (asked less than PENDING_MS ago). */
    inFlight() {
      const now = performance.now();
      let n = 0;
      for (const [t, when] of pending) {
        if (now - when < PENDING_MS) n += 1;
        else pending.delete(t);
      }
      return n;
    },
    /** Forget what is on its way (after a reconnect those answers will never come). */
    resetPending: () => pending.clear(),
    clear() {
      frames.clear();
      pending.clear();
    },
  };
}
