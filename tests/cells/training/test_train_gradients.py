"""The whole model's training gradient (encoder, layers × directions, head) against torch
autograd in float64, and against central differences for every kind."""

import numpy as np
import pytest
import torch

import cells
from cells.training import Network, loss_and_gradients
from cells.training.model_backward import zero_state
from tests.cells.kind_cases import VARIANT_IDS, VARIANTS
from tests.support import TOLERANCE

TOL = TOLERANCE["float64"]
RECURRENT = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}


class TextNet(torch.nn.Module):
    def __init__(self, kind, vocabulary, embedding, hidden, layers, bidirectional, **options):
        super().__init__()
        self.emb = torch.nn.Embedding(vocabulary, embedding)
        self.rnn = RECURRENT[kind](embedding, hidden, num_layers=layers,
                                   bidirectional=bidirectional, **options)
        self.fc = torch.nn.Linear(hidden * (2 if bidirectional else 1), vocabulary)

    def forward(self, ids, state=None):
        y, _ = self.rnn(self.emb(ids), state)
        return self.fc(y)


def torch_name(name: str) -> str:
    """Ours -> the module's: layers.1.backward.weight_ih -> rnn.weight_ih_l1_reverse."""
    if name == "encoder.embedding":
        return "emb.weight"
    if name.startswith("head."):
        return "fc." + name.split(".")[1]
    _, layer, direction, param = name.split(".")
    return f"rnn.{param}_l{layer}" + ("_reverse" if direction == "backward" else "")


def torch_gradients(module, loss):
    module.zero_grad()
    loss.backward()
    return {n: p.grad.numpy() for n, p in module.named_parameters()}


def start_state(net, kind, B, rng):
    """Random carried state for the forward cells (backward cells start at zero), ours and
    torch's (layers·D, B, H)."""
    ours = zero_state(net, B)
    torch_h, torch_c = [], []
    for index, layer in enumerate(net.layers):
        for direction, cell in layer.items():
            shape = (B, cell.hidden_size)
            h = rng.normal(0, 0.5, shape) if direction == "forward" else np.zeros(shape)
            c = rng.normal(0, 0.5, shape) if direction == "forward" else np.zeros(shape)
            ours[(index, direction)] = (c, h) if kind == "lstm" else (h,)
            torch_h.append(h)
            torch_c.append(c)
    h0 = torch.from_numpy(np.stack(torch_h))
    return ours, ((h0, torch.from_numpy(np.stack(torch_c))) if kind == "lstm" else h0)


CASES = [("lstm", False, {}), ("gru", True, {}), ("rnn", True, {"nonlinearity": "relu"}),
         ("rnn", False, {"nonlinearity": "tanh"}), ("lstm", True, {}), ("gru", False, {})]


@pytest.mark.parametrize("kind,bidirectional,options", CASES,
                         ids=[f"{k}-{'bi' if b else 'uni'}{''.join(o.values())}"
                              for k, b, o in CASES])
def test_text_model_gradient_equals_torch_autograd(kind, bidirectional, options):
    torch.manual_seed(3)
    V, E, H, n, B = 7, 5, 6, 9, 4
    module = TextNet(kind, V, E, H, 2, bidirectional, **options).double()
    net = Network(cells.from_torch(module))
    assert net.embedding is not None and net.head_weight is not None
    rng = np.random.default_rng(5)
    ids = rng.integers(0, V, (n, B))
    targets = rng.integers(0, V, (n, B))
    targets[rng.random((n, B)) < 0.2] = -1  # not scored
    state, torch_state = start_state(net, kind, B, rng)
    loss, grads, end = loss_and_gradients(net, ids, targets, state)
    logits = module(torch.from_numpy(ids), torch_state)
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, V),
                                                 torch.from_numpy(targets).reshape(-1),
                                                 ignore_index=-1)
    assert abs(loss - expected.item()) < TOL
    reference = torch_gradients(module, expected)
    assert set(map(torch_name, grads)) == set(reference)
    for name, g in grads.items():
        np.testing.assert_allclose(g, reference[torch_name(name)], rtol=TOL, atol=TOL,
                                   err_msg=name)
    # the state handed to the next window is torch's final state of the forward cells
    _, final = module.rnn(module.emb(torch.from_numpy(ids)), torch_state)
    h_n = (final[0] if kind == "lstm" else final).detach().numpy()
    D = 2 if bidirectional else 1
    for layer in range(2):
        np.testing.assert_allclose(end[(layer, "forward")][-1], h_n[layer * D], atol=TOL)


