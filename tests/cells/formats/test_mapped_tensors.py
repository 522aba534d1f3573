"""Checkpoints with their own tensor names (a NumPy or safetensors file of `enc_w_ih`,
`enc_emb`, ...), mapped tensor by tensor with names=, and what a load leaves out: each
listed by name in a cells.LeftOutWarning. Outputs equal torch holding the same weights."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

import cells
from tests.support import close

V, E, H, O = 9, 4, 5, 7
VOCABULARY = "abcdefgh "
TEXT = "a bad cafe fed a badge"
NAMES = {"weight_ih": "enc_w_ih", "weight_hh": "enc_w_hh", "bias_ih": "enc_b_ih",
         "bias_hh": "enc_b_hh", "embedding": "enc_emb", "head": "fc_out"}



def reference(kind="lstm", layers=1, seed=0):
    torch.manual_seed(seed)
    embedding = torch.nn.Embedding(V, E)
    recurrent = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](E, H, num_layers=layers)
    head = torch.nn.Linear(H, O)
    ids = torch.tensor([VOCABULARY.index(ch) for ch in TEXT])
    with torch.no_grad():
        y, _ = recurrent(embedding(ids))
        logits = head(y).numpy()
    return embedding, recurrent, head, logits


def checkpoint(embedding, recurrent, head):
    """How a hand-written training script might save them, with a conv front end too."""
    state = recurrent.state_dict()
    return {"enc_w_ih": state["weight_ih_l0"].numpy(), "enc_w_hh": state["weight_hh_l0"].numpy(),
            "enc_b_ih": state["bias_ih_l0"].numpy(), "enc_b_hh": state["bias_hh_l0"].numpy(),
            "enc_emb": embedding.weight.detach().numpy(),
            "fc_out.weight": head.weight.detach().numpy(),
            "fc_out.bias": head.bias.detach().numpy(),
            "conv_w": np.ones((3, 3, 2), np.float32), "step": np.array(1200.0)}


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_a_checkpoint_mapped_tensor_by_tensor(tmp_path, suffix):
    embedding, recurrent, head, expected = reference()
    path = tmp_path / f"ckpt{suffix}"
    tensors = checkpoint(embedding, recurrent, head)
    if suffix == ".npz":
        np.savez(path, **tensors)
    else:
        save_file({k: np.asarray(v, np.float32) for k, v in tensors.items()}, str(path))
    with pytest.warns(cells.LeftOutWarning) as caught:
        model = cells.load_model(path, vocabulary=VOCABULARY, names=NAMES)
    (warning,) = caught
    assert str(warning.message) == (f"ckpt{suffix}: left out 2 tensor(s) the model does not "
                                    "use: conv_w, step")
    assert model.notices == ("left out 2 tensor(s) the model does not use: conv_w, step",)
    close(model.run(TEXT)["logits"], expected, "float32")


def test_stacked_layers_and_a_head_by_tensor(tmp_path):
    embedding, recurrent, head, expected = reference("gru", layers=2, seed=1)
    state = {k: v.numpy() for k, v in recurrent.state_dict().items()}
    tensors = {"emb": embedding.weight.detach().numpy(), "W_out": head.weight.detach().numpy(),
               "b_out": head.bias.detach().numpy()}
    for k in range(2):
        tensors |= {f"l{k}.wx": state[f"weight_ih_l{k}"], f"l{k}.wh": state[f"weight_hh_l{k}"],
                    f"l{k}.bx": state[f"bias_ih_l{k}"], f"l{k}.bh": state[f"bias_hh_l{k}"]}
    np.savez(tmp_path / "gru.npz", **tensors)
    names = {"weight_ih": ["l0.wx", "l1.wx"], "weight_hh": ["l0.wh", "l1.wh"],
             "bias_ih": ["l0.bx", "l1.bx"], "bias_hh": ["l0.bh", "l1.bh"], "embedding": "emb",
             "head": "W_out", "head_bias": "b_out"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing left out, nothing said
        model = cells.load_model(tmp_path / "gru.npz", vocabulary=VOCABULARY, **names)
    assert model.layers == 2 and model.notices == ()
    close(model.run(TEXT)["logits"], expected, "float32")


def test_an_unnamed_bias_is_zero(tmp_path):
    torch.manual_seed(4)
    lstm = torch.nn.LSTM(3, H, bias=False)
    xs = torch.randn(6, 3)
    with torch.no_grad():
        expected = lstm(xs)[0].numpy()
    np.savez(tmp_path / "nobias.npz", Wx=lstm.weight_ih_l0.detach().numpy(),
             Wh=lstm.weight_hh_l0.detach().numpy())
    model = cells.load_model(tmp_path / "nobias.npz", names={"weight_ih": "Wx",
                                                             "weight_hh": "Wh"})
    close(model.run(xs.numpy()).outputs[-1], expected, "float32")


def test_mapping_refusals_name_the_tensor(tmp_path):
    embedding, recurrent, head, _ = reference()
    np.savez(tmp_path / "ckpt.npz", **checkpoint(embedding, recurrent, head))
    path = tmp_path / "ckpt.npz"
    with pytest.raises(ValueError, match=r"ckpt\.npz: weight_hh='enc_whh' is not in the file "
                                         r"\(found conv_w, enc_b_hh"):
        cells.load_model(path, names={**NAMES, "weight_hh": "enc_whh"})
    with pytest.raises(ValueError, match=r"ckpt\.npz: a tensor mapping needs weight_hh="):
        cells.load_model(path, names={"weight_ih": "enc_w_ih"})
    with pytest.raises(ValueError, match=r"ckpt\.npz: head='fc' is neither a tensor nor a "
                                         r"module \(no fc\.weight\)"):
        cells.load_model(path, names={**NAMES, "head": "fc"})
    with pytest.raises(ValueError, match=r"ckpt\.npz: the embedding has shape \(3, 3, 2\) but "
                                         r"layer 0 reads 4 values per step"):
        cells.load_model(path, names={**NAMES, "embedding": "conv_w"})
    with pytest.raises(ValueError, match=r"ckpt\.npz: enc_w_ih has shape \(20, 4\): 20 is not 1, "
                                         r"3 or 4 gate blocks \(rnn, gru, lstm\) of hidden_size 4"):
        cells.load_model(path, names={**NAMES, "weight_hh": "enc_w_ih"})
    with pytest.raises(ValueError, match=r"ckpt\.npz: unknown part name\(s\) \['weights'\]"):
        cells.load_model(path, names={"weights": "enc_w_ih"})
    with pytest.raises(ValueError, match=r"recurrent= names a module, while weight_ih=\.\.\. "
                                         r"name the cell's tensors"):
        cells.load_model(path, names={**NAMES, "recurrent": "enc"})
    with pytest.raises(ValueError, match=r"\['head'\] named twice, differently"):
        cells.load_model(path, names=NAMES, head="other")


def test_a_state_dict_with_named_parts_lists_the_rest(tmp_path):
    embedding, recurrent, head, expected = reference()
    state = {f"enc.{k}": v.numpy() for k, v in recurrent.state_dict().items()}
    state |= {"tok.weight": embedding.weight.detach().numpy(),
              "proj.weight": head.weight.detach().numpy(),
              "proj.bias": head.bias.detach().numpy(),
              "frontend.conv.weight": np.ones((4, 1, 3), np.float32)}
    save_file(state, str(tmp_path / "asr.safetensors"))
    with pytest.raises(ValueError, match=r"asr\.safetensors: holds tensors that are not .*"
                                         r"frontend\.conv\.weight"):
        cells.load_model(tmp_path / "asr.safetensors")  # guessed parts leave nothing out
    with pytest.warns(cells.LeftOutWarning, match=r"asr\.safetensors: left out 1 tensor\(s\) "
                                                  r"the model does not use: "
                                                  r"frontend\.conv\.weight"):
        model = cells.load_model(tmp_path / "asr.safetensors", vocabulary=VOCABULARY,
                                 embedding="tok", head="proj")
    close(model.run(TEXT)["logits"], expected, "float32")


def test_keras_named_weights_no_longer_drop_the_rest_silently(tmp_path):
    torch.manual_seed(5)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "keras.npz", **{
        "lstm/kernel:0": rng.normal(size=(3, 4 * H)).astype(np.float32),
        "lstm/recurrent_kernel:0": rng.normal(size=(H, 4 * H)).astype(np.float32),
        "lstm/bias:0": rng.normal(size=4 * H).astype(np.float32),
        "dense/kernel:0": rng.normal(size=(H, O)).astype(np.float32)})
    with pytest.warns(cells.LeftOutWarning, match=r"keras\.npz: left out 1 tensor\(s\) the "
                                                  r"model does not use: dense/kernel:0"):
        cells.load_model(tmp_path / "keras.npz")
