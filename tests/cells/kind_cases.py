"""The kinds and options every engine test walks through, and random cells on them."""

import numpy as np

import cells

# The kinds whose signals are not all H wide (Mamba: E, N, E × N and H per step) run on
# their own cell and trace; the tests over VARIANTS (H-wide rows, h0/c0 of H) leave them
# out, and these test the same properties instead, each against its own reference.
OWN_ENGINE_TESTS = {
    "mamba": "test_mamba_engine (every signal against cells.reference with and without "
             "holds, parallel scans and the closed form, central differences, windows and "
             "extensions, sensitivity, refusals) and test_mamba_mambapy (mambapy's "
             "MambaBlock: forward and gradients)",
    "mlstm": "test_mlstm_xlstm (xlstm's recurrent step and parallel form: values and "
             "gradients; closed form against recurrence, the reference step, central "
             "differences with holds, blocks and checkpoints, windows, extension, "
             "sensitivity, read weights, refusals)",
}
# Every variant: each kind with each value of each option it has.
VARIANTS = [(kind, {name: value})
            for kind in cells.KINDS if kind not in OWN_ENGINE_TESTS
            for name, option in cells.kind_info(kind)["options"].items()
            for value in option["values"]] + [
    (kind, {}) for kind in cells.KINDS
    if not cells.kind_info(kind)["options"] and kind not in OWN_ENGINE_TESTS]
VARIANT_IDS = [kind + "".join(f"-{v}" for v in options.values()) for kind, options in VARIANTS]

# The variants nn.LSTM, nn.GRU and nn.RNN compute: PyTorch is their independent reference.
TORCH_VARIANTS = [("lstm", {}), ("gru", {"reset_after": True}),
                  ("rnn", {"nonlinearity": "tanh"}), ("rnn", {"nonlinearity": "relu"})]
TORCH_VARIANT_IDS = ["lstm", "gru", "rnn-tanh", "rnn-relu"]
# The kinds PyTorch has no module for, and the independent check each has instead (every
# variant of every kind also meets cells.reference and central differences).
NOT_IN_TORCH = {
    "peephole_lstm": "the ONNX LSTM operator with peepholes (test_conformance_onnx)",
    "prototype_lstm": "Written Memories' equations stepped by hand (test_prototype_lstms)",
    "normalized_lstm": "Written Memories' equations stepped by hand (test_prototype_lstms)",
    "pseudo_lstm": "Written Memories' equations stepped by hand (test_prototype_lstms; its "
                   "eight diffs architectures in test_lstm_diffs, '123' against the LSTM and "
                   "the char model's gradient against torch autograd)",
    "min_gru": "minGRU-pytorch's minGRU module (test_min_reference_modules)",
    "min_lstm": "minGRU-pytorch's minLSTM module (test_min_reference_modules)",
    "slstm": "xlstm's sLSTM cell, vanilla backend (test_slstm_xlstm)",
    "mlstm": "xlstm's mLSTM backends, recurrent and parallel (test_mlstm_xlstm)",
    "mamba": "mambapy's MambaBlock (test_mamba_mambapy)",
}


def writes_down(kind: str) -> bool:
    """Whether the kind's state is c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t (kept + written), so that
    f = 1 and i = 0 keep it exactly (Written Memories' "write it down")."""
    signals = {s["name"]: s for s in cells.kind_info(kind)["signals"]}
    return "c" in signals and signals["c"]["args"] == ["kept", "written"] \
        and {"f", "i"} <= set(signals)


WRITE_DOWN_KINDS = [kind for kind in cells.KINDS if writes_down(kind)]


def random_cell(kind, options, I, H, dtype="float64", seed=0, scale=0.8):
    """A cell with every parameter drawn from U(±scale) (wider than Xavier: gates saturate
    sometimes), the relu RNN's recurrent weights kept small so it does not explode."""
    rng = np.random.default_rng(seed)
    base = cells.create(kind, input_size=I, hidden_size=H, dtype="float64", **options)
    params = {k: rng.uniform(-scale, scale, v.shape) for k, v in base.params.items()}
    if options.get("nonlinearity") == "relu":
        params["weight_hh"] *= 0.5
    return cells.create(kind, params={k: v.astype(dtype) for k, v in params.items()},
                        dtype=dtype, **options)


def random_inputs(cell, T, seed=0):
    rng = np.random.default_rng(seed + 1)
    xs = rng.normal(0, 1, (T, cell.input_size)).astype(cell.dtype)
    # the states run(h0=, c0=) takes; the others (an sLSTM's n and m) start at zero there
    state = {k: rng.normal(0, 0.5, cell.hidden_size).astype(cell.dtype)
             for k in cell.state_names if k in ("h", "c")}
    return xs, state