def test_one_hot_char_model_gradient_equals_torch_autograd():
    V, H, n, B = 6, 5, 8, 3
    model = cells.char_model("lstm", "abcdef", H, layers=2, seed=4, dtype="float64")
    net = Network(model)
    module = torch.nn.LSTM(V, H, num_layers=2).double()
    head = torch.nn.Linear(H, V).double()
    with torch.no_grad():
        for layer in range(2):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(module, f"{name}_l{layer}").copy_(
                    torch.from_numpy(model.cell(layer).params[name].copy()))
        head.weight.copy_(torch.from_numpy(model.head.weight))
        head.bias.copy_(torch.from_numpy(model.head.bias))
    rng = np.random.default_rng(1)
    ids, targets = rng.integers(0, V, (n, B)), rng.integers(0, V, (n, B))
    loss, grads, _ = loss_and_gradients(net, ids, targets)
    x = torch.nn.functional.one_hot(torch.from_numpy(ids), V).double()
    expected = torch.nn.functional.cross_entropy(head(module(x)[0]).reshape(-1, V),
                                                 torch.from_numpy(targets).reshape(-1))
    expected.backward()
    assert abs(loss - expected.item()) < TOL
    for layer in range(2):
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            np.testing.assert_allclose(grads[f"layers.{layer}.forward.{name}"],
                                       getattr(module, f"{name}_l{layer}").grad.numpy(),
                                       rtol=TOL, atol=TOL)
    np.testing.assert_allclose(grads["head.weight"], head.weight.grad.numpy(), atol=TOL)
    np.testing.assert_allclose(grads["head.bias"], head.bias.grad.numpy(), atol=TOL)


def test_numbers_model_mse_gradient_equals_torch_autograd():
    torch.manual_seed(8)
    I, H, O, n, B = 3, 5, 2, 7, 4
    module = torch.nn.Module()
    module.gru = torch.nn.GRU(I, H, num_layers=2, bidirectional=True).double()
    module.fc = torch.nn.Linear(2 * H, O).double()
    net = Network(cells.from_torch(module))
    assert net.encoder.encoding == "numbers" and net.head_activation == "linear"
    rng = np.random.default_rng(2)
    xs, ys = rng.normal(size=(n, B, I)), rng.normal(size=(n, B, O))
    loss, grads, _ = loss_and_gradients(net, xs, ys)
    prediction = module.fc(module.gru(torch.from_numpy(xs))[0])
    expected = torch.nn.functional.mse_loss(prediction, torch.from_numpy(ys))
    assert abs(loss - expected.item()) < TOL
    expected.backward()
    for name, g in grads.items():
        ref = dict(module.named_parameters())[torch_name(name).replace("rnn.", "gru.")]
        np.testing.assert_allclose(g, ref.grad.numpy(), rtol=TOL, atol=TOL, err_msg=name)


@pytest.mark.parametrize("kind,options", VARIANTS, ids=VARIANT_IDS)
def test_every_kind_gradient_equals_central_differences(kind, options):
    """A 2-layer char model of each kind: the analytic gradient of a few entries of every
    array against (L(p + ε) − L(p − ε)) / 2ε in float64."""
    model = cells.char_model(kind, "abcde", 4, layers=2, seed=6, dtype="float64", **options)
    net = Network(model)
    rng = np.random.default_rng(9)
    ids, targets = rng.integers(0, 5, (6, 3)), rng.integers(0, 5, (6, 3))
    state = {key: tuple(rng.normal(0, 0.3, s.shape) for s in value)
             for key, value in zero_state(net, 3).items()}
    _, grads, _ = loss_and_gradients(net, ids, targets, state)
    eps = 1e-6
    for name, array in net.named().items():
        for flat in rng.choice(array.size, size=min(3, array.size), replace=False):
            index = np.unravel_index(flat, array.shape)
            keep = array[index]
            values = []
            for shift in (eps, -eps):
                array[index] = keep + shift
                net.refresh()
                values.append(loss_and_gradients(net, ids, targets, state)[0])
            array[index] = keep
            net.refresh()
            numeric = (values[0] - values[1]) / (2 * eps)
            assert abs(grads[name][index] - numeric) < 1e-7, (name, index)
