// Clicks on the charts of views/charts.js: any click inside a plot seeks (not only one near
// a point of the line). The step is read off the x axis at the pointer, the unit off a
// heatmap's y axis, with Plotly's own axis mapping.

/** Bind the divs of chart set `set` ({divs: {id: div}, win}) once each: a click calls
 *  `onSeek(t, unit | null)`; `hiddenSize()` is the session's number of units. */
export function bindClicks(set, hiddenSize, onSeek) {
  for (const [id, div] of Object.entries(set.divs)) {
    if (div.dataset.bound) continue;
    div.dataset.bound = "1";
    div.addEventListener("click", (ev) => {
      const fl = div._fullLayout;
      const xa = fl?.xaxis;
      const ya = fl?.yaxis;
      if (!xa || !ya) return;
      const box = div.getBoundingClientRect();
      const px = ev.clientX - box.left - xa._offset;
      const py = ev.clientY - box.top - ya._offset;
      if (px < 0 || px > xa._length || py < 0 || py > ya._length) return;
      const t = Math.round(xa.p2l(px));
      const win = set.win;
      if (!win || t < win.start || t >= win.stop) return;
      const unit = id === "line" ? null : Math.round(ya.p2l(py));
      onSeek(t, unit !== null && unit >= 0 && unit < hiddenSize() ? unit : null);
    });
  }
}
