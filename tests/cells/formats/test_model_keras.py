"""Whole Keras 3 models written by keras itself (torch backend), read by cells.load_model
as data: probabilities equal keras' own model.predict."""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"  # fixed when keras is first imported

import io  # noqa: E402
import json  # noqa: E402
import zipfile  # noqa: E402

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import cells  # noqa: E402
from tests.support import close  # noqa: E402

VOCABULARY = "abcdefgh "
TEXT = "a bad cafe fed a badge"
V, E, H, O = len(VOCABULARY), 4, 5, 6
layers = keras.layers


def ids(text=TEXT):
    return np.array([[VOCABULARY.index(ch) for ch in text]])


def built(*stack, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((None,), dtype="int32"), *stack])
    model.build((None, None))
    # Random biases too (keras starts them at zero or one), so every weight is checked.
    for weight in model.weights:
        weight.assign(np.random.default_rng(seed).normal(0, 0.6, weight.shape))
        seed += 1
    return model


def test_bidirectional_lstm_then_gru_then_softmax(tmp_path):
    model = built(
        layers.Embedding(V, E),
        layers.Bidirectional(layers.LSTM(H, return_sequences=True)),
        layers.GRU(H),
        layers.Dense(O, activation="softmax"),
    )
    model.save(tmp_path / "model.keras")
    ours = cells.load_model(tmp_path / "model.keras", vocabulary=VOCABULARY)
    assert ours.layers == 2 and ours.directions == ("forward", "backward")
    assert ours.returns == "last" and ours.head.activation == "softmax"
    mt = ours.run(TEXT)
    expected = model.predict(ids(), verbose=0)[0]  # (O,): the last step's probabilities
    close(mt.prediction, expected, "float32")
    # the GRU on top runs forward, so the last row is it
    close(mt["probs"][-1], expected, "float32")


def test_every_step_with_go_backwards_simple_rnn_and_cho_gru(tmp_path):
    model = built(
        layers.Embedding(V, E),
        layers.SimpleRNN(H, activation="relu", return_sequences=True, go_backwards=True),
        layers.Bidirectional(layers.GRU(H, reset_after=False, return_sequences=True)),
        layers.Dropout(0.5),
        layers.Dense(O, activation="sigmoid"),
    )
    model.save(tmp_path / "seq.keras")
    ours = cells.load_model(tmp_path / "seq.keras", vocabulary=VOCABULARY)
    assert ours.cell(0, "backward").options == {"nonlinearity": "relu"}
    assert ours.cell(1, "forward").options == {"reset_after": False}
    close(ours.run(TEXT)["probs"], model.predict(ids(), verbose=0)[0], "float32")  # (T, O)


def test_weights_h5_alone_in_the_order_its_shapes_allow(tmp_path):
    model = built(
        layers.Embedding(V, E),
        layers.LSTM(H + 1, return_sequences=True),
        layers.GRU(H, return_sequences=True),
        layers.Dense(O, activation="softmax"),
    )
    model.save_weights(tmp_path / "model.weights.h5")
    (tmp_path / "model.vocab.json").write_text(__import__("json").dumps(list(VOCABULARY)))
    ours = cells.load_model(tmp_path / "model.weights.h5")
    assert ours.vocabulary == tuple(VOCABULARY)
    assert [ours.cell(k).kind for k in range(2)] == ["lstm", "gru"]
    close(ours.run(TEXT)["probs"], model.predict(ids(), verbose=0)[0], "float32")


def test_lambda_refused_by_name(tmp_path):
    model = built(layers.Embedding(V, E), layers.LSTM(H, return_sequences=True),
                  layers.Lambda(lambda x: x * 2), layers.Dense(O))
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match=r"lambda\.keras: layer 'lambda' is a Lambda, which is "
                                         r"not supported"):
        cells.load_model(tmp_path / "lambda.keras")


def test_save_model_round_trip_of_a_keras_model(tmp_path):
    model = built(layers.Embedding(V, E), layers.Bidirectional(layers.LSTM(H)),
                  layers.Dense(O, activation="softmax"))
    model.save(tmp_path / "bi.keras")
    ours = cells.load_model(tmp_path / "bi.keras", vocabulary=VOCABULARY)
    cells.save_model(ours, tmp_path / "bi.safetensors")
    again = cells.load_model(tmp_path / "bi.safetensors")
    assert again.returns == "last" and again.vocabulary == tuple(VOCABULARY)
    assert np.array_equal(again.run(TEXT).prediction, ours.run(TEXT).prediction)
    close(again.run(TEXT).prediction, model.predict(ids(), verbose=0)[0], "float32")


def test_functional_chain(tmp_path):
    keras.utils.set_random_seed(1)
    inputs = keras.Input((None,), dtype="int32")
    x = layers.Embedding(V, E)(inputs)
    x = layers.LSTM(H, return_sequences=True, go_backwards=True)(x)
    outputs = layers.Dense(O, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "functional.keras")
    ours = cells.load_model(tmp_path / "functional.keras", vocabulary=VOCABULARY)
    assert ours.directions == ("backward",) and ours.stack[0].reverse_output
    # Keras hands a go_backwards layer's outputs on last step first, and so does the model.
    close(ours.run(TEXT)["probs"], model.predict(ids(), verbose=0)[0], "float32")


