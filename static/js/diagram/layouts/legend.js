// Legend entries as plain data, chosen by each layout for its kind: a GRU's states are
// h_{t−1} / h_t, an RNN has no valves, the prototypes of “Written Memories” (r2rt, 2016) read their state through a
// read valve. An entry: {swatches: [[class, text]], text: math label ("c_{t−1}", "x_t")}.

const VALVE = { swatches: [["op", "⊙"]], text: "element-wise product: the flow times the gate, drawn as a valve" };
const VALVE_LOOK = {
  swatches: [["valve-shut", ""], ["valve-open", ""]],
  text: "a valve: disc across the pipe and pale = shut (gate ≈ 0); disc along the pipe and dark = open (gate ≈ 1)",
};
const GATE_SCALE = { swatches: [["gate-scale", ""]], text: "gate colour, 0 (white) … 1 (dark grey): a gate is never negative" };
const SUM = { swatches: [["op", "+"]], text: "element-wise sum (a T-joint merging two flows)" };
const TANH = { swatches: [["layer", "tanh"]], text: "tanh layer tanh(W·input + b), values in (−1, 1)" };
const SIGN = { swatches: [["pos", ""], ["neg", ""]], text: "pipe colour: positive / negative; width: magnitude (selected unit)" };
const STRIP = { swatches: [["strip", ""]], text: "strip: the whole vector, one cell per unit; click a cell to select that unit" };

const sigmoid = (input) => ({ swatches: [["layer", "σ"]], text: `sigmoid layer σ(${input} + b), values in (0, 1)` });
const states = (prev, next, what) => ({
  swatches: [["state-prev", ""], ["state-new", ""]], text: `${prev} (${what[0]}) / ${next} (${what[1]})`,
});
const note = (swatch, text) => ({ swatches: [[swatch[0], swatch[1]]], text });

/** LSTM and peephole LSTM (both styles); `projection`: P of an LSTM with proj_size. */
export function lstmLegend({ peephole, memoryCell, projection = null }) {
  const out = [VALVE, VALVE_LOOK, GATE_SCALE, SUM, sigmoid("W·[h_{t−1}, x_t]"), TANH, SIGN,
    states("c_{t−1}", "c_t", ["old memory", "new memory"])];
  if (memoryCell) out.push(note(["cell", "Cell"], "the memory c: it loops back to itself through the forget valve"));
  if (peephole) out.push(note(["peephole", ""], "peephole: the cell state fed to a gate (c_{t−1} → i, f; c_t → o)"));
  if (projection) {
    out.push(note(["projection", "W·m"], `projection h_t = W_{hr}·m_t: the output valve gives m_t = o_t ⊙ tanh(c_t) (H values); h_t has P = ${projection} values, and it is what leaves the cell and comes back as h_{t−1}`));
  }
  return [...out, STRIP];
}

/** GRU: the state is h; z is a keep gate, 1 − z the write valve. */
export function gruLegend() {
  return [VALVE, VALVE_LOOK, GATE_SCALE, SUM, note(["op", "1−"], "1 − z_t: the write valve opens as the keep valve closes"),
    sigmoid("W·[h_{t−1}, x_t]"), TANH, SIGN, states("h_{t−1}", "h_t", ["previous state", "new state"]),
    note(["gate", "z"], "update gate z_t keeps: z_t ⊙ h_{t−1} stays, (1 − z_t) ⊙ n_t is written (a “do-not-update” gate, as “Written Memories”, r2rt 2016, reads it)"),
    note(["gate", "r"], "reset gate r_t: how much of h_{t−1} the candidate n_t reads"),
    STRIP];
}

/** Vanilla RNN: one layer, no gates. */
export function rnnLegend({ act }) {
  const layer = act === "relu"
    ? { swatches: [["layer", "relu"]], text: "relu layer relu(W·[h_{t−1}, x_t] + b), values ≥ 0" }
    : { swatches: [["layer", "tanh"]], text: "tanh layer tanh(W·[h_{t−1}, x_t] + b), values in (−1, 1)" };
  return [layer, SIGN, states("h_{t−1}", "h_t", ["previous state", "new state"]),
    { swatches: [], text: "no gates, no valves: the whole state is rewritten at every step" }, STRIP];
}

/** The prototype, normalised prototype and pseudo LSTM of Written Memories (r2rt, 2016), both styles. */
export function prototypeLegend({ kind, memoryCell }) {
  const pseudo = kind === "pseudo_lstm";
  const read = pseudo ? "tanh(c_{t−1})" : "c_{t−1}";
  const out = [VALVE, VALVE_LOOK, GATE_SCALE, SUM, sigmoid(`W·${read} + U·x_t`), TANH, SIGN,
    states("c_{t−1}", "c_t", ["old state", "new state"])];
  if (memoryCell) out.push(note(["cell", "Cell"], "the state c: it loops back to itself through the forget valve"));
  out.push(note(["gate", "o"], `read valve o_t: gates the read ${read} into the candidate c̃_t (no output valve)`));
  if (kind === "normalized_lstm") {
    out.push(note(["op", "÷"], "÷ √(var(ĉ_t) + 1): the new state divided by its spread over the units (a soft bound)"));
  }
  out.push(pseudo ? note(["op", "tanh"], "output h_t = tanh(c_t): the squashed state (tanh also squashes the read)")
    : note(["state-new", ""], "output h_t = c_t: the state itself"));
  return [...out, STRIP];
}

