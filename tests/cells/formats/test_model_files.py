"""save_model / load_model round trips, vocabularies (given, sidecar, preset) and refusals
that name the file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import cells
from cells.weights_io import read_weights

I, H = 4, 5


def hand_made(dtype="float64"):
    """Two layers: bidirectional LSTM then a backward-only GRU, a word embedding, a head."""
    rng = np.random.default_rng(0)
    layer0 = {d: cells.create("lstm", input_size=I, hidden_size=H, seed=k, dtype=dtype)
              for k, d in enumerate(("forward", "backward"))}
    layer1 = {"backward": cells.create("gru", input_size=2 * H, hidden_size=H, seed=3,
                                       dtype=dtype, reset_after=False)}
    words = ("the", "cat", "sat", "on", "mat", "çà", "🙂")
    encoder = cells.models.Encoder("embedding", I, words, "words", rng.normal(size=(7, I)))
    head = cells.models.Head(rng.normal(size=(3, H)), rng.normal(size=3), "softmax")
    return cells.Model([layer0, cells.models.Layer(layer1, reverse_output=True)], encoder, head)


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_save_model_round_trips_exactly(tmp_path, suffix, dtype):
    model = hand_made(dtype)
    path = tmp_path / f"model{suffix}"
    cells.save_model(model, path)
    again = cells.load_model(path)
    assert again.vocabulary == model.vocabulary and again.encoder.tokenizer == "words"
    assert again.dtype == model.dtype and again.stack[1].reverse_output
    for layer, direction in ((0, "forward"), (0, "backward"), (1, "backward")):
        a, b = model.cell(layer, direction), again.cell(layer, direction)
        assert (a.kind, a.options) == (b.kind, b.options)
        for name, value in a.params.items():
            assert b.params[name].tobytes() == value.tobytes(), name
    assert again.encoder.embedding.tobytes() == model.encoder.embedding.tobytes()
    assert again.head.weight.tobytes() == model.head.weight.tobytes()
    text = "the cat sat on the mat 🙂 çà"
    assert np.array_equal(again.run(text)["probs"], model.run(text)["probs"])


@pytest.mark.parametrize("kind", sorted(cells.KINDS))
def test_a_char_model_of_every_kind_round_trips(tmp_path, kind):
    """Kinds without a recurrent matrix (minGRU, minLSTM) are saved without weight_hh and
    read back so; options (sLSTM heads, minLSTM normalize) come back as written."""
    model = cells.char_model(kind, "ab$", hidden_size=4, seed=1, dtype="float64")
    cells.save_model(model, tmp_path / "model.safetensors")
    again = cells.load_model(tmp_path / "model.safetensors")
    a, b = model.cell(0), again.cell(0)
    assert (a.kind, a.options, sorted(a.params)) == (b.kind, b.options, sorted(b.params))
    for name, value in a.params.items():
        assert b.params[name].tobytes() == value.tobytes(), name
    assert np.array_equal(again.run("abba$")["probs"], model.run("abba$")["probs"])


def test_projected_and_one_hot_round_trip(tmp_path):
    torch.manual_seed(0)
    module = torch.nn.LSTM(3, 6, proj_size=2, num_layers=2).double()
    model = cells.from_torch(module, vocabulary="abc")
    assert model.encoder.encoding == "one_hot"
    cells.save_model(model, tmp_path / "proj.npz")
    again = cells.load_model(tmp_path / "proj.npz")
    assert np.array_equal(again.run("abcab").outputs[-1], model.run("abcab").outputs[-1])
    with torch.no_grad():
        expected = module(torch.eye(3, dtype=torch.float64)[[0, 1, 2, 0, 1]])[0].numpy()
    np.testing.assert_allclose(model.run("abcab").outputs[-1], expected, atol=1e-10)


def test_cells_load_reads_layer_zero_of_a_model_file(tmp_path):
    model = hand_made()
    cells.save_model(model, tmp_path / "model.safetensors")
    loaded = read_weights(tmp_path / "model.safetensors")
    assert (loaded.layers, loaded.directions) == (2, ("forward", "backward"))
    cell = cells.load(tmp_path / "model.safetensors")
    assert cell.params["weight_hh"].tobytes() == model.cell(0).params["weight_hh"].tobytes()
    with pytest.raises(ValueError, match=r"model\.safetensors: layer 1 runs backward only"):
        read_weights(tmp_path / "model.safetensors", layer=1)


def state_dict_file(tmp_path, name="m.safetensors", vocabulary_size=4):
    torch.manual_seed(0)
    state = {f"emb.{k}": v for k, v in torch.nn.Embedding(vocabulary_size, 3).state_dict().items()}
    state |= {f"rnn.{k}": v for k, v in torch.nn.RNN(3, 4).state_dict().items()}
    save_file(state, str(tmp_path / name))
    return tmp_path / name


@pytest.mark.parametrize(
    ("sidecar", "content", "expected"),
    [
        ("vocab.txt", "a\nb\n \nd\n", ("a", "b", " ", "d")),
        ("m.vocab.txt", "one\ntwo\nthree\nfour", ("one", "two", "three", "four")),
        ("vocab.json", json.dumps(["w", "x", "y", "z"]), ("w", "x", "y", "z")),
        ("vocab.json", json.dumps({"x": 1, "w": 0, "z": 3, "y": 2}), ("w", "x", "y", "z")),
    ],
)
def test_vocabulary_sidecar(tmp_path, sidecar, content, expected):
    path = state_dict_file(tmp_path)
    (tmp_path / sidecar).write_text(content, encoding="utf-8")
    model = cells.load_model(path)
    assert model.vocabulary == expected
    text = " ".join(expected) if model.encoder.tokenizer == "words" else "".join(expected)
    assert len(model.run(text)) == 4


def test_vocabulary_of_the_wrong_size_names_the_file(tmp_path):
    path = state_dict_file(tmp_path)
    with pytest.raises(ValueError, match=r"m\.safetensors: the vocabulary has 3 tokens but the "
                                         r"embedding input takes 4"):
        cells.load_model(path, vocabulary="abc")
    (tmp_path / "vocab.json").write_text('{"a": 0, "b": 0}')
    with pytest.raises(ValueError, match=r"vocab\.json: a \{token: id\} vocabulary needs ids"):
        cells.load_model(path)


def test_preset_vocabulary(tmp_path):
    preset = cells.presets.get("counter")
    path = state_dict_file(tmp_path, vocabulary_size=len(preset.vocabulary))
    by_name = cells.load_model(path, vocabulary="preset:counter")
    by_object = cells.load_model(path, vocabulary=preset)
    assert by_name.vocabulary == by_object.vocabulary == tuple(preset.vocabulary)
    assert len(by_name.run(preset.sample)) == len(preset.sample)


def test_text_without_vocabulary_explains(tmp_path):
    model = cells.load_model(state_dict_file(tmp_path))
    with pytest.raises(ValueError, match=r"no vocabulary, so it cannot read text"):
        model.run("abc")
    assert len(model.run(np.array([0, 3, 1]))) == 3  # token ids still work
    with pytest.raises(ValueError, match=r"token id\(s\) 7 outside 0\.\.3"):
        model.run(np.array([0, 7]))


@pytest.mark.parametrize("name", ["model.pt", "model.pth", "model.bin", "model.pkl"])
def test_pickles_refused(tmp_path, name):
    (tmp_path / name).write_bytes(b"\x80\x04K\x01.")  # a pickle of 1
    with pytest.raises(ValueError, match=rf"{name.replace('.', '[.]')}: PyTorch pickles are "
                                         r"not loaded"):
        cells.load_model(tmp_path / name)


def test_safetensors_whose_header_length_looks_like_a_pickle_is_read(tmp_path):
    """A safetensors file opens with its header length as a little-endian u64: a header of
    640..645 bytes opens with 0x80 and 2..5, which is also how a pickle opens."""
    rnn = torch.nn.RNN(3, 4)
    state = rnn.state_dict()
    for pad in range(0, 400):
        path = tmp_path / "m.safetensors"
        save_file(state, path, metadata={"pad": "x" * pad})
        head = path.read_bytes()[:2]
        if head[0] == 0x80 and 2 <= head[1] <= 5:
            break
    else:
        pytest.fail("no padding gave a header length of 640..645 bytes")
    model = cells.load_model(path)
    xs = torch.randn(5, 1, 3)
    expected = rnn(xs)[0][:, 0].detach().numpy()
    np.testing.assert_allclose(model.run(xs[:, 0].numpy()).layer(0, "forward")["h"], expected,
                               rtol=0, atol=1e-5)


def test_npz_object_array_refused(tmp_path):
    state = {k: v.numpy() for k, v in torch.nn.RNN(3, 4).state_dict().items()}
    np.savez(tmp_path / "obj.npz", **state | {"weight_ih_l0": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ValueError, match=r"obj\.npz: weight_ih_l0 is an object array"):
        cells.load_model(tmp_path / "obj.npz")


def test_not_a_keras_archive(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"{}")
    with pytest.raises(ValueError, match=r"model\.keras: not a readable \.keras archive"):
        cells.load_model(tmp_path / "model.keras")


def test_unknown_part_name_refused(tmp_path):
    with pytest.raises(ValueError, match=r"m\.safetensors: unknown part name\(s\) \['decoder'\]"):
        cells.load_model(state_dict_file(tmp_path), decoder="fc")


def test_trace_lookups_explain():
    mt = hand_made().run("the cat")
    with pytest.raises(ValueError, match=r"layer 1 runs backward, not 'forward'"):
        mt.layer(1, "forward")
    with pytest.raises(ValueError, match=r"layer 2 is not one of 0\.\.1"):
        mt.layer(2)
    assert mt.layer(1, "backward")["h"].shape == (2, H)


def test_single_cell_file_is_a_one_layer_model(tmp_path):
    cell = cells.create("gru", input_size=I, hidden_size=H, reset_after=False, dtype="float64")
    cells.save(cell, tmp_path / "cell.npz")
    model = cells.load_model(tmp_path / "cell.npz")
    assert model.layers == 1 and model.cell(0).options == {"reset_after": False}
    xs = np.random.default_rng(0).normal(size=(6, I))
    assert np.array_equal(model.run(xs).layer(0)["h"], cell.run(xs)["h"])


def test_dtype_given_wins(tmp_path):
    cells.save_model(hand_made("float64"), tmp_path / "m.safetensors")
    model = cells.load_model(tmp_path / "m.safetensors", dtype="float32")
    assert model.dtype == np.float32 and model.encoder.embedding.dtype == np.float32
    assert model.run("the cat")["probs"].dtype == np.float32


def test_info_is_plain_data():
    info = hand_made().info()
    assert info["layers"] == 2 and info["directions"] == ["forward", "backward"]
    assert [c["direction"] for c in info["cells"][1]] == ["backward"]
    assert info["cells"][1][0] == {"direction": "backward", "kind": "gru",
                                   "options": {"reset_after": False}, "input_size": 2 * H,
                                   "hidden_size": H, "output_size": H}
    assert info["encoder"] == {"encoding": "embedding", "input_size": I, "tokenizer": "words",
                               "vocabulary_size": 7}
    assert info["head"] == {"output_size": 3, "activation": "softmax"}
    json.dumps(info)  # nothing but plain data


def test_time_order_of_a_backward_cell():
    mt = hand_made().run("the cat sat on")
    trace = mt.layer(0, "backward")
    assert mt.step(0, "backward", 0) == 3 and mt.step(0, "forward", 0) == 0
    assert np.array_equal(mt.signal(0, "backward", "h")[0], trace["h"][3])
    assert np.array_equal(mt.signal(0, "backward", "h"), mt.outputs[0][:, H:])
    with pytest.raises(ValueError, match=r"time 4 is outside the sequence of 4 steps"):
        mt.step(0, "forward", 4)


@pytest.mark.parametrize("vocabulary", [None, "abcd"])
@pytest.mark.parametrize("embedding", [True, False])
def test_converted_model_leaves_open_what_the_file_leaves_open(tmp_path, vocabulary,
                                                              embedding):
    """A state dict says neither its head's activation nor, without an embedding, whether
    it reads text: its converted file decides both with the vocabulary given later, as the
    state dict itself does."""
    torch.manual_seed(1)
    state = {f"rnn.{k}": v for k, v in torch.nn.RNN(4, 5).state_dict().items()}
    if embedding:
        state |= {f"emb.{k}": v for k, v in torch.nn.Embedding(4, 4).state_dict().items()}
    state |= {f"fc.{k}": v for k, v in torch.nn.Linear(5, 4).state_dict().items()}
    save_file(state, str(tmp_path / "m.safetensors"))
    out = tmp_path / "converted.safetensors"
    assert cells.convert_model(tmp_path / "m.safetensors", out) == ()
    for dtype in ("float32", "float64"):
        original = cells.load_model(tmp_path / "m.safetensors", vocabulary=vocabulary,
                                    dtype=dtype)
        again = cells.load_model(out, vocabulary=vocabulary, dtype=dtype)
        assert again.info() == original.info()
        sequence = "abca" if vocabulary else (
            [0, 2, 1] if embedding else [[0.5, -1.0, 0.25, 2.0], [1.0, 0.0, -0.5, 0.75]])
        if vocabulary is None and embedding:
            sequence = np.array(sequence)
        np.testing.assert_array_equal(again.run(sequence)["logits"],
                                      original.run(sequence)["logits"])
