"""tf.keras 2 whole models (`model.save("m.h5")` under TensorFlow 2.x, Keras ≤ 2.3's
"Model" class included) read by cells.load_model, checked against a Keras 3 model holding
the same weights.

tf.keras 2 cannot be installed here, so each file is written with h5py in the layout its
legacy HDF5 saving writes: root attributes keras_version, backend and model_config (JSON,
utf-8 bytes); a model_weights group with layer_names; one group per layer with its
weight_names and a dataset at each name ("lstm/lstm_cell/kernel:0" makes nested groups).
"""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"  # fixed when keras is first imported

import json  # noqa: E402

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import cells  # noqa: E402
from tests.support import close

VOCABULARY = "abcdefgh "
TEXT = "a bad cafe fed a badge"
V, E, H, O = len(VOCABULARY), 4, 5, 6
layers = keras.layers



def ids(text=TEXT):
    return np.array([[VOCABULARY.index(ch) for ch in text]])


def keras3_twin(*stack, seed=0):
    """The same network in Keras 3, every weight random (biases too)."""
    model = keras.Sequential([keras.Input((None,), dtype="int32"), *stack])
    model.build((None, None))
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign(rng.normal(0, 0.6, weight.shape).astype(np.float32))
    return model


def initializer(name):
    return {"module": "keras.initializers", "class_name": name, "config": {"seed": None},
            "registered_name": None}


def tf_layer(class_name, name, **config):
    """A layer's entry as tf.keras 2.15 serializes it (the settings that matter here plus
    the bookkeeping fields it always writes)."""
    return {"module": "keras.layers", "class_name": class_name,
            "config": {"name": name, "trainable": True, "dtype": "float32", **config},
            "registered_name": None}


def tf_recurrent(class_name, name, units, **config):
    settings = {"return_sequences": False, "return_state": False, "go_backwards": False,
                "stateful": False, "unroll": False, "time_major": False, "units": units,
                "activation": "tanh", "use_bias": True,
                "kernel_initializer": initializer("GlorotUniform"),
                "recurrent_initializer": initializer("Orthogonal"),
                "bias_initializer": initializer("Zeros"), "dropout": 0.0,
                "recurrent_dropout": 0.0}
    if class_name != "SimpleRNN":
        settings["recurrent_activation"] = "sigmoid"
        settings["implementation"] = 2
    if class_name == "LSTM":
        settings["unit_forget_bias"] = True
    if class_name == "GRU":
        settings["reset_after"] = True
    return tf_layer(class_name, name, **{**settings, **config})


def write_tf_keras_h5(path, model_config, weights, layer_names):
    """`weights`: layer name -> [(weight name, array)] in the layer's weight order."""
    with h5py.File(path, "w") as handle:
        handle.attrs["keras_version"] = "2.15.0"
        handle.attrs["backend"] = "tensorflow"
        handle.attrs["model_config"] = json.dumps(model_config).encode("utf8")
        group = handle.create_group("model_weights")
        group.attrs["layer_names"] = np.array([n.encode("utf8") for n in layer_names])
        group.attrs["backend"] = b"tensorflow"
        group.attrs["keras_version"] = b"2.15.0"
        for layer in sorted(layer_names):
            layer_group = group.create_group(layer)
            named = weights.get(layer, [])
            layer_group.attrs["weight_names"] = np.array([n.encode("utf8") for n, _ in named])
            for name, value in named:
                layer_group.create_dataset(name, data=value)


def named(twin_layer, names):
    values = twin_layer.get_weights()
    assert len(values) == len(names)
    return list(zip(names, values, strict=True))


def cell_names(scope):
    return [f"{scope}/{v}:0" for v in ("kernel", "recurrent_kernel", "bias")]


