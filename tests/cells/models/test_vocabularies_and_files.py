"""Vocabularies given as str or Path, character vocabularies with reserved tokens (<pad>,
</s>), and files that would run code (pickles, TorchScript) told by their content, whatever
their names say."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

import cells

VOCABULARY = ["<pad>", "a", "b", "c", " ", "</s>", "<unk>"]
E, H, O = 3, 4, len(VOCABULARY)


class CharModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.emb = torch.nn.Embedding(len(VOCABULARY), E)
        self.rnn = torch.nn.GRU(E, H)
        self.fc = torch.nn.Linear(H, O)

    def forward(self, ids):
        return self.fc(self.rnn(self.emb(ids))[0])


def test_reserved_tokens_keep_text_one_step_per_character(tmp_path):
    module = CharModel()
    model = cells.from_torch(module, vocabulary=VOCABULARY)
    assert model.encoder.tokenizer == "chars"
    text = "ab c</s><pad>a<"[:-1]  # a lone "<" is not in the vocabulary
    mt = model.run(text)
    assert mt.tokens == ["a", "b", " ", "c", "</s>", "<pad>", "a"]
    ids = [VOCABULARY.index(t) for t in mt.tokens]
    with torch.no_grad():
        expected = module(torch.tensor(ids)).numpy()
    np.testing.assert_allclose(mt["logits"], expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"outside the vocabulary: '<', '>', 'e', 'o', 's'"):
        model.run("a<eos>")
    cells.save_model(model, tmp_path / "chars.safetensors")
    again = cells.load_model(tmp_path / "chars.safetensors")
    assert again.run(text).tokens == mt.tokens


def test_words_stay_words():
    model = cells.from_torch(CharModel(), vocabulary=["<pad>", "the", "cat", "sat", " ",
                                                      "</s>", "<unk>"])
    assert model.encoder.tokenizer == "words"
    assert model.run("the cat sat").tokens == ["the", "cat", "sat"]


@pytest.mark.parametrize("suffix", [".txt", ".json"])
def test_vocabulary_path_as_str_or_path(tmp_path, suffix):
    path = tmp_path / f"vocab{suffix}"
    if suffix == ".txt":
        path.write_text("\n".join(VOCABULARY) + "\n")
    else:
        path.write_text(json.dumps(VOCABULARY))
    module = CharModel()
    for given in (path, str(path)):
        model = cells.from_torch(module, vocabulary=given)
        assert model.vocabulary == tuple(VOCABULARY)
    with pytest.raises(ValueError, match=r"vocabulary file '.*missing\.txt' does not exist"):
        cells.from_torch(module, vocabulary=str(tmp_path / "missing.txt"))


class WritesMarker:
    """Unpickling this touches a file: proof that a loader ran code from the file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("name", ["model", "weights.safetensors", "model.npz", "model.h5",
                                  "model.onnx"])
def test_pickles_told_by_content_whatever_the_name(tmp_path, name):
    marker = tmp_path / "ran"
    path = tmp_path / name
    path.write_bytes(pickle.dumps({"weight": WritesMarker(marker)}, protocol=4))
    for load in (cells.load_model, cells.load):
        with pytest.raises(ValueError, match=rf"{name}: PyTorch pickles are not loaded \(they "
                                             r"can run code\), and this file is one.*"
                                             r"save_file\(model\.state_dict\(\), "
                                             r"'model\.safetensors'\)"):
            load(path)
    assert not marker.exists()
    torch.save(CharModel().state_dict(), tmp_path / "zipped")  # torch's zip format
    with pytest.raises(ValueError, match=r"zipped: PyTorch pickles are not loaded"):
        cells.load_model(tmp_path / "zipped")


@pytest.mark.parametrize("name", ["model.jit", "model.pt", "model"])
def test_torchscript_refused_with_the_recipe(tmp_path, name):
    torch.jit.save(torch.jit.script(CharModel()), tmp_path / name)
    with pytest.raises(ValueError, match=rf"{name}: is a TorchScript archive, whose code is not "
                                         r"run here\. In Python, pass the module to "
                                         r"cells\.from_torch\(torch\.jit\.load\(path\)\)"):
        cells.load_model(tmp_path / name)


def test_a_directory_is_named_as_such(tmp_path):
    (tmp_path / "weights").mkdir()
    with pytest.raises(ValueError, match=r"weights: is a directory, not a model file"):
        cells.load(tmp_path / "weights")


def test_reserved_tokens_beside_graphemes():
    accented = "e\u0301"  # é as e and a combining accent: one character, two code points
    tokens = ["<pad>", "a", accented, "c", " ", "</s>", "<unk>"]
    model = cells.from_torch(CharModel(), vocabulary=tokens)
    assert model.encoder.tokenizer == "chars"
    assert model.run(f"a{accented}</s>c").tokens == ["a", accented, "</s>", "c"]
