"""Whole PyTorch models through cells: Embedding → LSTM/GRU/RNN (2 layers, bidirectional,
proj_size) → Linear. The logits equal torch's own forward, via a safetensors state dict and
via cells.from_torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import cells
from tests.support import close

V, E, H, O, P = 9, 5, 6, 9, 3
VOCABULARY = "abcdefgh "
TEXT = "a bad cafe fed a badge"
RECURRENT = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}


class TextModel(torch.nn.Module):
    def __init__(self, kind, names=("emb", "lstm", "fc"), **options):
        super().__init__()
        torch.manual_seed(0)
        self.names = names
        recurrent = RECURRENT[kind](E, H, num_layers=2, bidirectional=True, **options)
        width = 2 * options.get("proj_size", 0) or 2 * H
        setattr(self, names[0], torch.nn.Embedding(V, E))
        setattr(self, names[1], recurrent)
        setattr(self, names[2], torch.nn.Linear(width, O))

    def forward(self, ids):  # ids (T,)
        x = getattr(self, self.names[0])(ids)[:, None]  # (T, 1, E)
        y, _ = getattr(self, self.names[1])(x)  # (T, 1, 2H)
        return getattr(self, self.names[2])(y[:, 0])  # (T, O)


def ids_of(text):
    return torch.tensor([VOCABULARY.index(ch) for ch in text])


def torch_logits(module):
    with torch.no_grad():
        return module(ids_of(TEXT)).numpy()


CASES = [("lstm", {}), ("gru", {}), ("rnn", {"nonlinearity": "relu"}), ("rnn", {}),
         ("lstm", {"proj_size": P})]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(("kind", "options"), CASES)
def test_state_dict_logits_equal_torch(tmp_path, kind, options, dtype):
    module = TextModel(kind, **options).to(dtype)
    path = tmp_path / "model.safetensors"
    save_file(module.state_dict(), str(path))
    opened = {k: v for k, v in options.items() if k == "nonlinearity"}  # not in a state dict
    model = cells.load_model(path, vocabulary=VOCABULARY, options=opened)
    assert model.layers == 2 and model.directions == ("forward", "backward")
    assert model.dtype == (np.float64 if dtype == torch.float64 else np.float32)
    mt = model.run(TEXT)
    close(mt["logits"], torch_logits(module), dtype)
    with torch.no_grad():
        expected = torch.softmax(module(ids_of(TEXT)), -1).numpy()
    close(mt["probs"], expected, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(("kind", "options"), CASES)
def test_from_torch_logits_equal_torch(kind, options, dtype):
    module = TextModel(kind, **options).to(dtype)
    model = cells.from_torch(module, vocabulary=VOCABULARY)
    close(model.run(TEXT)["logits"], torch_logits(module), dtype)
    if kind == "rnn":  # the module's nonlinearity is an attribute, read from the module
        assert model.cell(1, "backward").options == {
            "nonlinearity": options.get("nonlinearity", "tanh")}


def test_layer_traces_are_each_direction_of_each_layer():
    module = TextModel("gru").double()
    model = cells.from_torch(module, vocabulary=VOCABULARY)
    mt = model.run(TEXT)
    x = module.emb(ids_of(TEXT))[:, None].detach()
    with torch.no_grad():
        layer0 = torch.nn.GRU(E, H, bidirectional=True).double()
        layer0.load_state_dict({k: v for k, v in module.lstm.state_dict().items() if "_l0" in k})
        y0, _ = layer0(x)
    forward, backward = y0[:, 0, :H].numpy(), y0[:, 0, H:].numpy()
    close(mt.layer(0, "forward")["h"], forward, torch.float64)
    close(mt.layer(0, "backward")["h"], backward[::-1], torch.float64)  # step k is T−1−k
    close(mt.outputs[0], y0[:, 0].numpy(), torch.float64)
    assert len(mt.layer(1, "backward")) == len(TEXT)


def test_projected_lstm_records_the_projection():
    module = TextModel("lstm", proj_size=P).double()
    model = cells.from_torch(module, vocabulary=VOCABULARY)
    trace = model.run(TEXT).layer(0, "forward")
    assert trace["h"].shape == (len(TEXT), P) and trace["m"].shape == (len(TEXT), H)
    w_hr = module.lstm.weight_hr_l0.detach().numpy()
    close(trace["h"], trace["m"] @ w_hr.T, torch.float64)
    close(trace["m"], trace["o"] * np.tanh(trace["c"]), torch.float64)
    assert np.array_equal(trace["h_prev"][1:], trace["h"][:-1])


def test_recurrent_module_alone_runs_on_numbers():
    torch.manual_seed(0)
    module = torch.nn.LSTM(4, H, num_layers=3, bidirectional=True, batch_first=True).double()
    xs = np.random.default_rng(0).normal(size=(11, 4))
    model = cells.from_torch(module)
    assert model.encoder.encoding == "numbers" and model.head is None
    with torch.no_grad():
        expected = module(torch.from_numpy(xs)[None])[0][0].numpy()
    mt = model.run(xs)
    close(mt.outputs[-1], expected, torch.float64)
    assert mt.names == ()
    with pytest.raises(ValueError, match="unknown output 'logits': the model has no head"):
        mt["logits"]


def test_parts_named_by_the_caller(tmp_path):
    module = TextModel("gru", names=("tok", "stack", "proj")).double()
    path = tmp_path / "named.npz"
    np.savez(path, **{k: v.numpy() for k, v in module.state_dict().items()})
    with pytest.raises(ValueError, match=r"named\.npz: holds tensors that are not .*proj\.bias"):
        cells.load_model(path, vocabulary=VOCABULARY)  # 'tok' and 'proj' are not common names
    model = cells.load_model(path, vocabulary=VOCABULARY, embedding="tok", head="proj")
    close(model.run(TEXT)["logits"], torch_logits(module), torch.float64)


def test_unused_tensors_refused_with_the_file_name(tmp_path):
    module = TextModel("lstm")
    state = dict(module.state_dict())
    state["norm.weight"] = torch.ones(2 * H)
    save_file(state, str(tmp_path / "norm.safetensors"))
    with pytest.raises(ValueError, match=r"norm\.safetensors: holds tensors .*norm\.weight"):
        cells.load_model(tmp_path / "norm.safetensors")


def test_mismatched_head_refused_with_the_file_name(tmp_path):
    state = dict(TextModel("lstm").state_dict())
    state["fc.weight"] = torch.zeros(O, H)  # reads H, but the layer gives 2H
    save_file(state, str(tmp_path / "head.safetensors"))
    with pytest.raises(ValueError, match=r"head\.safetensors: the head's weight has shape "
                                         r"\(9, 6\) but the last layer outputs 12"):
        cells.load_model(tmp_path / "head.safetensors")


def test_stated_option_given_otherwise_refused(tmp_path):
    save_file(TextModel("gru").state_dict(), str(tmp_path / "gru.safetensors"))
    with pytest.raises(ValueError, match=r"gru\.safetensors: layer 0 forward: the file states "
                                         r"reset_after=True"):
        cells.load_model(tmp_path / "gru.safetensors", options={"reset_after": False})


def test_unknown_tokens_listed():
    model = cells.from_torch(TextModel("lstm"), vocabulary=VOCABULARY)
    with pytest.raises(ValueError, match=r"outside the vocabulary: 'x', 'z'"):
        model.run("fax zed")


def test_word_vocabulary():
    words = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "."]
    model = cells.from_torch(TextModel("lstm"), vocabulary=words)
    mt = model.run("the cat sat on a mat .")
    assert mt.tokens == ["the", "cat", "sat", "on", "a", "mat", "."]
    assert mt["probs"].shape == (7, O)
    assert [token for token, _ in mt.top(1, k=3)][0] in words


def test_word_language_model_names(tmp_path):
    # PyTorch's word_language_model example: encoder = Embedding, rnn, decoder = Linear.
    module = TextModel("lstm", names=("encoder", "rnn", "decoder")).double()
    save_file(module.state_dict(), str(tmp_path / "wlm.safetensors"))
    model = cells.load_model(tmp_path / "wlm.safetensors", vocabulary=VOCABULARY)
    close(model.run(TEXT)["logits"], torch_logits(module), torch.float64)


def test_damaged_state_dicts_are_clear_refusals(tmp_path):
    """Tensors dropped, renamed, reshaped or retyped: a model or a ValueError naming the file."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    state = {k: v.numpy() for k, v in TextModel("lstm", proj_size=P).state_dict().items()}
    names = sorted(state)

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(st.sampled_from(["drop", "rename", "reshape", "int", "nan"]),
                              st.sampled_from(names), st.integers(1, 7)), min_size=1,
                    max_size=3))
    def check(changes):
        damaged = dict(state)
        for change, name, n in changes:
            if name not in damaged:
                continue
            value = damaged.pop(name)
            if change == "rename":
                damaged[name.replace("_l", "_x") + "x" * n] = value
            elif change == "reshape":
                damaged[name] = np.zeros((n,) * (1 + n % 2), value.dtype)
            elif change == "int":
                damaged[name] = value.astype(np.int32)
            elif change == "nan":
                damaged[name] = np.full_like(value, np.nan)
        path = tmp_path / "damaged.npz"
        np.savez(path, **damaged)
        try:
            cells.load_model(path, vocabulary=VOCABULARY).run(TEXT)
        except ValueError as error:
            assert "damaged.npz" in str(error)

    check()