def test_sequential_as_tf_keras_2_writes_it(tmp_path):
    twin = keras3_twin(
        layers.Embedding(V, E),
        layers.Bidirectional(layers.LSTM(H, return_sequences=True)),
        layers.Dropout(0.3),
        layers.GRU(H),
        layers.Dense(O, activation="softmax"),
    )
    embedding, bidirectional, _, gru, dense = twin.layers
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        tf_layer("InputLayer", "embedding_input", batch_input_shape=[None, None],
                 dtype="int32", sparse=False, ragged=False),
        tf_layer("Embedding", "embedding", input_dim=V, output_dim=E, mask_zero=False,
                 input_length=None, batch_input_shape=[None, None]),
        tf_layer("Bidirectional", "bidirectional", merge_mode="concat",
                 layer=tf_recurrent("LSTM", "lstm", H, return_sequences=True)),
        tf_layer("Dropout", "dropout", rate=0.3, noise_shape=None, seed=None),
        tf_recurrent("GRU", "gru", H),
        tf_layer("Dense", "dense", units=O, activation="softmax", use_bias=True),
    ]}, "keras_version": "2.15.0", "backend": "tensorflow"}
    weights = {
        "embedding": named(embedding, ["embedding/embeddings:0"]),
        "bidirectional": named(bidirectional,
                               cell_names("bidirectional/forward_lstm/lstm_cell_1")
                               + cell_names("bidirectional/backward_lstm/lstm_cell_2")),
        "gru": named(gru, cell_names("gru/gru_cell")),
        "dense": named(dense, ["dense/kernel:0", "dense/bias:0"]),
    }
    path = tmp_path / "tfkeras.h5"
    write_tf_keras_h5(path, config, weights, ["embedding", "bidirectional", "dropout", "gru",
                                              "dense"])
    with h5py.File(path) as handle:  # the nesting a weight name with slashes makes
        assert "model_weights/gru/gru/gru_cell/kernel:0" in handle
    ours = cells.load_model(path, vocabulary=VOCABULARY)
    assert ours.layers == 2 and ours.stack[0].directions == ("forward", "backward")
    assert ours.cell(1).options == {"reset_after": True} and ours.returns == "last"
    close(ours.run(TEXT).prediction, twin.predict(ids(), verbose=0)[0], "float32")


def functional_config(class_name, chain, output=None):
    """A Functional model as tf.keras 2 writes it: every layer names what it reads in
    inbound_nodes [[[layer, node, tensor, kwargs]]]."""
    entries, previous = [], None
    for entry in chain:
        name = entry["config"]["name"]
        entry = {**entry, "name": name,
                 "inbound_nodes": [] if previous is None else [[[previous, 0, 0, {}]]]}
        entries.append(entry)
        previous = name
    return {"class_name": class_name, "config": {
        "name": "model", "trainable": True, "layers": entries,
        "input_layers": [[chain[0]["config"]["name"], 0, 0]],
        "output_layers": [[output or previous, 0, 0]]}}


@pytest.mark.parametrize("class_name", ["Functional", "Model"])  # "Model" up to TF 2.3
def test_functional_as_tf_keras_2_writes_it(tmp_path, class_name):
    twin = keras3_twin(
        layers.Embedding(V, E),
        layers.SimpleRNN(H, activation="relu", return_sequences=True, go_backwards=True),
        layers.LSTM(H, return_sequences=True),
        layers.TimeDistributed(layers.Dense(O, activation="sigmoid")),
        seed=3,
    )
    embedding, rnn, lstm, head = twin.layers
    chain = [
        tf_layer("InputLayer", "input_1", batch_input_shape=[None, None], dtype="int32",
                 sparse=False, ragged=False),
        tf_layer("Embedding", "embedding", input_dim=V, output_dim=E, mask_zero=False),
        tf_recurrent("SimpleRNN", "simple_rnn", H, activation="relu", return_sequences=True,
                     go_backwards=True),
        tf_recurrent("LSTM", "lstm", H, return_sequences=True),
        tf_layer("TimeDistributed", "time_distributed",
                 layer=tf_layer("Dense", "dense", units=O, activation="sigmoid")),
    ]
    weights = {
        "embedding": named(embedding, ["embedding/embeddings:0"]),
        "simple_rnn": named(rnn, cell_names("simple_rnn/simple_rnn_cell")),
        "lstm": named(lstm, cell_names("lstm/lstm_cell")),
        "time_distributed": named(head, ["time_distributed/kernel:0",
                                         "time_distributed/bias:0"]),
    }
    path = tmp_path / "functional.h5"
    write_tf_keras_h5(path, functional_config(class_name, chain), weights,
                      [entry["config"]["name"] for entry in chain])
    ours = cells.load_model(path, vocabulary=VOCABULARY)
    assert ours.directions == ("forward", "backward") and ours.stack[0].reverse_output
    assert ours.cell(0, "backward").options == {"nonlinearity": "relu"}
    close(ours.run(TEXT)["probs"], twin.predict(ids(), verbose=0)[0], "float32")


