// Labels such as "c_{t−1}", "h_t", "W_f·[h_{t−1}, x_t]" or "o_t^pre" written with real
// subscripts and superscripts, in SVG (tspans) or HTML (sub/sup). Text goes in only
// through textContent, so user or server text can never become markup.

const SVG_NS = "http://www.w3.org/2000/svg";

/** Split a label into [{text, script: "" | "sub" | "sup"}] segments. */
export function parseMath(label) {
  const out = [];
  let plain = "";
  const s = String(label ?? "");
  for (let i = 0; i < s.length; i += 1) {
    const ch = s[i];
    if ((ch === "_" || ch === "^") && i + 1 < s.length) {
      if (plain) out.push({ text: plain, script: "" });
      plain = "";
      const script = ch === "_" ? "sub" : "sup";
      if (s[i + 1] === "{") {
        const end = s.indexOf("}", i + 2);
        const stop = end < 0 ? s.length : end;
        out.push({ text: s.slice(i + 2, stop), script });
        i = stop;
      } else {
        // a bare script runs over letters, digits and the minus sign: x_t, b_hn, t−1
        let j = i + 1;
        while (j < s.length && /[\p{L}\p{N}−]/u.test(s[j])) j += 1;
        out.push({ text: s.slice(i + 1, j), script });
        i = j - 1;
      }
    } else {
      plain += ch;
    }
  }
  if (plain) out.push({ text: plain, script: "" });
  return out;
}

/** Append `label` to an SVG <text> element as tspans. */
export function appendSvgMath(textEl, label) {
  for (const seg of parseMath(label)) {
    const span = document.createElementNS(SVG_NS, "tspan");
    span.textContent = seg.text;
    if (seg.script) {
      span.setAttribute("class", seg.script);
      span.setAttribute("baseline-shift", seg.script === "sub" ? "sub" : "super");
      span.setAttribute("font-size", "72%");
    }
    textEl.appendChild(span);
  }
  return textEl;
}

/** Append `label` to an HTML element with <sub>/<sup>. */
export function appendHtmlMath(el, label) {
  for (const seg of parseMath(label)) {
    if (!seg.script) {
      el.appendChild(document.createTextNode(seg.text));
    } else {
      const node = document.createElement(seg.script);
      node.textContent = seg.text;
      el.appendChild(node);
    }
  }
  return el;
}

/** A number as shown on screen (3 decimals; exponent for tiny or huge magnitudes). */
export function formatNumber(v, digits = 3) {
  if (v === undefined || v === null || Number.isNaN(v)) return "—";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2).replace("-", "−");
  return v.toFixed(digits).replace("-", "−");
}

/** How each op of the engine's signal descriptions is written with its arguments (the
 *  numbers are the engine's; the page only writes them into the formula). */
export const OPS = {
  sigmoid: (a) => ["σ(", a[0], ")"],
  tanh: (a) => ["tanh(", a[0], ")"],
  relu: (a) => ["relu(", a[0], ")"],
  mul: (a) => [a[0], " × ", a[1]],
  add: (a) => [a[0], " + ", a[1]],
  one_minus_mul: (a) => ["(1 − ", a[0], ") × ", a[1]],
  normalize: (a) => [a[0], " / ", a[1]],
  identity: (a) => [a[0]],
  positive_g: (a) => ["g(", a[0], ")"],
  share: (a) => [a[0], " / (", a[0], " + ", a[1], ")"],
  exp_minus: (a) => ["exp(", a[0], " − ", a[1], ")"],
  stabilized_forget: (a) => ["exp(", a[1], " + log σ(", a[0], ") − ", a[2], ")"],
  max_log: (a) => ["max(", a[0], ", ", a[2], " + log σ(", a[1], "))"],
  mul_add: (a) => [a[0], " × ", a[1], " + ", a[2]],
  mul_div: (a) => [a[0], " × ", a[1], " / ", a[2]],
};