/** minGRU and minLSTM (Feng et al. 2024): valves of x_t only, the positive g. */
export function minRnnLegend({ lstm, normalize }) {
  const out = [VALVE, VALVE_LOOK, GATE_SCALE, SUM, sigmoid("W·x_t"),
    { swatches: [["layer", "g"]], text: "g layer: g(W·x_t + b) = x + ½ for x ≥ 0, σ(x) below: always positive" },
    SIGN, states("h_{t−1}", "h_t", ["previous state", "new state"]),
    note(["bus", ""], "no feedback: the gates read x_t only, so every step's valves are known in advance (a parallel scan)")];
  if (lstm && normalize) out.push(note(["balance", "f′+i′"], "balance valve: f′ = f/(f + i) and i′ = i/(f + i) always add up to 1"));
  if (!lstm) out.push(note(["op", "1−"], "1 − z_t: the keep valve closes as the write valve z_t opens"));
  return [...out, STRIP];
}

/** Mamba (Gu and Dao 2023): one channel's N states, each behind a retention valve. */
export function mambaLegend({ N, K }) {
  return [VALVE, VALVE_LOOK, GATE_SCALE, SUM, SIGN,
    states("h_{t−1}[n]", "h_t[n]", ["a state before", "after"]),
    note(["valve-open", ""], `retention valve exp(Δ_t A_n): how much of state n is kept (A_n < 0); one per state, N = ${N}`),
    note(["gate", "Δ"], "selectivity knob Δ_t = softplus(…): turning it up opens every write Δ_t B_t u_t and closes every retention at once"),
    note(["layer", "SiLU"], `delay line: the conv reads this step's x_in and the ${K - 1} before it (K = ${K} taps), then SiLU gives u_t`),
    note(["bus", ""], "bypass D ⊙ u_t: the input skips the states and joins the read-out y_t = C_t · h_t + D ⊙ u_t"),
    note(["gate", "SiLU"], "output valve SiLU(z_t): gates y_t before out_proj mixes the channels back to H values"),
    STRIP];
}

/** sLSTM (Beck et al. 2024): exponential input gate, normalizer n, stabilizer m. */
export function slstmLegend({ heads }) {
  return [VALVE, VALVE_LOOK, SUM, sigmoid("W·x_t + R·h_{t−1}"), TANH, SIGN,
    states("c_{t−1}", "c_t", ["old memory", "new memory"]),
    note(["layer", "exp"], "exponential input gate i_t = exp(ĩ − m_t): a write may outweigh all that is kept"),
    note(["state-new", "n"], "normalizer n_t: the total weight written, kept as c is; h_t = o_t ⊙ c_t / n_t"),
    note(["gauge", "m"], "stabilizer m_t (a log scale): c and n are stored times exp(−m_t); h does not depend on it"),
    ...(heads > 1 ? [note(["bus", ""], `R is block-diagonal: ${heads} heads, h_{t−1} of a head feeds only its own gates`)] : []),
    STRIP];
}

/** mLSTM (Beck et al. 2024): a matrix memory per head, written by v kᵀ, read by a query. */
export function mlstmLegend({ heads, gated, memoryCell = false }) {
  return [VALVE, VALVE_LOOK, SUM, SIGN,
    note(["tank", "C"], "memory tank C_t: the selected unit's head, a d × d heatmap (rows: value dims, columns: key dims), coloured relative to its largest |entry|; the row the selected unit reads is framed"),
    ...(memoryCell ? [note(["cell", "Cell"], "the Cell is the tank: the memory C loops back to itself through the forget valve, and n beside it through the same gate")] : []),
    note(["op", "v kᵀ"], "k vᵀ nozzle: the outer product v_t k_tᵀ, written through the exponential input valve i_t = exp(ĩ − m_t)"),
    note(["op", "C q"], "query tap: h̃_t = C_t q_t / max(|n_tᵀ q_t|, exp(−m_t))"),
    note(["state-new", "n"], "normalizer n_t: the keys written, kept as C is"),
    note(["gauge", "m"], "stabilizer m_t (a log scale): C and n are stored times exp(−m_t); h does not depend on it"),
    note(["bus", ""], `no feedback: q, k, v and the gates read x_t only${heads > 1 ? `; ${heads} heads, one i_t, f_t, m_t each` : ""}`),
    ...(gated ? [sigmoid("W_o·x_t")] : []),
    STRIP];
}