def small_chain():
    twin = keras3_twin(layers.Embedding(V, E), layers.LSTM(H), layers.Dense(O), seed=5)
    embedding, lstm, dense = twin.layers
    chain = [
        tf_layer("InputLayer", "input_1", batch_input_shape=[None, None], dtype="int32"),
        tf_layer("Embedding", "embedding", input_dim=V, output_dim=E),
        tf_recurrent("LSTM", "lstm", H),
        tf_layer("Dense", "dense", units=O, activation="linear"),
    ]
    weights = {"embedding": named(embedding, ["embedding/embeddings:0"]),
               "lstm": named(lstm, cell_names("lstm/lstm_cell")),
               "dense": named(dense, ["dense/kernel:0", "dense/bias:0"])}
    return twin, chain, weights


def test_keras_2_2_sequential_config_is_a_list(tmp_path):
    """Keras up to 2.2 wrote a Sequential model's config as the list of layers itself."""
    twin, chain, weights = small_chain()
    config = {"class_name": "Sequential", "config": chain[1:]}
    write_tf_keras_h5(tmp_path / "old.h5", config, weights, ["embedding", "lstm", "dense"])
    ours = cells.load_model(tmp_path / "old.h5", vocabulary=VOCABULARY)
    close(ours.run(TEXT).prediction, twin.predict(ids(), verbose=0)[0], "float32")


