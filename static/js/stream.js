// The WebSocket to /api/sessions/{id}/stream. The page only ever sends absolute
// seeks, so a reconnect simply re-seeks to the cursor and resumes at the same t.
// Frames older than the newest one seen (by `seq`) are dropped.

const BACKOFF_MS = [100, 250, 500, 1000, 2000, 4000];

/**
 * Open the stream of session `id`.
 * onFrame(frame) gets every fresh frame; onStatus(status) gets open/reconnecting/closed;
 * onError(message) gets server-side error messages; cursor() returns the t to resume at.
 */
export function openStream(id, { onFrame, onStatus, onError, cursor }) {
  let ws = null;
  let lastSeq = -1;
  let attempt = 0;
  let closedByUs = false;
  let retryTimer = null;
  let wanted = null; // last seek requested while the socket was not open

  const url = () => {
    const proto = window.location.protocol === "https:" ? "wss" : "ws";
    return `${proto}://${window.location.host}/api/sessions/${encodeURIComponent(id)}/stream`;
  };

  function connect() {
    onStatus(attempt === 0 ? "connecting" : "reconnecting");
    ws = new WebSocket(url());
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
        msg = JSON.parse(ev.data);
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
