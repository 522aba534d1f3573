"""What if, in a whole model: one weight of one layer and direction's cell changed. The
edited model's logits and probabilities equal torch's with the same weight changed in the
torch module (2-layer bidirectional LSTM and GRU, float64 to 1e-10), the edited layer's
trace equals torch's output of that layer, the original model is untouched, and the
refusals name the item and field."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import cells
from cells.models import Head, Model
from tests.support import TOLERANCE

V, E, H, O = 7, 4, 5, 7
T = 12
TOL = TOLERANCE["float64"]


class TextModel(torch.nn.Module):
    def __init__(self, kind, **options):
        super().__init__()
        torch.manual_seed(5)
        self.emb = torch.nn.Embedding(V, E)
        self.rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](
            E, H, num_layers=2, bidirectional=True, **options)
        self.fc = torch.nn.Linear(2 * (options.get("proj_size") or H), O)
        self.to(torch.float64)

    def layers(self, ids):
        """Each layer's output (T, 2H), by torch: one single-layer module per layer."""
        x = self.emb(torch.as_tensor(ids))
        outs = []
        for layer in range(2):
            one = type(self.rnn)(x.shape[1], H, bidirectional=True).to(torch.float64)
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                for suffix in ("", "_reverse"):
                    getattr(one, f"{name}_l0{suffix}").data.copy_(
                        getattr(self.rnn, f"{name}_l{layer}{suffix}"))
            x = one(x[:, None])[0][:, 0]
            outs.append(x)
        return outs

    def logits(self, ids):
        return self.fc(self.rnn(self.emb(torch.as_tensor(ids))[:, None])[0][:, 0])


def torch_name(param, layer, direction):
    return f"{param}_l{layer}{'_reverse' if direction == 'backward' else ''}"


EDITS = {
    "lstm": [{"param": "weight_hh", "row": 1 * H + 2, "col": 3, "value": 2.5, "layer": 1,
              "direction": "backward"},
             {"param": "bias_ih", "row": 3 * H + 0, "col": None, "value": -1.75, "layer": 1,
              "direction": "backward"},
             {"param": "weight_ih", "row": 2, "col": 1, "value": 3.0}],
    "gru": [{"param": "weight_ih", "row": 2 * H + 4, "col": 7, "value": -2.0, "layer": 1},
            {"param": "bias_hh", "row": 2 * H + 1, "col": None, "value": 1.5, "layer": 0,
             "direction": "backward"}],
}


def torch_edited(module, edits):
    with torch.no_grad():
        for e in edits:
            tensor = getattr(module.rnn, torch_name(e["param"], e.get("layer", 0),
                                                    e.get("direction", "forward")))
            tensor[(e["row"],) if e["col"] is None else (e["row"], e["col"])] = e["value"]
    return module


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_edited_model_equals_torch_with_the_weight_changed(kind):
    module = TextModel(kind)
    model = cells.from_torch(module)
    ids = np.random.default_rng(2).integers(0, V, T)
    before = model.run(ids)["logits"]
    edited = model.with_weights(EDITS[kind])
    torch_edited(module, EDITS[kind])
    with torch.no_grad():
        logits = module.logits(ids)
        outputs = module.layers(ids)
        probs = torch.softmax(logits, dim=-1).numpy()
    mt = edited.run(ids)
    np.testing.assert_allclose(mt["logits"], logits.numpy(), rtol=0, atol=TOL)
    assert np.abs(mt["logits"] - before).max() > 1e-3  # the edits reach the head
    # each edited layer's trace (its h, in time order) is torch's output of that layer
    for e in EDITS[kind]:
        layer, direction = e.get("layer", 0), e.get("direction", "forward")
        half = slice(0, H) if direction == "forward" else slice(H, 2 * H)
        np.testing.assert_allclose(mt.signal(layer, direction, "h"),
                                   outputs[layer][:, half].numpy(), rtol=0, atol=TOL)
        assert edited.cell(layer, direction).params[e["param"]][
            (e["row"],) if e["col"] is None else (e["row"], e["col"])] == e["value"]
    # probabilities of a softmax head on the edited model: torch's softmax
    head = Head(model.head.weight, model.head.bias, "softmax")
    soft = Model(edited.stack, edited.encoder, head).run(ids)
    np.testing.assert_allclose(soft["probs"], probs, rtol=0, atol=TOL)
    # the original model is untouched, and cells no edit names are shared
    np.testing.assert_array_equal(model.run(ids)["logits"], before)
    touched = {(e.get("layer", 0), e.get("direction", "forward")) for e in EDITS[kind]}
    for layer in range(2):
        for direction in ("forward", "backward"):
            same = edited.cell(layer, direction) is model.cell(layer, direction)
            assert same == ((layer, direction) not in touched)


