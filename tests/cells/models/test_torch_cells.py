"""PyTorch's cell modules (nn.LSTMCell, nn.GRUCell, nn.RNNCell) stepped in a loop, live,
scripted or as a state dict, and a model's starting state (h0=, c0=): each run by cells
equals torch's own forward."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import cells
from tests.support import close

V, E, H, O = 9, 4, 5, 7
VOCABULARY = "abcdefgh "
TEXT = "a bad cafe fed a badge"
CELLS = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell, "rnn": torch.nn.RNNCell}



def ids_of(text=TEXT):
    return torch.tensor([VOCABULARY.index(ch) for ch in text])


class Stepper(torch.nn.Module):
    """Embedding → a GRUCell or RNNCell stepped over the sequence, its h carried → Linear
    `out` (TorchScript-able, as such loops are shipped)."""

    def __init__(self, kind, **options):
        super().__init__()
        torch.manual_seed(1)
        self.hidden = H
        self.emb = torch.nn.Embedding(V, E)
        self.cell = CELLS[kind](E, H, **options)
        self.out = torch.nn.Linear(H, O)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = torch.zeros(1, self.hidden, dtype=self.out.weight.dtype)
        logits = []
        for x in self.emb(ids):
            h = self.cell(x[None], h)
            logits.append(self.out(h)[0])
        return torch.stack(logits)


class LSTMStepper(Stepper):
    """The same with an LSTMCell, (h, c) carried."""

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = torch.zeros(1, self.hidden, dtype=self.out.weight.dtype)
        c = torch.zeros(1, self.hidden, dtype=self.out.weight.dtype)
        logits = []
        for x in self.emb(ids):
            h, c = self.cell(x[None], (h, c))
            logits.append(self.out(h)[0])
        return torch.stack(logits)


def stepper(kind, **options):
    return (LSTMStepper if kind == "lstm" else Stepper)(kind, **options)


CASES = [("lstm", {}), ("gru", {}), ("rnn", {"nonlinearity": "relu"}), ("rnn", {})]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("kind", "options"), CASES)
def test_a_cell_stepped_in_a_loop_is_that_cell(kind, options, dtype):
    module = stepper(kind, **options).to(dtype)
    with torch.no_grad():
        expected = module(ids_of()).numpy()
    model = cells.from_torch(module, vocabulary=VOCABULARY)
    assert model.layers == 1 and model.cell(0).kind == kind
    assert model.encoder.encoding == "embedding" and model.head.output_size == O
    if kind == "rnn":
        assert model.cell(0).options["nonlinearity"] == options.get("nonlinearity", "tanh")
    close(model.run(TEXT)["logits"], expected, dtype)
    scripted = torch.jit.script(module)
    close(cells.from_torch(scripted, vocabulary=VOCABULARY).run(TEXT)["logits"], expected,
          dtype)


@pytest.mark.parametrize(("kind", "options"), CASES[:3])
def test_a_cell_state_dict_is_a_model(tmp_path, kind, options):
    module = stepper(kind, **options)
    save_file(module.state_dict(), str(tmp_path / "cell.safetensors"))
    model = cells.load_model(tmp_path / "cell.safetensors", vocabulary=VOCABULARY,
                             options={"nonlinearity": "relu"} if options else None)
    with torch.no_grad():
        close(model.run(TEXT)["logits"], module(ids_of()).numpy(), "float32")


def test_a_bare_cell_module(tmp_path):
    torch.manual_seed(2)
    cell = torch.nn.GRUCell(3, H)
    xs = torch.randn(6, 3)
    h, expected = torch.zeros(1, H), []
    with torch.no_grad():
        for x in xs:
            h = cell(x[None], h)
            expected.append(h[0].numpy())
    model = cells.from_torch(cell)
    close(model.run(xs.numpy()).outputs[-1], np.array(expected), "float32")


def test_no_recurrent_module_is_said_so():
    module = torch.nn.Sequential(torch.nn.Embedding(V, E), torch.nn.Linear(E, O))
    with pytest.raises(ValueError, match=r"the Sequential module: holds no recurrent module "
                                         r"\(nn\.LSTM, nn\.GRU or nn\.RNN.*nn\.LSTMCell.*found "
                                         r"0\.weight, 1\.bias, 1\.weight"):
        cells.from_torch(module)


def test_what_the_caller_leaves_unnamed_is_listed():
    module = stepper("lstm")
    module.front = torch.nn.Conv1d(E, E, 3)  # a front end gatescope does not draw
    with pytest.raises(ValueError, match=r"holds tensors that are not an embedding, a "
                                         r"recurrent module or a linear head: front\.bias, "
                                         r"front\.weight; name the parts"):
        cells.from_torch(module)
    with pytest.warns(cells.LeftOutWarning, match=r"the LSTMStepper module: left out 2 tensor\(s\) "
                                                  r"the model does not use: front\.bias, "
                                                  r"front\.weight") as caught:
        model = cells.from_torch(module, recurrent="cell", vocabulary=VOCABULARY)
    assert len(caught) == 1
    assert model.notices == ("left out 2 tensor(s) the model does not use: front.bias, "
                             "front.weight",)
    with torch.no_grad():
        close(model.run(TEXT)["logits"], module(ids_of()).numpy(), "float32")


def random_state(shape, seed):
    return torch.from_numpy(np.random.default_rng(seed).normal(0, 0.8, shape)).float()


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_starting_state_per_layer_and_direction_as_torch_takes_it(kind):
    torch.manual_seed(3)
    recurrent = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](E, H, num_layers=2,
                                                                   bidirectional=True)
    xs = torch.randn(8, E)
    h0, c0 = random_state((4, H), 0), random_state((4, H), 1)
    with torch.no_grad():
        y, _ = recurrent(xs, (h0, c0) if kind == "lstm" else h0)
    model = cells.from_torch(recurrent)
    run = model.run(xs.numpy(), h0=h0.numpy(), c0=c0.numpy() if kind == "lstm" else None)
    close(run.outputs[-1], y.numpy(), "float32")
    # the same as state= keyed by (layer, direction)
    state = {(k // 2, ("forward", "backward")[k % 2]): {"h": h0[k].numpy()} for k in range(4)}
    if kind == "lstm":
        for k in range(4):
            state[(k // 2, ("forward", "backward")[k % 2])]["c"] = c0[k].numpy()
    np.testing.assert_array_equal(model.run(xs.numpy(), state=state).outputs[-1],
                                  run.outputs[-1])


def test_a_decoder_cell_started_from_a_state():
    module = stepper("lstm")
    h0, c0 = random_state((H,), 4), random_state((H,), 5)
    h, c, expected = h0[None], c0[None], []
    with torch.no_grad():
        for x in module.emb(ids_of()):
            h, c = module.cell(x[None], (h, c))
            expected.append(module.out(h)[0].numpy())
    model = cells.from_torch(module, vocabulary=VOCABULARY)
    close(model.run(TEXT, h0=h0.numpy(), c0=c0.numpy())["logits"], np.array(expected), "float32")


def test_starting_states_that_do_not_fit_are_refused():
    model = cells.from_torch(torch.nn.GRU(E, H, num_layers=2))
    xs = np.zeros((3, E), np.float32)
    with pytest.raises(ValueError, match=r"h0 has shape \(5,\); give one row per layer and "
                                         r"direction \(2: \(0, forward\), \(1, forward\)\)"):
        model.run(xs, h0=np.zeros(H))
    with pytest.raises(ValueError, match=r"c0 given, but layer 0 forward is a gru, whose "
                                         r"state is only h"):
        model.run(xs, h0=np.zeros((2, H)), c0=np.zeros((2, H)))
    with pytest.raises(ValueError, match=r"state= or as h0= / c0=, not both"):
        model.run(xs, h0=np.zeros((2, H)), state={(0, "forward"): {"h": np.zeros(H)}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fitting state warns of nothing
        model.run(xs, h0=np.zeros((2, H)))
