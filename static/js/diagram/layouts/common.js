// Pieces shared by layouts: the faded neighbour cells and size labels. Plain data only.

/** Faded cells t−1 (left) and t+1 (right) with their inputs and outputs labelled. */
export function neighbours({ left = [20, 150], right = [860, 980], top = 70, bottom = 490, rows }) {
  const [l0, l1] = left;
  const [r0, r1] = right;
  const boxes = [
    { x: l0, y: top, w: l1 - l0, h: bottom - top, cls: "neighbour", title: "cell t−1" },
    { x: r0, y: top, w: r1 - r0, h: bottom - top, cls: "neighbour", title: "cell t+1" },
  ];
  const lx = (l0 + l1) / 2;
  const rx = (r0 + r1) / 2;
  const pipes = [
    { points: [[lx - 20, 592], [lx - 20, bottom + 2]], faded: true, cls: "faded",
      label: { text: "x_{t−1}", at: [lx - 14, 580] } },
    { points: [[lx + 30, top - 2], [lx + 30, 16]], faded: true, cls: "faded",
      label: { text: "h_{t−1}", at: [lx + 36, 28] } },
    { points: [[rx - 20, 592], [rx - 20, bottom + 2]], faded: true, cls: "faded",
      label: { text: "x_{t+1}", at: [rx - 14, 580] } },
    { points: [[rx + 30, top - 2], [rx + 30, 16]], faded: true, cls: "faded",
      label: { text: "h_{t+1}", at: [rx + 36, 28], anchor: "start" } },
  ];
  // The recurrent lines leaving t+1 to the right, faded.
  for (const [y, text] of rows || []) {
    pipes.push({ points: [[r1, y], [998, y]], faded: true, cls: "faded", arrow: true,
      label: { text, at: [r1 - 4, y - 8], anchor: "end" } });
  }
  return { boxes, pipes };
}

/** "h_{t−1} (H = 8)" style size note. */
export const sized = (label, n, letter) => `${label}  (${letter} = ${n})`;

/** Merge layout fragments (arrays are concatenated). */
export function merge(...parts) {
  const out = { boxes: [], pipes: [], nodes: [], texts: [] };
  for (const p of parts) for (const k of Object.keys(out)) out[k].push(...(p[k] || []));
  return out;
}
