"""Residual language models (blocks around the cells, a final norm) against the libraries
that wrote them: minGRU-pytorch's minLM, and the block parts against torch's own modules."""

import numpy as np
import pytest
import torch
from minGRU_pytorch.minLM import minLM
from safetensors.torch import save_file

import cells
from cells.models.blocks import Block, Norm, causal_depthwise_conv
from tests.support import byte_level_tokenizer, close


def _save(module, path):
    save_file({k: v.detach().contiguous() for k, v in module.state_dict().items()}, str(path))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("use_lstm,enable_conv,expansion",
                         [(False, True, 1.5), (True, False, 1.5), (False, False, 1.0)])
def test_min_lm_logits_equal_the_library_s(tmp_path, dtype, use_lstm, enable_conv, expansion):
    torch.manual_seed(3)
    module = minLM(num_tokens=13, dim=8, depth=2, ff_mult=2, expansion=expansion,
                   use_lstm=use_lstm, enable_conv=enable_conv).to(getattr(torch, dtype))
    path = tmp_path / "min_lm.safetensors"
    _save(module, path)
    ids = torch.randint(0, 13, (1, 17), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected = module(ids)[0].numpy()
    model = cells.load_model(path)
    assert model.dtype == np.dtype(dtype) and model.layers == 2
    assert model.stack[0].cells["forward"].kind == ("min_lstm" if use_lstm else "min_gru")
    mt = model.run(ids[0].numpy())
    close(mt["logits"], expected, dtype)
    # the stream the head reads went through both blocks and the final norm
    assert mt.block(1, "block_out").shape == (17, 8)
    assert ("conv" in mt.blocks[0]) == enable_conv and "ff" in mt.blocks[0]


def test_a_block_s_rows_are_what_the_cell_read_and_gave(tmp_path):
    torch.manual_seed(5)
    module = minLM(num_tokens=7, dim=6, depth=1, ff_mult=2, expansion=2.0,
                   enable_conv=True).double()
    path = tmp_path / "min_lm.safetensors"
    _save(module, path)
    ids = np.array([1, 4, 2, 6, 0, 3])
    mt = cells.load_model(path).run(ids)
    layer = module.layers[0]
    conv, norm, cell, ff_norm, ff = (layer[0], layer[1], layer[2], layer[3], layer[4])
    with torch.no_grad():
        x = module.token_emb(torch.from_numpy(ids)[None])
        u = conv(x) + x
        a = norm(u)
        out = cell(a)
        v = out + u
        y = ff(ff_norm(v)) + v
    rows = mt.blocks[0]
    for name, expected in (("block_in", x), ("conv", u - x), ("norm", a), ("cell_out", out),
                           ("residual", v), ("block_out", y)):
        np.testing.assert_allclose(rows[name], expected[0].numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=name)
    # the cell read the normed stream: its trace's x is the block's "norm" row
    np.testing.assert_array_equal(mt.layer(0)["x"], rows["norm"])
    np.testing.assert_array_equal(mt.reads[0], rows["norm"])


def test_a_residual_model_survives_save_model_bit_for_bit(tmp_path):
    torch.manual_seed(6)
    module = minLM(num_tokens=9, dim=8, depth=2, ff_mult=2, expansion=1.5, enable_conv=True)
    path, again = tmp_path / "min_lm.safetensors", tmp_path / "saved.safetensors"
    _save(module, path)
    model = cells.load_model(path)
    cells.save_model(model, again)
    reread = cells.load_model(again)
    ids = np.arange(9)
    np.testing.assert_array_equal(reread.run(ids)["logits"], model.run(ids)["logits"])
    assert reread.info()["blocks"] == model.info()["blocks"]
    assert reread.info()["final_norm"] == "rms"


@pytest.mark.parametrize("kind", ["rms", "layer"])
def test_norms_equal_torch_s(kind):
    rng = np.random.default_rng(7)
    x, w, b = rng.normal(size=(5, 6)), rng.normal(size=6), rng.normal(size=6)
    if kind == "rms":
        module = torch.nn.RMSNorm(6, eps=1e-6).double()
        ours = Norm("rms", w, None, 1e-6)
    else:
        module = torch.nn.LayerNorm(6, eps=1e-6).double()
        module.bias.data = torch.from_numpy(b)
        ours = Norm("layer", w, b, 1e-6)
    module.weight.data = torch.from_numpy(w)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(x), expected, rtol=1e-12, atol=1e-12)


