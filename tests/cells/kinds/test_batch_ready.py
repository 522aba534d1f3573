"""The kinds' loops take a batch axis after the step axis, (n, B, W), unchanged: stepping
B sequences at once gives each sequence's own rows, end state and gradients (the weight
gradients summed). Batched training builds on this."""

import numpy as np
import pytest

from tests.cells.kind_cases import VARIANT_IDS, VARIANTS, random_cell, random_inputs


def forward_rows(cell, xs, state):
    """The row buffer of one chunk, (n, …, W), and the end state, through the kind's loop."""
    H, p = cell.hidden_size, cell.prepared
    buf = np.empty(xs.shape[:-1] + (len(cell.layout) * H,))
    names = cell.layout.names
    buf[..., :cell.spec.gates * H] = xs @ p["w_ih_T"] + p["bias"]
    assert names[cell.spec.gates - 1].endswith("_pre")
    return buf, cell.spec.forward(buf, state, p, None)


@pytest.mark.parametrize("kind,options", VARIANTS, ids=VARIANT_IDS)
def test_a_batch_steps_like_its_sequences_one_by_one(kind, options):
    B, n, H = 3, 9, 4
    cell = random_cell(kind, options, I=3, H=H, seed=41)
    runs = [random_inputs(cell, n, seed=41 + b) for b in range(B)]
    # the states random_inputs leaves at their start (an sLSTM's n and m) as zeros
    runs = [(x, {**cell.zero_state(), **s}) for x, s in runs]
    xs = np.stack([x for x, _ in runs], axis=1)  # (n, B, I)
    state = tuple(np.stack([s[name] for _, s in runs]) for name in cell.state_names)  # (B, H)
    buf, end = forward_rows(cell, xs, state)
    rng = np.random.default_rng(42)
    d_in = {name: rng.normal(size=(n, B, H)) for name in ("h", "c") if name in cell.names}
    carry = tuple(rng.normal(size=(B, H)) for _ in cell.state_names)
    res = cell.spec.backward(cell.layout.views(buf, H), state, d_in, carry, cell.prepared,
                             None, params=True, totals=True)
    params = {k: np.zeros_like(v) for k, v in res.params.items()}
    for b, (xs_b, state_b) in enumerate(runs):
        alone = tuple(state_b[name] for name in cell.state_names)
        buf_b, end_b = forward_rows(cell, xs_b, alone)
        np.testing.assert_allclose(buf[:, b], buf_b, rtol=1e-12, atol=1e-12)
        for a, e in zip(end, end_b, strict=True):
            np.testing.assert_allclose(a[b], e, rtol=1e-12, atol=1e-12)
        res_b = cell.spec.backward(cell.layout.views(buf_b, H), alone,
                                   {k: v[:, b] for k, v in d_in.items()},
                                   tuple(c[b] for c in carry), cell.prepared, None,
                                   params=True, totals=True)
        np.testing.assert_allclose(res.d_pre[:, b], res_b.d_pre, rtol=1e-12, atol=1e-12)
        for a, e in zip(res.carry, res_b.carry, strict=True):
            np.testing.assert_allclose(a[b], e, rtol=1e-12, atol=1e-12)
        for name, total in res.totals.items():
            np.testing.assert_allclose(total[:, b], res_b.totals[name], rtol=1e-12, atol=1e-12)
        for name, g in res_b.params.items():
            params[name] += g
    for name, g in params.items():
        np.testing.assert_allclose(res.params[name], g, rtol=1e-11, atol=1e-11, err_msg=name)
