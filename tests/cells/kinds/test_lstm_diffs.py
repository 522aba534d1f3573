"""The pseudo LSTM's `diffs` option: Written Memories' (r2rt, 2016) eight architectures of
"an empirical comparison of the basic LSTM and the pseudo LSTM", each against the
article's description of it written out here step by step, "123" against the LSTM, and
the network's output (tanh(c_t) where diff 1 comes without diff 3) against torch autograd."""

import numpy as np
import pytest
import torch

import cells
from tests.cells.kind_cases import random_cell

DIFFS = ["", "1", "2", "3", "12", "13", "23", "123"]


def sigma(z):
    return 1 / (1 + np.exp(-z))


def architecture(diffs, p, xs, c0, h0):
    """The article's list, item by item (state s named c, φ = tanh, gate blocks i, f, g, o).
    Returns per step (output, c, shadow or None)."""
    H = len(c0)
    W = {k: p["weight_hh"][n * H:(n + 1) * H] for n, k in enumerate("ifgo")}
    U = {k: p["weight_ih"][n * H:(n + 1) * H] for n, k in enumerate("ifgo")}
    b = {k: (p["bias_ih"] + p["bias_hh"])[n * H:(n + 1) * H] for n, k in enumerate("ifgo")}

    def gate(k, read, x):
        return sigma(W[k] @ read + U[k] @ x + b[k])

    c, shadow, rows = c0, h0, []
    for x in xs:
        phi = np.tanh(c)
        if "1" in diffs:
            # 2–4, 8: the shadow o_{t−1} ⊙ φ(c_{t−1}) is passed in; the candidate reads it,
            # and with diff 2 so do the three gates
            gates_read = shadow if "2" in diffs else phi
            i, f, o = (gate(k, gates_read, x) for k in "ifo")
            cand = np.tanh(W["g"] @ shadow + U["g"] @ x + b["g"])
        else:
            # 1, 5–7: the read gate at time t; with diff 2, o_t ⊙ φ(s_{t−1}) feeds i and f
            o = gate("o", phi, x)
            gates_read = o * phi if "2" in diffs else phi
            i, f = gate("i", gates_read, x), gate("f", gates_read, x)
            cand = np.tanh(W["g"] @ (o * phi) + U["g"] @ x + b["g"])
        c = f * c + i * cand
        shadow = o * np.tanh(c)
        out = shadow if "3" in diffs else np.tanh(c)
        rows.append((out, c, shadow if "1" in diffs else None))
    return rows


