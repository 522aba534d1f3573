"""Training's batched LSTM path (cells/training/lstm_batched.py) against the LSTM kind's own
loops run through the same training code, and the id-grouped row sums against the one-hot
matmul they replace. (Both paths are also checked against torch autograd and central
differences in test_train_gradients.py.)"""

import numpy as np
import pytest
import torch

import cells
from cells.training import Network, loss_and_gradients, lstm_batched
from cells.training.model_backward import _rows_summed_by_id, forward, recorded, zero_state
from tests.support import TOLERANCE


def _random_state(net, B, rng):
    return {key: tuple(rng.normal(0, 0.5, s.shape).astype(net.dtype) for s in value)
            for key, value in zero_state(net, B).items()}


def _both_paths(net, inputs, targets, state, monkeypatch):
    """(loss, gradients, end state) of the batched path, then of the kind's own loops."""
    fast = loss_and_gradients(net, inputs, targets, state)
    with monkeypatch.context() as patch:
        patch.setattr(lstm_batched, "applies", lambda cell: False)
        kind = loss_and_gradients(net, inputs, targets, state)
    return fast, kind


def _text_model(dtype):
    torch.manual_seed(11)
    module = torch.nn.Module()
    module.emb = torch.nn.Embedding(7, 5)
    module.rnn = torch.nn.LSTM(5, 6, num_layers=2, bidirectional=True)
    module.fc = torch.nn.Linear(12, 7)
    if dtype == "float64":
        module = module.double()
    return cells.from_torch(module)


def _numbers_model(dtype):
    torch.manual_seed(12)
    module = torch.nn.Module()
    module.lstm = torch.nn.LSTM(3, 5, num_layers=2)
    module.fc = torch.nn.Linear(5, 2)
    if dtype == "float64":
        module = module.double()
    return cells.from_torch(module)


MODELS = {
    "one-hot char model, 2 layers": lambda dtype: cells.char_model(
        "lstm", "abcdefg", 6, layers=2, seed=3, dtype=dtype),
    "embedding, 2 bidirectional layers": _text_model,
    "numbers, mean squared error": _numbers_model,
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("which", list(MODELS))
def test_batched_path_equals_the_kinds_loops(which, dtype, monkeypatch):
    net = Network(MODELS[which](dtype))
    assert any(lstm_batched.applies(c) for layer in net.layers for c in layer.values())
    rng = np.random.default_rng(4)
    n, B = 9, 4
    if net.encoder.encoding == "numbers":
        inputs = rng.normal(size=(n, B, net.encoder.width)).astype(net.dtype)
        targets = rng.normal(size=(n, B, 2)).astype(net.dtype)
    else:
        V = net.encoder.size
        inputs, targets = rng.integers(0, V, (n, B)), rng.integers(0, V, (n, B))
        targets[rng.random((n, B)) < 0.2] = -1  # not scored
    state = _random_state(net, B, rng)
    (loss, grads, end), (loss_k, grads_k, end_k) = _both_paths(net, inputs, targets, state,
                                                                monkeypatch)
    tol = TOLERANCE[dtype]
    assert abs(loss - loss_k) <= tol * max(1.0, abs(loss_k))
    assert grads.keys() == grads_k.keys() == net.named().keys()
    for name, g in grads.items():
        assert g.dtype == net.dtype and g.shape == net.named()[name].shape
        np.testing.assert_allclose(g, grads_k[name], rtol=tol, atol=tol, err_msg=name)
    assert end.keys() == end_k.keys()
    for key in end:
        for ours, theirs in zip(end[key], end_k[key], strict=True):
            np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol)


def test_recorded_signals_match_the_kinds_rows(monkeypatch):
    net = Network(cells.char_model("lstm", "abcde", 4, seed=2, dtype="float64"))
    rng = np.random.default_rng(6)
    ids = rng.integers(0, 5, (7, 3))
    state = _random_state(net, 3, rng)
    cell = net.layers[0]["forward"]
    tape, _ = forward(net, ids, state)
    ours = {name: recorded(cell, tape.layers[0]["forward"], name).copy()
            for name in ("i", "f", "o", "g", "c", "tanh_c", "h")}
    with monkeypatch.context() as patch:
        patch.setattr(lstm_batched, "applies", lambda cell: False)
        kind_tape, _ = forward(net, ids, state)
    for name, values in ours.items():
        np.testing.assert_allclose(values, recorded(cell, kind_tape.layers[0]["forward"], name),
                                   rtol=1e-13, atol=1e-13, err_msg=name)
    with pytest.raises(ValueError, match="i_pre"):
        recorded(cell, tape.layers[0]["forward"], "i_pre")


def test_rows_summed_by_id_equal_the_one_hot_matmul():
    rng = np.random.default_rng(7)
    V, N, W = 9, 40, 6
    ids = rng.integers(0, V - 2, N)  # the last two ids never occur: their rows stay zero
    rows = rng.normal(size=(N, W))
    one_hot = np.eye(V)[ids]  # (N, V)
    summed = _rows_summed_by_id(rows, ids, V)
    np.testing.assert_allclose(summed, one_hot.T @ rows, rtol=1e-12, atol=1e-12)
    assert not summed[-2:].any()
