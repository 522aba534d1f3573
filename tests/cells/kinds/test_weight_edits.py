"""Weight edits: a cell with some weights changed runs as torch does with the same weights
changed (by the test, on torch's own modules), the original cell is untouched, edits combine
with interventions, and bad edits are refused naming the item and field."""

import numpy as np
import pytest
import torch

import cells
from tests.cells.kind_cases import random_cell, random_inputs
from tests.support import close

torch.set_num_threads(1)



def torch_module(cell):
    """nn.LSTM / nn.GRU holding the cell's canonical parameters (float64)."""
    module = (torch.nn.LSTM if cell.kind == "lstm" else torch.nn.GRU)(
        cell.input_size, cell.hidden_size, dtype=torch.float64)
    with torch.no_grad():
        for name, a in cell.params.items():
            getattr(module, f"{name}_l0").copy_(torch.from_numpy(np.array(a)))
    return module


def torch_h(module, xs, state):
    h0 = torch.from_numpy(state["h"])[None, None]
    with torch.no_grad():
        if isinstance(module, torch.nn.LSTM):
            c0 = torch.from_numpy(state["c"])[None, None]
            out, _ = module(torch.from_numpy(xs)[:, None], (h0, c0))
        else:
            out, _ = module(torch.from_numpy(xs)[:, None], h0)
    return out[:, 0].numpy()


# (param, row, col, value): a recurrent weight, an input weight and a bias in other blocks
EDITS = [("weight_hh", 1, 2, 2.5), ("weight_ih", 7, 0, -1.75), ("bias_hh", 5, None, 3.0)]


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_edited_cell_runs_as_torch_with_the_same_weights_changed(kind):
    cell = random_cell(kind, {}, I=3, H=4, seed=41)
    xs, state = random_inputs(cell, T=30, seed=41)
    before = {k: np.array(v) for k, v in cell.params.items()}
    plain = cell.run(xs, h0=state["h"], c0=state.get("c"))["h"]
    edits = [{"param": p, "row": r, "col": c, "value": v} for p, r, c, v in EDITS]
    edited = cell.with_weights(edits)
    module = torch_module(cell)
    with torch.no_grad():  # the test's own edit, on torch's tensors
        for p, r, c, v in EDITS:
            getattr(module, f"{p}_l0")[(r,) if c is None else (r, c)] = v
    got = edited.run(xs, h0=state["h"], c0=state.get("c"))["h"]
    close(got, torch_h(module, xs, state), "float64")
    assert np.abs(got - plain).max() > 1e-3  # the edit changed something
    # the original cell is untouched, and still runs as before
    for k, v in before.items():
        assert np.array_equal(cell.params[k], v), k
    np.testing.assert_array_equal(cell.run(xs, h0=state["h"], c0=state.get("c"))["h"], plain)
    assert edited.kind == cell.kind and edited.options == cell.options
    assert not edited.params["weight_hh"].flags.writeable


def test_an_edit_applies_to_every_step_and_combines_with_interventions():
    """With f held at 1 and i at 0 from step 5, c is kept whatever the weights; before
    step 5 the edited weight shows at once (an edit changes the cell from step 0)."""
    cell = random_cell("lstm", {}, I=2, H=3, seed=42)
    xs, state = random_inputs(cell, T=12, seed=42)
    H = cell.hidden_size
    edit = [{"param": "bias_ih", "row": 2 * H + 1, "value": 4.0}]  # the g block, unit 1
    held = [{"signal": "f", "start": 5, "stop": 12, "units": None, "value": 1.0},
            {"signal": "i", "start": 5, "stop": 12, "units": None, "value": 0.0}]
    both = cell.with_weights(edit).run(xs, h0=state["h"], c0=state["c"], interventions=held)
    module = torch_module(cell)
    with torch.no_grad():
        module.bias_ih_l0[2 * H + 1] = 4.0
    # torch for the steps before the holds; the holds keep c from then on
    expected = torch_h(module, xs[:5], state)
    close(both["h"][:5], expected, "float64")
    assert not np.allclose(both["h"][0], cell.run(xs, h0=state["h"], c0=state["c"])["h"][0])
    np.testing.assert_array_equal(both["c"][5:], np.tile(both["c"][4], (7, 1)))


def test_float32_values_are_stored_in_the_cells_dtype():
    cell = cells.create("gru", input_size=2, hidden_size=3, seed=1)
    edited = cell.with_weights([{"param": "weight_hh", "row": 0, "col": 0, "value": 0.1}])
    assert edited.params["weight_hh"].dtype == np.float32
    assert edited.params["weight_hh"][0, 0] == np.float32(0.1)


def test_peepholes_are_one_dimensional_parameters():
    cell = random_cell("peephole_lstm", {}, I=2, H=3, seed=43)
    edited = cell.with_weights([{"param": "peephole_f", "row": 2, "value": -0.5}])
    assert edited.params["peephole_f"][2] == -0.5
    assert edited.params["peephole_f"][1] == cell.params["peephole_f"][1]
    assert edited.params["weight_hh"] is cell.params["weight_hh"]  # untouched: shared


