"""The LSTM with proj_size (cells.models.ProjectedLSTM) against torch.nn.LSTM(proj_size=P):
every layer and direction of a 2-layer bidirectional model, float64 to 1e-10; extending a
trace equals running it whole; its stages end with the projection; its sensitivity equals
torch autograd's; gradients of a loss are refused by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import cells
from cells.models.projected import projected_signals, projected_stages
from tests import projected_reference as reference
from tests.support import TOLERANCE

I, H, P, T = 3, 5, 2, 17
TOL = TOLERANCE["float64"]


@pytest.fixture(scope="module")
def module():
    torch.manual_seed(4)
    return torch.nn.LSTM(I, H, num_layers=2, bidirectional=True, proj_size=P).double()


@pytest.fixture(scope="module")
def xs():
    return np.random.default_rng(4).normal(size=(T, I))


def torch_layer(module, layer, inputs):
    """Torch's own output of one layer (both directions), from that layer's weights."""
    one = torch.nn.LSTM(inputs.shape[1], H, bidirectional=True, proj_size=P).double()
    one.load_state_dict({k.replace(f"_l{layer}", "_l0"): v
                         for k, v in module.state_dict().items() if f"_l{layer}" in k})
    with torch.no_grad():
        return one(torch.from_numpy(inputs)[:, None])[0][:, 0].numpy()  # (T, 2P)


def test_every_layer_and_direction_equals_torch(module, xs):
    mt = cells.from_torch(module).run(xs)
    inputs = xs
    for layer in range(2):
        expected = torch_layer(module, layer, inputs)  # layer 1 reads layer 0's [h→, h←]
        forward, backward = mt.layer(layer, "forward"), mt.layer(layer, "backward")
        np.testing.assert_allclose(forward["h"], expected[:, :P], rtol=TOL, atol=TOL)
        np.testing.assert_allclose(backward["h"], expected[::-1, P:], rtol=TOL, atol=TOL)
        np.testing.assert_allclose(mt.outputs[layer], expected, rtol=TOL, atol=TOL)
        assert forward["m"].shape == (T, H) and forward["h"].shape == (T, P)
        inputs = expected
    with torch.no_grad():
        whole, (h_n, c_n) = module(torch.from_numpy(xs)[:, None])
    np.testing.assert_allclose(mt.outputs[-1], whole[:, 0].numpy(), rtol=TOL, atol=TOL)
    finals = [mt.layer(k, d).final_state for k in range(2) for d in ("forward", "backward")]
    np.testing.assert_allclose(np.stack([f["h"] for f in finals]), h_n[:, 0].numpy(),
                               rtol=TOL, atol=TOL)
    np.testing.assert_allclose(np.stack([f["c"] for f in finals]), c_n[:, 0].numpy(),
                               rtol=TOL, atol=TOL)


def test_signals_are_the_lstm_math_on_torch_weights(module, xs):
    cell = cells.from_torch(module).cell(0, "forward")
    trace = cell.run(xs)
    w_ih, w_hh = module.weight_ih_l0.detach().numpy(), module.weight_hh_l0.detach().numpy()
    bias = (module.bias_ih_l0 + module.bias_hh_l0).detach().numpy()
    w_hr = module.weight_hr_l0.detach().numpy()
    h, c = np.zeros(P), np.zeros(H)
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    for t in range(T):
        z = w_ih @ xs[t] + w_hh @ h + bias
        i, f, o = sigmoid(z[:H]), sigmoid(z[H:2 * H]), sigmoid(z[3 * H:])
        g = np.tanh(z[2 * H:3 * H])
        kept = f * c
        c = kept + i * g
        m = o * np.tanh(c)
        frame = trace.frame(t)
        np.testing.assert_allclose(frame["h_prev"], h, rtol=TOL, atol=TOL)
        h = w_hr @ m
        for name, value in (("i", i), ("f", f), ("g", g), ("o", o), ("c", c), ("m", m),
                            ("h", h), ("tanh_c", np.tanh(c)), ("kept", kept)):
            np.testing.assert_allclose(frame[name], value, rtol=TOL, atol=TOL, err_msg=name)


def test_extend_equals_one_run(module, xs):
    cell = cells.from_torch(module).cell(1, "backward")
    inputs = np.random.default_rng(5).normal(size=(T, 2 * P))
    whole = cell.run(inputs)
    grown = cell.run(inputs[:4]).extend(inputs[4:9]).extend(inputs[9:])
    assert len(grown) == T
    for name in cell.names:
        assert np.array_equal(grown[name], whole[name]), name
    assert np.array_equal(grown.window(3, 11)["h_prev"], whole["h_prev"][3:11])
    assert grown.window(0, 0)["h_prev"].shape == (0, P)
    assert grown.nbytes > 0


def test_stages_end_with_the_projection():
    stages = projected_stages()
    assert stages == [s for s in cells.STAGES if s in stages]
    assert stages[-2:] == ["output", "projection"]
    by_name = {s.name: s for s in projected_signals()}
    assert by_name["h"].stage == "projection" and by_name["h"].size == "projection"
    assert by_name["h_prev"].size == "projection" and by_name["m"].stage == "output"
    assert by_name["m"].size == "hidden" and by_name["h"].args == ("m",)
    assert "projection" not in cells.kind_info("lstm")["stages"]  # only the projected cell


@pytest.mark.parametrize(("t", "unit", "of", "window"),
                         [(9, 1, "h", 6), (T - 1, 0, "h", 256), (12, 4, "c", 5), (0, 2, "c", 3)])
def test_sensitivity_equals_torch_autograd(module, xs, t, unit, of, window):
    trace = cells.from_torch(module).cell(0, "forward").run(xs)
    got = trace.sensitivity(t, unit, of, window)
    want = reference.sensitivity(reference.one_cell(module, 0, "forward"), xs, t, unit, of,
                                 window)
    assert got["start"] == max(0, t - window + 1) and got["t"] == t
    for name in ("x", "h", "c"):
        np.testing.assert_allclose(got[name], want[name], rtol=1e-9, atol=1e-12, err_msg=name)


def test_sensitivity_units_are_checked_by_name(module, xs):
    trace = cells.from_torch(module).cell(0, "forward").run(xs)
    with pytest.raises(ValueError, match=r"unit 2 is outside 0 … 1 \(h has proj_size 2"):
        trace.sensitivity(3, 2, "h")
    assert len(trace.sensitivity(3, 4, "c")["c"]) == 4  # c has H values


def test_no_gradients_of_a_loss_said_by_name(module, xs):
    trace = cells.from_torch(module).cell(0, "forward").run(xs)
    with pytest.raises(ValueError, match="proj_size has no gradients of a loss"):
        trace.backward({"h": np.zeros((T, P))})


def test_bad_inputs_refused(module):
    cell = cells.from_torch(module).cell(0, "forward")
    with pytest.raises(ValueError, match=r"expected \(T, 3\)"):
        cell.run(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        cell.run(np.full((2, I), np.nan))
    with pytest.raises(ValueError, match=r"initial state h has shape \(5,\); expected \(2,\)"):
        cell.run(np.zeros((2, I)), h0=np.zeros(H))


def test_holding_signals_refused_by_name(module):
    cell = cells.from_torch(module).cell(0, "forward")
    assert cell.check_interventions([], 5) == ()
    with pytest.raises(ValueError, match="proj_size cannot hold signals"):
        cell.check_interventions([{"signal": "f", "start": 0, "stop": 2, "value": 1.0}], 5)