def test_mask_zero_refused(tmp_path):
    model = built(layers.Embedding(V, E, mask_zero=True), layers.LSTM(H))
    model.save(tmp_path / "masked.keras")
    with pytest.raises(ValueError, match=r"masked\.keras: layer 'embedding.*mask_zero=True"):
        cells.load_model(tmp_path / "masked.keras")


def repacked(tmp_path, source, name, config=None, edit_weights=None):
    """A copy of a .keras archive with its config.json replaced or its weights edited."""
    with zipfile.ZipFile(source) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    if config is not None:
        members["config.json"] = json.dumps(config).encode()
    if edit_weights is not None:
        buffer = io.BytesIO(members["model.weights.h5"])
        with h5py.File(buffer, "r+") as handle:
            edit_weights(handle)
        members["model.weights.h5"] = buffer.getvalue()
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


def test_links_in_the_weights_are_not_followed(tmp_path):
    model = built(layers.Embedding(V, E), layers.LSTM(H), layers.Dense(O))
    model.save(tmp_path / "plain.keras")
    other = tmp_path / "elsewhere.h5"
    with h5py.File(other, "w") as handle:
        handle["vars/0"] = np.zeros((E, 4 * H), np.float32)

    def link_out(handle):
        del handle["layers/lstm/cell"]
        handle["layers/lstm/cell"] = h5py.ExternalLink(str(other), "/")

    path = repacked(tmp_path, tmp_path / "plain.keras", "linked.keras", edit_weights=link_out)
    with pytest.raises(ValueError, match=r"linked\.keras: layer 'lstm(_\d+)?' \(LSTM\): its cell "
                                         r"weights are not in model\.weights\.h5"):
        cells.load_model(path)



def test_any_config_json_is_a_clear_refusal_or_a_model(tmp_path):
    """Whatever config.json says, reading it ends in a model or a ValueError naming the file
    (never another exception: the server turns ValueErrors into 4xx answers)."""
    model = built(layers.Embedding(V, E), layers.GRU(H), layers.Dense(O))
    model.save(tmp_path / "base.keras")
    with zipfile.ZipFile(tmp_path / "base.keras") as archive:
        real = json.loads(archive.read("config.json"))
    leaves = st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=8) | \
        st.sampled_from(["LSTM", "GRU", "Dense", "Embedding", "Bidirectional", "concat"])
    values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.sampled_from(
                              ["class_name", "config", "layers", "layer", "name",
                               "inbound_nodes", "keras_history", "go_backwards",
                               "return_sequences", "activation", "merge_mode"]), inner,
                              max_size=4), max_leaves=12)

    keys = st.sampled_from(["units", "return_sequences", "go_backwards", "activation",
                            "reset_after", "use_bias", "mask_zero", "input_dim", "name"])

    def mutated(change, where):
        config = json.loads(json.dumps(real))
        layer = config["config"]["layers"][where % len(config["config"]["layers"])]
        if change[0] == "config":
            layer["config"] = change[1]
        elif change[0] == "key":
            layer.setdefault("config", {})[change[1]] = change[2]
        else:
            layer["class_name"] = change[1]
        return config

    changes = st.one_of(
        st.tuples(st.just("config"), values),
        st.tuples(st.just("key"), keys, values),
        st.tuples(st.just("class"), st.sampled_from(["LSTM", "GRU", "SimpleRNN", "Dense",
                                                     "Embedding", "Bidirectional", "Lambda",
                                                     "TimeDistributed"])),
    )

    @settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 40)), deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(values, changes), st.integers(0, 10))
    def check(value, where):
        config = mutated(value, where) if isinstance(value, tuple) else value
        path = repacked(tmp_path, tmp_path / "base.keras", "fuzz.keras", config=config)
        try:
            cells.load_model(path)
        except ValueError as error:
            assert "fuzz.keras" in str(error)

    check()


def test_legacy_hdf5_model(tmp_path):
    model = built(
        layers.Embedding(V, E),
        layers.Bidirectional(layers.GRU(H, return_sequences=True)),
        layers.SimpleRNN(H, return_sequences=True),
        layers.Dense(O, activation="softmax"),
    )
    model.save(tmp_path / "legacy.h5")  # the legacy format: model_config + model_weights
    ours = cells.load_model(tmp_path / "legacy.h5", vocabulary=VOCABULARY)
    assert ours.layers == 2 and ours.stack[0].directions == ("forward", "backward")
    close(ours.run(TEXT)["probs"], model.predict(ids(), verbose=0)[0], "float32")


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_time_distributed_dense_head(tmp_path, suffix):
    model = built(layers.Embedding(V, E), layers.LSTM(H, return_sequences=True),
                  layers.TimeDistributed(layers.Dense(O, activation="softmax")))
    model.save(tmp_path / f"td{suffix}")
    ours = cells.load_model(tmp_path / f"td{suffix}", vocabulary=VOCABULARY)
    assert ours.head.activation == "softmax"
    close(ours.run(TEXT)["probs"], model.predict(ids(), verbose=0)[0], "float32")
