// The WebSocket to /api/sessions/{id}/stream. The page only ever sends absolute
// seeks, so a reconnect simply re-seeks to the cursor and resumes at the same t.
// Frames older than the newest one seen (by `seq`) are dropped.
//
// Frames come in the binary format (?format=binary, app/wire.py): a JSON head, then the
// engine's numbers as little-endian floats that are read in place as typed-array views,
// with no parsing. Error messages stay JSON text.

import { isFirstPart } from "../state/parts.js";
import { TAB_ID } from "./api.js";

const BACKOFF_MS = [100, 250, 500, 1000, 2000, 4000];

const ARRAYS = { float32: Float32Array, float64: Float64Array };
const utf8 = new TextDecoder();

/** A binary frame: uint32 head length n, n bytes of JSON head, then the values (typed
 *  arrays read in the platform's byte order, little-endian wherever browsers run). */
export function decodeFrame(buffer) {
  const n = new DataView(buffer).getUint32(0, true);
  const head = JSON.parse(utf8.decode(new Uint8Array(buffer, 4, n)));
  const Values = ARRAYS[head.dtype];
  const signals = {};
  let offset = 4 + n;
  for (const [name, length] of head.signals) {
    signals[name] = new Values(buffer, offset, length);
    offset += length * Values.BYTES_PER_ELEMENT;
  }
  return { ...head, signals };
}

/**
 * Open the stream of session `id`.
 * onFrame(frame) gets every fresh frame; onStatus(status) gets open/reconnecting/closed;
 * onError(message) gets server-side error messages; cursor() returns the t to resume at;
 * part ({layer, direction}) is the model's cell streamed.
 */
export function openStream(id, { onFrame, onStatus, onError, cursor, part }) {
  let ws = null;
  let lastSeq = -1;
  let attempt = 0;
  let closedByUs = false;
  let retryTimer = null;
  let wanted = null; // last seek requested while the socket was not open

  const url = () => {
    const proto = window.location.protocol === "https:" ? "wss" : "ws";
    const q = new URLSearchParams({ format: "binary", tab: TAB_ID });
    if (!isFirstPart(part)) {
      q.set("layer", String(part.layer));
      q.set("direction", part.direction);
    }
    return `${proto}://${window.location.host}/api/sessions/${encodeURIComponent(id)}/stream?${q}`;
  };

  function connect() {
    onStatus(attempt === 0 ? "connecting" : "reconnecting");
    ws = new WebSocket(url());
    ws.binaryType = "arraybuffer";
    ws.addEventListener("open", () => {
      attempt = 0;
      lastSeq = -1; // a new connection numbers its frames afresh
      onStatus("open");
      send({ seek: wanted ?? cursor() });
      wanted = null;
    });
    ws.addEventListener("message", (ev) => {
      let msg;
      try {
        msg = typeof ev.data === "string" ? JSON.parse(ev.data) : decodeFrame(ev.data);
      } catch {
        return;
      }
      if (msg.error) {
        onError(String(msg.error));
        return;
      }
      if (typeof msg.seq === "number") {
        if (msg.seq <= lastSeq) return; // stale
        lastSeq = msg.seq;
      }
      if (msg.signals) onFrame(msg);
    });
    ws.addEventListener("close", () => {
      if (closedByUs) return;
      onStatus("reconnecting");
      const delay = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
      attempt += 1;
      retryTimer = setTimeout(connect, delay);
    });
  }

  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
    else if ("seek" in msg) wanted = msg.seek;
  }

  connect();
  return {
    /** Ask for the frame at step t. */
    seek(t) {
      send({ seek: t });
    },
    /** Close for good (a new session replaces this one). */
    close() {
      closedByUs = true;
      clearTimeout(retryTimer);
      if (ws) ws.close();
      onStatus("closed");
    },
  };
}