def test_keras_3_functional_saved_as_h5(tmp_path):
    """Keras 3's own model.save("m.h5"): the legacy layout with Keras 3's node format."""
    keras.utils.set_random_seed(2)
    inputs = keras.Input((None,), dtype="int32")
    x = layers.Embedding(V, E)(inputs)
    x = layers.Bidirectional(layers.GRU(H, return_sequences=True, reset_after=False))(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(O, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    for k, weight in enumerate(model.weights):
        weight.assign(np.random.default_rng(k).normal(0, 0.6, weight.shape))
    model.save(tmp_path / "k3.h5")
    ours = cells.load_model(tmp_path / "k3.h5", vocabulary=VOCABULARY)
    assert ours.cell(0, "backward").options == {"reset_after": False}
    close(ours.run(TEXT)["probs"], model.predict(ids(), verbose=0)[0], "float32")


def test_branches_and_shared_layers_refused_by_name(tmp_path):
    _, chain, weights = small_chain()
    config = functional_config("Functional", chain)
    # the Dense reads both the input and the LSTM: not a chain
    config["config"]["layers"][3]["inbound_nodes"] = [[["lstm", 0, 0, {}],
                                                       ["embedding", 0, 0, {}]]]
    write_tf_keras_h5(tmp_path / "branch.h5", config, weights, ["input_1", "embedding",
                                                                "lstm", "dense"])
    with pytest.raises(ValueError, match=r"branch\.h5: layer 'dense' reads \['lstm', "
                                         r"'embedding'\]; only a chain"):
        cells.load_model(tmp_path / "branch.h5")
    config = functional_config("Functional", chain)
    config["config"]["layers"][2]["inbound_nodes"] *= 2  # the LSTM called twice
    write_tf_keras_h5(tmp_path / "twice.h5", config, weights, ["input_1", "embedding",
                                                               "lstm", "dense"])
    with pytest.raises(ValueError, match=r"twice\.h5: layer 'lstm' reads \['embedding', "
                                         r"'embedding', '\(called again\)'\]"):
        cells.load_model(tmp_path / "twice.h5")
    config = functional_config("Functional", chain, output="lstm")
    write_tf_keras_h5(tmp_path / "inner.h5", config, weights, ["input_1", "embedding",
                                                               "lstm", "dense"])
    with pytest.raises(ValueError, match=r"inner\.h5: the model outputs \['lstm'\]; only a "
                                         r"chain whose last layer \('dense'\)"):
        cells.load_model(tmp_path / "inner.h5")


def test_keras_2_2_hard_sigmoid_refused_by_name(tmp_path):
    """Keras up to 2.2 defaulted an LSTM's recurrent_activation to hard_sigmoid."""
    _, chain, weights = small_chain()
    chain[2]["config"]["recurrent_activation"] = "hard_sigmoid"
    write_tf_keras_h5(tmp_path / "hard.h5", functional_config("Model", chain), weights,
                      ["input_1", "embedding", "lstm", "dense"])
    with pytest.raises(ValueError, match=r"hard\.h5: layer 'lstm' \(LSTM\) has "
                                         r"recurrent_activation='hard_sigmoid'; only 'sigmoid'"):
        cells.load_model(tmp_path / "hard.h5")


def test_cudnn_layers_of_keras_2(tmp_path):
    """CuDNNLSTM and CuDNNGRU (Keras 2 on a GPU) keep an input and a recurrent bias, one
    after the other: an LSTM whose two biases add, and the reset-after GRU."""
    twin = keras3_twin(layers.Embedding(V, E),
                       layers.Bidirectional(layers.LSTM(H, return_sequences=True)),
                       layers.GRU(H, reset_after=True, return_sequences=True),
                       layers.Dense(O), seed=7)
    embedding, bidirectional, gru, dense = twin.layers
    rng = np.random.default_rng(8)
    lstm_weights = bidirectional.get_weights()
    halves = []
    for kernel, recurrent, bias in (lstm_weights[:3], lstm_weights[3:]):
        recurrent_bias = rng.normal(0, 0.5, bias.shape).astype(np.float32)
        halves.append([kernel, recurrent, np.concatenate([bias - recurrent_bias,
                                                          recurrent_bias])])
    kernel, recurrent, bias = gru.get_weights()  # bias (2, 3H): input row, recurrent row
    chain = [
        tf_layer("Embedding", "embedding", input_dim=V, output_dim=E),
        tf_layer("Bidirectional", "bidirectional", merge_mode="concat",
                 layer=tf_layer("CuDNNLSTM", "cu_dnn_lstm", units=H, return_sequences=True,
                                return_state=False, go_backwards=False, stateful=False)),
        tf_layer("CuDNNGRU", "cu_dnn_gru", units=H, return_sequences=True,
                 return_state=False, go_backwards=False, stateful=False),
        tf_layer("Dense", "dense", units=O, activation="linear"),
    ]
    names = [f"{scope}/{v}:0" for scope in ("bidirectional/forward_cu_dnn_lstm",
                                            "bidirectional/backward_cu_dnn_lstm")
             for v in ("kernel", "recurrent_kernel", "bias")]
    weights = {
        "embedding": named(embedding, ["embedding/embeddings:0"]),
        "bidirectional": list(zip(names, halves[0] + halves[1], strict=True)),
        "cu_dnn_gru": [("cu_dnn_gru/kernel:0", kernel),
                       ("cu_dnn_gru/recurrent_kernel:0", recurrent),
                       ("cu_dnn_gru/bias:0", bias.reshape(-1))],
        "dense": named(dense, ["dense/kernel:0", "dense/bias:0"]),
    }
    write_tf_keras_h5(tmp_path / "cudnn.h5", {"class_name": "Sequential",
                                              "config": {"name": "s", "layers": chain}},
                      weights, ["embedding", "bidirectional", "cu_dnn_gru", "dense"])
    ours = cells.load_model(tmp_path / "cudnn.h5", vocabulary=VOCABULARY)
    assert ours.cell(1).options == {"reset_after": True}
    close(ours.run(TEXT).prediction, twin.predict(ids(), verbose=0)[0], "float32")
