"""The Python API as documented in the README, and the errors it gives for bad input."""

import pickle

import numpy as np
import pytest

import cells


def test_create_defaults_to_float32_xavier_with_forget_bias_one():
    cell = cells.create("lstm", input_size=3, hidden_size=5, seed=0)
    assert cell.dtype == np.float32 and cell.params["weight_ih"].dtype == np.float32
    assert cell.params["weight_ih"].shape == (20, 3) and cell.params["weight_hh"].shape == (20, 5)
    # Glorot bounds per gate block: √(6/(I+H)) and √(6/(2H))
    assert np.abs(cell.params["weight_ih"]).max() <= np.sqrt(6 / 8)
    assert np.abs(cell.params["weight_hh"]).max() <= np.sqrt(6 / 10)
    b = cell.params["bias_ih"] + cell.params["bias_hh"]
    np.testing.assert_array_equal(b, np.r_[np.zeros(5), np.ones(5), np.zeros(10)])
    same = cells.create("lstm", input_size=3, hidden_size=5, seed=0)
    other = cells.create("lstm", input_size=3, hidden_size=5, seed=1)
    assert np.array_equal(cell.params["weight_hh"], same.params["weight_hh"])
    assert not np.array_equal(cell.params["weight_hh"], other.params["weight_hh"])


def test_xavier_variance_matches_the_derivation():
    """U(±r) has variance r²/3; with r = √(6/(m+n)) that is 2/(m+n)."""
    cell = cells.create("rnn", input_size=300, hidden_size=300, seed=3, dtype="float64")
    assert cell.params["weight_hh"].var() == pytest.approx(2 / 600, rel=0.02)


def test_sizes_are_inferred_from_params_and_float64_on_request():
    base = cells.create("gru", input_size=4, hidden_size=6, seed=0)
    cell = cells.create("gru", params=base.params, reset_after=False, dtype="float64")
    assert (cell.input_size, cell.hidden_size, cell.dtype) == (4, 6, np.float64)
    assert cell.options == {"reset_after": False}
    rnn = cells.create("rnn", params=cells.create("rnn", input_size=2, hidden_size=3).params,
                       nonlinearity="relu")
    assert rnn.options == {"nonlinearity": "relu"}


def test_trace_api():
    cell = cells.create("lstm", input_size=2, hidden_size=3, seed=0)
    xs = np.random.default_rng(0).normal(size=(10, 2))
    trace = cell.run(xs)
    assert len(trace) == 10 and trace["f"].shape == (10, 3) and trace["x"].shape == (10, 2)
    assert set(trace.names) == {s.name for s in cell.signals}
    w = trace.window(3, 7)
    assert w["c"].shape == (4, 3)
    np.testing.assert_array_equal(w["c_prev"][1:], w["c"][:-1])
    np.testing.assert_array_equal(trace.frame(0)["h_prev"], np.zeros(3))
    np.testing.assert_array_equal(trace.final_state["h"], trace["h"][-1])
    state, frame = cell.step(xs[0])
    assert set(frame) == set(trace.names) and set(state) == {"c", "h"}


def test_signal_descriptions_cover_every_kind():
    for kind in cells.KINDS:
        signals = cells.describe(kind)
        names = [s.name for s in signals]
        assert len(names) == len(set(names))
        assert all(s.stage in cells.STAGES for s in signals)
        stages = [cells.STAGES.index(s.stage) for s in signals]
        assert stages == sorted(stages), f"{kind} signals are not in computation order"
        for s in signals:
            assert all(a in names for a in s.args), (kind, s.name, s.args)
            assert s.equation and s.label and s.description
            d = s.to_dict()
            assert d["name"] == s.name and isinstance(d["args"], list)
    assert "h_reset" in [s.name for s in cells.describe("gru", reset_after=False)]
    assert "n_rec" in [s.name for s in cells.describe("gru", reset_after=True)]
    assert "c_raw" in [s.name for s in cells.describe("normalized_lstm")]
    glyphs = " ".join(s.equation for s in cells.describe("lstm"))
    assert "σ" in glyphs and "tanh" in glyphs and "⊙" in glyphs