@pytest.mark.parametrize("kind", cells.KINDS)
def test_param_layout_is_the_cells_own(kind):
    cell = cells.create(kind, input_size=3, hidden_size=4)
    layout = cells.param_layout(kind, 3, 4, **cell.options)
    assert {p["name"]: tuple(p["shape"]) for p in layout} == {
        k: v.shape for k, v in cell.params.items()}
    for p in layout:
        if p["blocks"] is not None:
            assert "".join(p["blocks"]) == cell.spec.gate_letters
            assert p["shape"][0] == len(p["blocks"]) * 4


def test_edits_come_back_in_one_order():
    edits = [{"param": "bias_hh", "row": 1, "value": 1}, {"param": "weight_hh", "row": 3,
                                                          "col": 1, "value": 2},
             {"param": "weight_hh", "row": 0, "col": 2, "value": 3}]
    checked = cells.check_weight_edits("lstm", edits, 2, 3)
    assert [e.to_dict() for e in checked] == [
        {"param": "weight_hh", "row": 0, "col": 2, "value": 3.0},
        {"param": "weight_hh", "row": 3, "col": 1, "value": 2.0},
        {"param": "bias_hh", "row": 1, "col": None, "value": 1.0}]
    assert cells.check_weight_edits("lstm", list(reversed(edits)), 2, 3) == checked
    assert cells.check_weight_edits("lstm", None, 2, 3) == ()


@pytest.mark.parametrize("edits,message", [
    ("weight_hh", "must be a list"),
    ([5], "weight_edits[0] must be an object"),
    ([{"param": "weight_hh", "row": 0, "col": 0}], "weight_edits[0] is missing value"),
    ([{"param": "weight_hh", "row": 0, "col": 0, "value": 1, "unit": 2}], "unknown field"),
    ([{"param": "weight_xy", "row": 0, "col": 0, "value": 1}],
     "weight_edits[0].param: a lstm has no parameter 'weight_xy'; its parameters: weight_ih, "
     "weight_hh, bias_ih, bias_hh"),
    ([{"param": "peephole_f", "row": 0, "value": 1}], "no parameter 'peephole_f'"),
    ([{"param": "weight_hh", "row": 12, "col": 0, "value": 1}],
     "weight_edits[0].row: 12 is outside 0 … 11 (weight_hh has shape (12, 3))"),
    ([{"param": "weight_ih", "row": 0, "col": 2, "value": 1}],
     "weight_edits[0].col: 2 is outside 0 … 1 (weight_ih has shape (12, 2))"),
    ([{"param": "weight_ih", "row": 0, "value": 1}], "weight_edits[0].col: is required"),
    ([{"param": "bias_ih", "row": 0, "col": 0, "value": 1}], "bias_ih is one-dimensional"),
    ([{"param": "weight_hh", "row": -1, "col": 0, "value": 1}], "row: -1 is outside"),
    ([{"param": "weight_hh", "row": 0.5, "col": 0, "value": 1}], "row: must be an integer"),
    ([{"param": "weight_hh", "row": 0, "col": True, "value": 1}], "col: must be an integer"),
    ([{"param": "weight_hh", "row": 0, "col": 0, "value": float("inf")}], "must be finite"),
    ([{"param": "weight_hh", "row": 0, "col": 0, "value": float("nan")}],
     "weight_edits[0].value must be finite"),
    ([{"param": "weight_hh", "row": 0, "col": 0, "value": "1"}], "value must be a number"),
    ([{"param": "weight_hh", "row": 0, "col": 0, "value": 1e300}],
     "does not fit in the cell's float32"),
    ([{"param": "weight_hh", "row": 0, "col": 0, "value": 1},
      {"param": "weight_hh", "row": 0, "col": 0, "value": 2}],
     "weight_edits[1] edits weight_hh[0, 0] again"),
])
def test_bad_edits_are_refused_naming_item_and_field(edits, message):
    cell = cells.create("lstm", input_size=2, hidden_size=3)
    with pytest.raises(ValueError) as err:
        cell.with_weights(edits)
    assert message in str(err.value)


@pytest.mark.parametrize("param,row,col,field", [
    ("weight_q", 0, 0, "param"), ("weight_hh", 12, 0, "row"), ("weight_hh", 0, None, "col"),
    ("bias_ih", 0, 1, "col"), ("weight_ih", "1", 0, "row"),
])
def test_a_position_names_the_field_at_fault(param, row, col, field):
    with pytest.raises(cells.weight_edits.WeightEditError) as err:
        cells.weight_edits.check_position("lstm", param, row, col, 2, 3)
    assert err.value.field == field and str(err.value).startswith(f"{field}: ")
    assert cells.weight_edits.check_position("lstm", "bias_ih", 11, None, 2, 3) == (
        "bias_ih", 11, None)
