// What a Plotly view has done and has under way, written on its element for whoever waits
// on it (the browser tests do, instead of sleeping): `data-draws` counts the Plotly draws
// that have finished, `data-drawing` the pieces of work under way (a window being fetched,
// a draw not yet painted). `data-drawing="0"` means everything the view was asked to show
// is painted; a step that costs no draw leaves `data-draws` as it was.

export function createDrawCount(el) {
  let busy = 0;
  let draws = 0;
  const show = () => {
    el.dataset.drawing = String(busy);
    el.dataset.draws = String(draws);
  };
  show();

  /** Count `work` (a promise) as under way until it settles; its result. */
  async function during(work) {
    busy += 1;
    show();
    try {
      return await work;
    } finally {
      busy -= 1;
      show();
    }
  }

  /** Count a Plotly draw (the promise Plotly.react returns): under way, then drawn. */
  function drew(painted) {
    return during(Promise.resolve(painted).then(() => {
      draws += 1;
    }));
  }

  return { during, drew };
}
