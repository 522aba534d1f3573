// "Colour pipes by sensitivity": the diagram's pipes into step t (x_t, h_{t−1}, c_{t−1}) and
// its states (h_t, c_t) take the opacity of how much of_t[unit] depends on them, from the
// sensitivity view's last answer (server numbers; only mapped to an opacity here).

const FLOOR = 1e-8;
const opacity = (v, top) => {
  const frac = (Math.log10(Math.max(FLOOR, v)) - Math.log10(FLOOR)) / (Math.log10(top) - Math.log10(FLOOR));
  return Math.max(0.08, Math.min(1, frac)).toFixed(3);
};

/** Paint `svg`'s pipes from sensitivity answer `r` when `on`; clear them otherwise. */
export function paintPipes(svg, r, on) {
  if (!svg) return;
  svg.setAttribute("data-sensitivity-pipes", on ? "on" : "off");
  for (const node of svg.querySelectorAll("[data-sensitivity]")) {
    node.removeAttribute("data-sensitivity");
    node.style.removeProperty("--sens");
  }
  if (!on || !r || r.t !== Number(svg.getAttribute("data-t"))) return;
  const last = r.h.length - 1;
  const at = (key, k) => (r[key] && k >= 0 ? r[key][k] : undefined);
  const values = { x: at("x", last), h: at("h", last), c: at("c", last), h_prev: at("h", last - 1), c_prev: at("c", last - 1) };
  const top = Math.max(1, ...Object.values(values).filter((v) => v !== undefined));
  for (const [signal, v] of Object.entries(values)) {
    if (v === undefined) continue;
    for (const node of svg.querySelectorAll(`[data-signal="${signal}"]`)) {
      node.setAttribute("data-sensitivity", v.toPrecision(6));
      node.style.setProperty("--sens", opacity(v, top));
    }
  }
}