def test_layer_and_direction_default_to_the_first_forward_cell():
    model = cells.from_torch(TextModel("lstm"))
    ids = np.arange(T) % V
    edit = {"param": "weight_hh", "row": 4, "col": 0, "value": 1.0}
    a = model.with_weights([edit]).run(ids)
    b = model.with_weights([{**edit, "layer": 0, "direction": "forward"}]).run(ids)
    np.testing.assert_array_equal(a["logits"], b["logits"])
    assert model.with_weights([edit]).cell(0, "forward").params["weight_hh"][4, 0] == 1.0
    assert model.with_weights([]).run(ids)["logits"].tolist() == model.run(ids)["logits"].tolist()


@pytest.mark.parametrize("edits, message, field", [
    ([{"param": "weight_hh", "row": 0, "col": 0, "value": 1.0, "layer": 2}],
     r"weight_edits\[0\]\.layer: 2 is not one of 0\.\.1 .*not the head's nor the embedding's",
     "layer"),
    ([{"param": "weight_hh", "row": 0, "col": 0, "value": 1.0, "layer": True}],
     r"weight_edits\[0\]\.layer", "layer"),
    ([{"param": "weight_hh", "row": 0, "col": 0, "value": 1.0, "direction": "sideways"}],
     r"weight_edits\[0\]\.direction: 'sideways' is not one of forward, backward for layer 0",
     "direction"),
    ([{"param": "weight_hh", "row": 0, "col": 0, "value": 1.0},
      {"param": "fc.weight", "row": 0, "col": 0, "value": 1.0, "layer": 1}],
     r"weight_edits\[1\]\.param: a lstm has no parameter 'fc\.weight'.*not the head's",
     "param"),
    ([{"param": "weight_hh", "row": 0, "col": 0, "value": 1.0, "layer": 1},
      {"param": "weight_hh", "row": 4 * H, "col": 0, "value": 1.0, "layer": 1}],
     r"weight_edits\[1\]\.row: 20 is outside 0 … 19", "row"),
    ([{"param": "weight_ih", "row": 0, "col": 2 * H, "value": 1.0, "layer": 1}],
     r"weight_edits\[0\]\.col: 10 is outside 0 … 9 \(weight_ih has shape \(20, 10\)\)", "col"),
    ([{"param": "weight_ih", "row": 0, "col": 0, "value": 1.0, "layer": 1},
      {"param": "weight_hh", "row": 0, "col": 0, "value": 1.0},
      {"param": "weight_ih", "row": 0, "col": 0, "value": 2.0, "layer": 1}],
     r"weight_edits\[2\] edits weight_ih\[0, 0\] again \(weight_edits\[0\] did\)",
     "weight_edits"),
    ([{"param": "weight_hh", "row": 0, "col": 0, "value": 1.0, "unit": 1}],
     r"weight_edits\[0\] has unknown field\(s\) \['unit'\]", "weight_edits"),
    ({"param": "weight_hh"}, r"weight_edits must be a list", "weight_edits"),
])
def test_bad_edits_name_the_item_and_field(edits, message, field):
    model = cells.from_torch(TextModel("lstm"))
    with pytest.raises(cells.weight_edits.WeightEditError, match=message) as err:
        model.with_weights(edits)
    assert err.value.field == field


def test_a_projected_lstm_is_refused_by_name():
    model = cells.from_torch(TextModel("lstm", proj_size=3))
    with pytest.raises(ValueError, match=r"weight_edits\[0\]: layer 1 backward is a "
                                         r"ProjectedLSTM \(an LSTM with proj_size\)"):
        model.with_weights([{"param": "weight_hh", "row": 0, "col": 0, "value": 1.0,
                             "layer": 1, "direction": "backward"}])
