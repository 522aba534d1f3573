"""What if, in a whole model: a signal held in one layer and direction's cell, and every
layer above and the head reading the held run. Checked against torch, stepped by hand with
the hold applied per step (torch's own weights, torch ops), float64 to 1e-10 and float32
to 1e-5; and the refusals name the item and field."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import cells
from tests.support import close

V, E, H, O = 7, 4, 5, 7
T = 12


class TextModel(torch.nn.Module):
    def __init__(self, kind, dtype, **options):
        super().__init__()
        torch.manual_seed(3)
        self.emb = torch.nn.Embedding(V, E)
        self.rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](
            E, H, num_layers=2, bidirectional=True, **options)
        self.fc = torch.nn.Linear(2 * (options.get("proj_size") or H), O)
        self.to(dtype)


def hold(vector: torch.Tensor, name: str, t: int, holds) -> torch.Tensor:
    """The vector with the held units of `name` at step t replaced (a new tensor)."""
    out = vector.clone()
    for iv in holds:
        if iv["signal"] == name and iv["start"] <= t < iv["stop"]:
            units = slice(None) if iv.get("units") is None else list(iv["units"])
            out[units] = iv["value"]
    return out


def lstm_direction(rnn, suffix, xs, holds):
    W_ih, W_hh = getattr(rnn, f"weight_ih{suffix}"), getattr(rnn, f"weight_hh{suffix}")
    b = getattr(rnn, f"bias_ih{suffix}") + getattr(rnn, f"bias_hh{suffix}")
    h = c = torch.zeros(H, dtype=xs.dtype)
    out = []
    for t, x in enumerate(xs):
        i, f, g, o = (W_ih @ x + W_hh @ h + b).chunk(4)
        i, f = hold(torch.sigmoid(i), "i", t, holds), hold(torch.sigmoid(f), "f", t, holds)
        g, o = hold(torch.tanh(g), "g", t, holds), hold(torch.sigmoid(o), "o", t, holds)
        c = hold(f * c + i * g, "c", t, holds)
        h = hold(o * torch.tanh(c), "h", t, holds)
        out.append(h)
    return torch.stack(out)


def gru_direction(rnn, suffix, xs, holds):
    W_ih, W_hh = getattr(rnn, f"weight_ih{suffix}"), getattr(rnn, f"weight_hh{suffix}")
    b_ih, b_hh = getattr(rnn, f"bias_ih{suffix}"), getattr(rnn, f"bias_hh{suffix}")
    h = torch.zeros(H, dtype=xs.dtype)
    out = []
    for t, x in enumerate(xs):
        xr, xz, xn = (W_ih @ x + b_ih).chunk(3)
        hr, hz, hn = (W_hh @ h + b_hh).chunk(3)
        r = hold(torch.sigmoid(xr + hr), "r", t, holds)
        z = hold(torch.sigmoid(xz + hz), "z", t, holds)
        n = hold(torch.tanh(xn + r * hn), "n", t, holds)
        h = hold((1 - z) * n + z * h, "h", t, holds)
        out.append(h)
    return torch.stack(out)


def by_hand(module, kind, ids, interventions):
    """Logits of the model with the holds, layer by layer and step by step."""
    step = {"lstm": lstm_direction, "gru": gru_direction}[kind]
    x = module.emb(torch.as_tensor(ids))
    for layer in range(2):
        halves = []
        for direction, suffix in (("forward", f"_l{layer}"), ("backward", f"_l{layer}_reverse")):
            holds = [iv for iv in interventions if iv.get("layer", 0) == layer
                     and iv.get("direction", "forward") == direction]
            if direction == "forward":
                halves.append(step(module.rnn, suffix, x, holds))
            else:  # its steps read the sequence from the end; its h goes back in time order
                halves.append(step(module.rnn, suffix, x.flip(0), holds).flip(0))
        x = torch.cat(halves, dim=1)
    return module.fc(x)


HOLDS = {
    "lstm": [{"signal": "f", "start": 3, "stop": 9, "units": [0, 2], "value": 1.0, "layer": 1},
             {"signal": "i", "start": 3, "stop": 9, "units": None, "value": 0.0, "layer": 1},
             {"signal": "c", "start": 0, "stop": 5, "units": [4], "value": -0.5,
              "direction": "backward"}],
    "gru": [{"signal": "z", "start": 2, "stop": 12, "units": None, "value": 1.0, "layer": 1,
             "direction": "backward"},
            {"signal": "n", "start": 5, "stop": 7, "units": [1], "value": 0.25}],
}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_held_model_equals_torch_stepped_by_hand(kind, dtype):
    module = TextModel(kind, dtype)
    model = cells.from_torch(module)
    ids = np.random.default_rng(1).integers(0, V, T)
    with torch.no_grad():
        expected = by_hand(module, kind, ids, HOLDS[kind]).numpy()
        plain = module.fc(module.rnn(module.emb(torch.as_tensor(ids))[:, None])[0][:, 0])
    mt = model.run(ids, interventions=HOLDS[kind])
    close(mt["logits"], expected, dtype, rtol=0)
    # the holds change what the head sees (else the comparison above would prove little)
    assert np.abs(expected - plain.numpy()).max() > 1e-3
    # the held cell records the held values; the cells without holds record none
    first = HOLDS[kind][0]
    rows = mt.layer(first.get("layer", 0), first.get("direction", "forward"))[first["signal"]]
    units = first["units"] if first["units"] is not None else slice(None)
    assert np.all(rows[first["start"]:first["stop"], units] == first["value"])
    assert model.run(ids, interventions=[])["logits"].tolist() == model.run(ids)["logits"].tolist()


def test_layer_and_direction_default_to_the_first_forward_cell():
    module = TextModel("lstm", torch.float64)
    model = cells.from_torch(module)
    ids = np.arange(T) % V
    item = {"signal": "o", "start": 0, "stop": T, "units": None, "value": 0.5}
    a = model.run(ids, interventions=[item])
    b = model.run(ids, interventions=[{**item, "layer": 0, "direction": "forward"}])
    assert np.array_equal(a["logits"], b["logits"])
    assert np.all(a.layer(0, "forward")["o"] == 0.5)
    assert not np.any(a.layer(0, "backward")["o"] == 0.5)


@pytest.mark.parametrize("item, message", [
    ({"signal": "f", "start": 0, "stop": 2, "value": 1.0, "layer": 2},
     r"interventions\[0\]\.layer: 2 is not one of 0\.\.1"),
    ({"signal": "f", "start": 0, "stop": 2, "value": 1.0, "layer": True},
     r"interventions\[0\]\.layer"),
    ({"signal": "f", "start": 0, "stop": 2, "value": 1.0, "direction": "sideways"},
     r"interventions\[0\]\.direction: 'sideways' is not one of forward, backward"),
    ({"signal": "x", "start": 0, "stop": 2, "value": 1.0, "layer": 1},
     r"interventions\[0\]\.signal: 'x' cannot be held in a lstm"),
    ({"signal": "f", "start": 0, "stop": 2, "value": 1.0, "cell": 3},
     r"interventions\[0\] has unknown field\(s\) \['cell'\]"),
    ({"signal": "f", "start": 0, "stop": T + 1, "value": 1.0, "layer": 1},
     r"interventions\[0\]: steps \[0, 13\)"),
    ({"signal": "f", "start": 0, "stop": 2, "value": 2.0, "layer": 1},
     r"interventions\[0\]\.value 2\.0 is outside the range of f"),
])
def test_bad_items_are_refused_by_item_and_field(item, message):
    model = cells.from_torch(TextModel("lstm", torch.float64))
    ok = {"signal": "f", "start": 0, "stop": 2, "value": 1.0}
    with pytest.raises(ValueError, match=message.replace("[0]", "[1]").replace(r"\[0\]",
                                                                                r"\[1\]")):
        model.run(np.arange(T) % V, interventions=[ok, item])


def test_a_forward_only_layer_has_no_backward_direction():
    module = torch.nn.GRU(E, H, num_layers=2)
    model = cells.from_torch(module.double())
    with pytest.raises(ValueError, match=r"interventions\[0\]\.direction: 'backward' is not "
                                         r"one of forward for layer 1"):
        model.run(np.zeros((4, E)), interventions=[{"signal": "z", "start": 0, "stop": 1,
                                                    "value": 1.0, "layer": 1,
                                                    "direction": "backward"}])


def test_single_cells_keep_their_fields():
    cell = cells.create("lstm", input_size=3, hidden_size=4, seed=0)
    with pytest.raises(ValueError, match=r"interventions\[0\] has unknown field\(s\) "
                                         r"\['layer'\]"):
        cell.run(np.zeros((3, 3)), interventions=[{"signal": "f", "start": 0, "stop": 1,
                                                   "value": 1.0, "layer": 0}])


def test_a_projected_lstm_is_refused_by_name():
    module = TextModel("lstm", torch.float64, proj_size=3)
    model = cells.from_torch(module)
    with pytest.raises(ValueError, match=r"interventions\[0\]: layer 1 forward is a "
                                         r"ProjectedLSTM \(an LSTM with proj_size\)"):
        model.run(np.arange(T) % V, interventions=[{"signal": "f", "start": 0, "stop": 1,
                                                    "value": 1.0, "layer": 1}])