@pytest.mark.parametrize("call,message", [
    (lambda: cells.create("lstmm", input_size=1, hidden_size=1), "unknown cell kind 'lstmm'"),
    (lambda: cells.create("lstm", input_size=0, hidden_size=1), "input_size must be at least 1"),
    (lambda: cells.create("lstm", input_size=1.5, hidden_size=1), "input_size must be an integer"),
    (lambda: cells.create("lstm", hidden_size=1), "give input_size and hidden_size"),
    (lambda: cells.create("lstm", input_size=1, hidden_size=1, dtype="int8"), "dtype"),
    (lambda: cells.create("gru", input_size=1, hidden_size=1, reset_after="yes"), "reset_after"),
    (lambda: cells.create("lstm", input_size=1, hidden_size=1, bogus=1), "unknown option"),
    (lambda: cells.create("lstm", params={"weight_ih": np.zeros((8, 3)),
                                          "weight_hh": np.zeros((8, 3))}), "weight_hh has shape"),
    (lambda: cells.create("lstm", params={"weight_ih": np.zeros((8, 3)),
                                          "weight_hh": np.zeros((8, 2)),
                                          "bias_ih": np.zeros(7)}), "bias_ih has shape (7,)"),
    (lambda: cells.create("lstm", params={"weight_ih": np.full((8, 3), np.nan),
                                          "weight_hh": np.zeros((8, 2))}), "contains NaN"),
    (lambda: cells.create("lstm", params={"weight_ih": np.zeros((8, 3)),
                                          "weight_hh": np.zeros((8, 2)), "extra": 1}),
     "unknown parameter"),
    (lambda: cells.create("rnn", params={"weight_ih": np.array([[object()]]),
                                         "weight_hh": np.zeros((1, 1))}), "must hold numbers"),
])
def test_bad_arguments_raise_value_error_naming_the_problem(call, message):
    with pytest.raises(ValueError, match=None) as err:
        call()
    assert message in str(err.value)


@pytest.mark.parametrize("xs,message", [
    (np.zeros((4, 3)), "shape (4, 3)"),
    (np.zeros(4), "shape (4,)"),
    (np.zeros((0, 2)), "empty"),
    (np.array([[1.0, np.inf]]), "Inf"),
    (np.array([[1.0, np.nan]]), "NaN"),
    (np.array([[1, "a"]], dtype=object), "must hold numbers"),
    (np.array([["a", "b"]]), "must hold numbers"),
])
def test_bad_sequences_are_refused(xs, message):
    cell = cells.create("lstm", input_size=2, hidden_size=3)
    with pytest.raises(ValueError) as err:
        cell.run(xs)
    assert message in str(err.value)


def test_bad_states_and_windows_are_refused():
    cell = cells.create("gru", input_size=2, hidden_size=3)
    with pytest.raises(ValueError, match="has no state"):
        cell.run(np.zeros((2, 2)), c0=np.zeros(3))
    with pytest.raises(ValueError, match=r"initial state h has shape \(2,\)"):
        cell.run(np.zeros((2, 2)), h0=np.zeros(2))
    trace = cell.run(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="outside the trace"):
        trace.window(3, 9)
    with pytest.raises(ValueError, match="unknown signal"):
        trace.window(0, 1, names=["c"])


def test_pickles_are_refused_by_load(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps({"weight": [1, 2]}))
    with pytest.raises(ValueError, match="safetensors"):
        cells.load(path)
    npz = tmp_path / "weights.npz"
    np.savez(npz, weight_ih=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError):
        cells.load(npz)


def test_save_load_round_trip_is_exact(tmp_path):
    for kind, options in (("peephole_lstm", {}), ("gru", {"reset_after": False}),
                          ("rnn", {"nonlinearity": "relu"})):
        cell = cells.create(kind, input_size=3, hidden_size=4, seed=5, dtype="float64", **options)
        for ext in ("safetensors", "npz"):
            path = tmp_path / f"{kind}.{ext}"
            cells.save(cell, path)
            back = cells.load(path)
            assert (back.kind, back.options, back.dtype) == (kind, cell.options, cell.dtype)
            for k, v in cell.params.items():
                assert np.array_equal(back.params[k], v) and back.params[k].dtype == v.dtype


def test_kind_info_lists_options_state_and_the_stages_present():
    for kind in cells.KINDS:
        info = cells.kind_info(kind)
        # an mLSTM's heads split H into equal d×d memories: a size every head count divides
        H = 4 if kind == "mlstm" else 3
        cell = cells.create(kind, input_size=2, hidden_size=H)
        assert info["state"] == list(cell.state_names)
        assert {n: o["default"] for n, o in info["options"].items()} == cell.options
        for name, option in info["options"].items():
            for value in option["values"]:  # every listed value is accepted
                cells.create(kind, input_size=2, hidden_size=H, **{name: value})
        stages = {s.stage for s in cell.signals}
        assert info["stages"] == [s for s in cells.STAGES if s in stages]
        assert [s["name"] for s in info["signals"]] == list(cell.names)
    assert cells.kind_info("gru")["options"]["reset_after"] == {"values": [True, False],
                                                               "default": True}
    with pytest.raises(ValueError, match="unknown cell kind"):
        cells.kind_info("transformer")
