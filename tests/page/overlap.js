// Run in the page: the collisions of the diagram on screen. Boxes are screen rectangles of
// every non-empty text and every strip; pipes are sampled along their length. Returns
// sentences, one per collision.
(svg) => {
  const shrink = (r, d) => ({ l: r.left + d, r: r.right - d, t: r.top + d, b: r.bottom - d });
  const name = (e) => `${e.getAttribute('class') || e.tagName} “${(e.textContent || e.dataset.strip || '').trim().slice(0, 30)}”`;
  const items = [];
  for (const e of svg.querySelectorAll('text')) {
    if (!e.textContent.trim() || getComputedStyle(e).visibility === 'hidden') continue;
    const r = e.getBoundingClientRect();
    if (r.width && r.height) items.push({ e, box: shrink(r, 1), text: true });
  }
  for (const g of svg.querySelectorAll('g.strip')) {
    if (g.style.visibility === 'hidden') continue;
    const f = g.querySelector('.strip-frame');
    items.push({ e: g, box: shrink(f.getBoundingClientRect(), 0.5), text: false });
  }
  const hit = (a, b) => a.l < b.r && b.l < a.r && a.t < b.b && b.t < a.b;
  const out = [];
  for (let i = 0; i < items.length; i += 1) {
    for (let j = i + 1; j < items.length; j += 1) {
      const a = items[i]; const b = items[j];
      if (!a.text && !b.text) continue;
      if (hit(a.box, b.box)) out.push(`${name(a.e)} overlaps ${name(b.e)}`);
    }
  }
  const labels = items.filter((x) => x.text && !x.e.closest('g.node'));
  for (const path of svg.querySelectorAll('g.pipe path.flow')) {
    const m = path.getScreenCTM();
    const len = path.getTotalLength();
    const crossed = new Set();
    for (let s = 0; s <= len; s += 2) {
      const p = path.getPointAtLength(s);
      const x = m.a * p.x + m.c * p.y + m.e;
      const y = m.b * p.x + m.d * p.y + m.f;
      for (const l of labels) {
        if (x > l.box.l && x < l.box.r && y > l.box.t && y < l.box.b) crossed.add(l);
      }
    }
    for (const l of crossed) out.push(`pipe ${path.dataset.signal || path.parentNode.getAttribute('class')} crosses ${name(l.e)}`);
  }
  return out;
}