@pytest.mark.parametrize("diffs", DIFFS)
def test_each_architecture_follows_the_article(diffs):
    cell = random_cell("pseudo_lstm", {"diffs": diffs}, I=3, H=5, seed=3)
    rng = np.random.default_rng(8)
    xs = rng.normal(0, 1, (30, 3))
    c0, h0 = rng.normal(0, 0.5, 5), rng.normal(0, 0.5, 5)
    trace = cell.run(xs, c0=c0, h0=h0 if "1" in diffs else None)
    output = trace[cell.layout.output]
    for t, (out, c, shadow) in enumerate(architecture(diffs, cell.params, xs, c0, h0)):
        np.testing.assert_allclose(output[t], out, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(trace["c"][t], c, rtol=1e-12, atol=1e-12)
        if shadow is not None:
            np.testing.assert_allclose(trace["h"][t], shadow, rtol=1e-12, atol=1e-12)


def test_all_three_diffs_are_the_basic_lstm():
    lstm = random_cell("lstm", {}, I=4, H=6, seed=5)
    pseudo = cells.create("pseudo_lstm", params=lstm.params, dtype="float64", diffs="123")
    rng = np.random.default_rng(1)
    xs, h0, c0 = rng.normal(0, 1, (90, 4)), rng.normal(0, 0.5, 6), rng.normal(0, 0.5, 6)
    a, b = lstm.run(xs, h0=h0, c0=c0), pseudo.run(xs, h0=h0, c0=c0)
    for name in ("i", "f", "o", "g", "c", "h"):
        np.testing.assert_allclose(b[name], a[name], rtol=0, atol=1e-12, err_msg=name)
    dh, dc = rng.normal(0, 1, (90, 6)), rng.normal(0, 1, (90, 6))
    ga, gb = a.backward({"h": dh, "c": dc}), b.backward({"h": dh, "c": dc})
    for name in lstm.params:
        np.testing.assert_allclose(gb.params[name], ga.params[name], rtol=0, atol=1e-12)
    np.testing.assert_allclose(gb.h0, ga.h0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(gb.c0, ga.c0, rtol=0, atol=1e-12)


def test_the_option_is_offered_and_states_follow_diff_1():
    info = cells.kind_info("pseudo_lstm")
    assert info["options"]["diffs"] == {"values": DIFFS, "default": ""}
    for diffs in DIFFS:
        cell = cells.create("pseudo_lstm", input_size=2, hidden_size=3, diffs=diffs)
        assert cell.state_names == (("c", "h") if "1" in diffs else ("c",))
        holdable = {s.name for s in cells.kinds.holdable(cell.spec, cell.options)}
        assert ("h" in holdable) == ("1" in diffs)  # the shadow is a state to hold
    with pytest.raises(ValueError, match="diffs"):
        cells.create("pseudo_lstm", input_size=2, hidden_size=3, diffs="4")


def torch_architecture(diffs, params, ids, V, H):
    """The article's architecture in torch (float64), one-hot inputs, a linear head."""
    W = {k: params["weight_hh"][n * H:(n + 1) * H] for n, k in enumerate("ifgo")}
    U = {k: params["weight_ih"][n * H:(n + 1) * H] for n, k in enumerate("ifgo")}
    b = {k: (params["bias_ih"] + params["bias_hh"])[n * H:(n + 1) * H]
         for n, k in enumerate("ifgo")}
    c = torch.zeros(ids.shape[1], H, dtype=torch.float64)
    shadow, outs = c, []
    for t in range(ids.shape[0]):
        x = torch.nn.functional.one_hot(torch.from_numpy(ids[t]), V).double()
        phi = torch.tanh(c)

        def gate(k, read, x=x):
            return torch.sigmoid(read @ W[k].T + x @ U[k].T + b[k])
        if "1" in diffs:
            read = shadow if "2" in diffs else phi
            i, f, o = gate("i", read), gate("f", read), gate("o", read)
            cand = torch.tanh(shadow @ W["g"].T + x @ U["g"].T + b["g"])
        else:
            o = gate("o", phi)
            read = o * phi if "2" in diffs else phi
            i, f = gate("i", read), gate("f", read)
            cand = torch.tanh((o * phi) @ W["g"].T + x @ U["g"].T + b["g"])
        c = f * c + i * cand
        shadow = o * torch.tanh(c)
        outs.append(shadow if "3" in diffs else torch.tanh(c))
    return torch.stack(outs)


@pytest.mark.parametrize("diffs", ["1", "12", "13", "2"])
def test_char_model_gradient_equals_torch_autograd(diffs):
    """A language model trains on the cell's output: tanh(c_t) for "1" and "12", where h is
    the shadow state passed on, not the output."""
    V, H = 5, 4
    model = cells.char_model("pseudo_lstm", list("abcde"), hidden_size=H, seed=2,
                             dtype="float64", diffs=diffs)
    from cells.training.model_backward import loss_and_gradients
    from cells.training.network import Network

    net = Network(model)
    rng = np.random.default_rng(0)
    ids, targets = rng.integers(0, V, (7, 3)), rng.integers(0, V, (7, 3))
    loss, grads, _ = loss_and_gradients(net, ids, targets)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in net.named().items()}
    cell = {k.split(".")[-1]: v for k, v in tensors.items() if k.startswith("layers.0.")}
    y = torch_architecture(diffs, cell, ids, V, H)
    logits = y @ tensors["head.weight"].T + tensors["head.bias"]
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, V),
                                                 torch.from_numpy(targets.reshape(-1)))
    expected.backward()
    assert abs(loss - expected.item()) < 1e-10
    for k, t in tensors.items():
        np.testing.assert_allclose(grads[k], t.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=k)