class ListedLayers(torch.nn.Module):
    """Recurrent layers in an nn.ModuleList, of different kinds, run in their order."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.emb = torch.nn.Embedding(V, E)
        self.layers = torch.nn.ModuleList([
            torch.nn.GRU(E, H, bidirectional=True), torch.nn.LSTM(2 * H, H, num_layers=2)])
        self.head = torch.nn.Linear(H, O)

    def forward(self, ids):
        x = self.emb(ids)[:, None]
        for layer in self.layers:
            x, _ = layer(x)
        return self.head(x[:, 0])


def test_module_list_of_recurrent_layers(tmp_path):
    module = ListedLayers().double()
    save_file(module.state_dict(), str(tmp_path / "listed.safetensors"))
    model = cells.load_model(tmp_path / "listed.safetensors", vocabulary=VOCABULARY)
    assert [model.cell(k).kind for k in range(3)] == ["gru", "lstm", "lstm"]
    close(model.run(TEXT)["logits"], torch_logits(module), torch.float64)
    close(cells.from_torch(module, vocabulary=VOCABULARY).run(TEXT)["logits"],
          torch_logits(module), torch.float64)


def test_long_sequence_fed_a_chunk_at_a_time_equals_torch():
    # Longer than a trace chunk, so each cell's run is extended chunk by chunk.
    torch.manual_seed(2)
    module = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True).double()
    xs = np.random.default_rng(2).normal(size=(2600, 3))
    mt = cells.from_torch(module).run(xs)
    with torch.no_grad():
        expected = module(torch.from_numpy(xs)[:, None])[0][:, 0].numpy()
    close(mt.outputs[-1], expected, torch.float64)
    assert len(mt.layer(1, "backward")) == 2600
    close(mt.signal(1, "backward", "h"), expected[:, 4:], torch.float64)