def test_the_causal_conv_equals_torch_s_padded_depthwise_conv():
    rng = np.random.default_rng(8)
    x, w, b = rng.normal(size=(9, 4)), rng.normal(size=(4, 3)), rng.normal(size=4)
    conv = torch.nn.Conv1d(4, 4, 3, groups=4, padding=2).double()
    conv.weight.data, conv.bias.data = torch.from_numpy(w[:, None, :]), torch.from_numpy(b)
    with torch.no_grad():
        expected = conv(torch.from_numpy(x.T)[None])[0, :, :9].numpy().T
    np.testing.assert_allclose(causal_depthwise_conv(x, w, b), expected, rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("gated,activation", [(False, "gelu"), (True, "gelu_tanh"),
                                              (True, "silu")])
def test_the_feed_forward_equals_torch_s(gated, activation):
    rng = np.random.default_rng(9)
    E, F = 4, 6
    up = rng.normal(size=(2 * F if gated else F, E))
    params = {"ff.up.weight": up, "ff.up.bias": rng.normal(size=len(up)),
              "ff.down.weight": rng.normal(size=(E, F)), "ff.down.bias": rng.normal(size=E)}
    block = Block(params, {"ff_activation": activation, "ff_gated": gated})
    v = rng.normal(size=(3, E))
    rows = {"_stream": np.zeros_like(v)}
    out = block.after(rows, v)  # the stream is 0, so the residual is v itself
    t = {k: torch.from_numpy(a) for k, a in params.items()}
    act = {"gelu": torch.nn.functional.gelu, "silu": torch.nn.functional.silu,
           "gelu_tanh": lambda z: torch.nn.functional.gelu(z, approximate="tanh")}[activation]
    z = torch.from_numpy(v) @ t["ff.up.weight"].T + t["ff.up.bias"]
    inner = act(z[:, :F]) * z[:, F:] if gated else act(z)
    expected = torch.from_numpy(v) + inner @ t["ff.down.weight"].T + t["ff.down.bias"]
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-12, atol=1e-12)


def test_a_block_refuses_what_does_not_fit():
    with pytest.raises(ValueError, match="not block parts"):
        Block({"norm.gain": np.ones(3)})
    with pytest.raises(ValueError, match="no conv.weight"):
        Block({"conv.bias": np.ones(3)})
    block = Block({"norm.weight": np.ones(3)})
    cell = cells.create("min_gru", input_size=4, hidden_size=4)
    with pytest.raises(ValueError, match=r"norm.weight has shape \(3,\), expected \(4,\)"):
        block.check(cell, "layer 0")
    with pytest.raises(ValueError, match="no out.weight"):
        Block({}).check(cells.create("min_gru", input_size=4, hidden_size=5), "layer 0")


def test_a_model_folder_reads_text_through_its_tokenizer_json(tmp_path):
    tokenizer = byte_level_tokenizer(tmp_path / "tokenizer.json", vocab_size=300)
    V = tokenizer.get_vocab_size()
    torch.manual_seed(10)
    module = minLM(num_tokens=V + 3, dim=8, depth=1, ff_mult=2).double()  # padded vocabulary
    _save(module, tmp_path / "model.safetensors")
    text = "the cat héllo"
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    with torch.no_grad():
        expected = module(torch.tensor([ids]))[0].numpy()
    for given in (tmp_path, tmp_path / "model.safetensors"):
        model = cells.load_model(given)
        mt = model.run(text)
        assert mt.ids.tolist() == ids
        # each step shown as the text it covers (the byte-level tokens' own strings aside)
        assert "".join(mt.tokens) == text and mt.tokens[0] == "the"
        close(mt["logits"], expected, "float64")
        assert model.vocabulary[:1] == ("<|endoftext|>",)
        assert model.vocabulary[-1] == f"<|unused:{V + 2}|>" and len(model.vocabulary) == V + 3
    # a gatescope model file keeps the tokenizer
    cells.save_model(model, tmp_path / "saved.npz")
    again = cells.load_model(tmp_path / "saved.npz")
    assert again.run(text).tokens == mt.tokens
    np.testing.assert_array_equal(again.run(text)["logits"], mt["logits"])


def test_a_folder_without_a_safetensors_file_is_refused_by_name(tmp_path):
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04not read")
    with pytest.raises(ValueError, match=r"pytorch_model\.bin is a pickle, which gatescope "
                                         "never loads"):
        cells.load_model(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="no model.safetensors or model.npz beside it"):
        cells.load_model(tmp_path / "config.json")


def test_a_broken_tokenizer_json_is_named(tmp_path):
    (tmp_path / "tokenizer.json").write_text('{"model": {"type": "Nonsense"}}')
    torch.manual_seed(11)
    _save(minLM(num_tokens=5, dim=4, depth=1), tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match="tokenizer.json: not a tokenizer.json the tokenizers "
                                         "library reads"):
        cells.load_model(tmp_path)
