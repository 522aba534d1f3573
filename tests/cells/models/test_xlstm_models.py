"""Whole xLSTM language models (Beck et al. 2024) as the xlstm library makes them: a randomly
initialised xLSTMLMModel of mLSTM and sLSTM blocks (sLSTM backend "vanilla", CPU), its state
dict saved as safetensors beside a config.json in the library's own config fields, read
back by cells.load_model and compared logit by logit; then the bare block stack."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from xlstm import (
    FeedForwardConfig,
    mLSTMBlockConfig,
    mLSTMLayerConfig,
    sLSTMBlockConfig,
    sLSTMLayerConfig,
    xLSTMBlockStack,
    xLSTMBlockStackConfig,
    xLSTMLMModel,
    xLSTMLMModelConfig,
)
from xlstm.blocks.mlstm.layer import mLSTMLayer

import cells
from cells.models.model import Model

torch.set_num_threads(1)
CONTEXT = 24


def config_dict(num_blocks=3, slstm_at=(1,), vocab_size=11, act_fn="gelu", bias=False):
    """The fields of xLSTMLMModelConfig as the xlstm repository's experiment files set them."""
    return {
        "mlstm_block": {"mlstm": {"conv1d_kernel_size": 4, "qkv_proj_blocksize": 4,
                                  "num_heads": 2}},
        "slstm_block": {"slstm": {"backend": "vanilla", "num_heads": 2,
                                  "conv1d_kernel_size": 4, "bias_init": "powerlaw_blockdependent",
                                  "dtype": "float32"},
                        "feedforward": {"proj_factor": 1.3, "act_fn": act_fn}},
        "context_length": CONTEXT, "num_blocks": num_blocks, "embedding_dim": 16,
        "slstm_at": list(slstm_at), "vocab_size": vocab_size, "bias": bias,
    }


def from_dict(cls, d):
    """The library's config dataclasses from the nested fields (what dacite does upstream)."""
    mlstm = mLSTMBlockConfig(mlstm=mLSTMLayerConfig(**d["mlstm_block"]["mlstm"]))
    slstm = sLSTMBlockConfig(slstm=sLSTMLayerConfig(**d["slstm_block"]["slstm"]),
                             feedforward=FeedForwardConfig(**d["slstm_block"]["feedforward"]))
    rest = {k: v for k, v in d.items() if k not in ("mlstm_block", "slstm_block")}
    return cls(mlstm_block=mlstm, slstm_block=slstm, **rest)


def stir(module, seed):
    """Every parameter moved off its initial value (zero gates, unit skips, zero norms)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=generator, dtype=p.dtype))


def save_published(directory, module, config):
    directory.mkdir()
    state = {k: v.detach().contiguous().clone() for k, v in module.state_dict().items()}
    save_file(state, str(directory / "model.safetensors"))
    (directory / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize(("slstm_at", "act_fn", "bias"), [
    ((1,), "gelu", False), ((0, 2), "relu", True)])
def test_lm_model_logits_match_xlstm(tmp_path, slstm_at, act_fn, bias):
    config = config_dict(slstm_at=slstm_at, act_fn=act_fn, bias=bias)
    torch.manual_seed(0)
    module = xLSTMLMModel(from_dict(xLSTMLMModelConfig, config)).float()
    module.reset_parameters()
    stir(module, 1)
    module.eval()
    save_published(tmp_path / "lm", module, config)
    ids = np.random.default_rng(2).integers(0, 11, CONTEXT)
    with torch.no_grad():
        theirs = module(torch.from_numpy(ids)[None])[0].numpy()

    model = cells.load_model(tmp_path / "lm", vocabulary="abcdefghijk")
    assert isinstance(model, Model)
    np.testing.assert_array_equal(model.run("bad")["logits"], model.run(np.array([1, 0, 3]))
                                  ["logits"])
    kinds = [layer.block.kind for layer in model.stack]
    assert kinds == ["xlstm_slstm" if k in slstm_at else "xlstm_mlstm" for k in range(3)]
    run = model.run(ids)
    ours = run["logits"]
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    # the same directory named by its config.json
    again = cells.load_model(tmp_path / "lm" / "config.json").run(ids)["logits"]
    np.testing.assert_array_equal(again, ours)


def test_block_parts_are_the_layers_own(tmp_path):
    """The box around an mLSTM cell: its parts are the layer's intermediates, checked
    against hooks on the xlstm modules (the cell's h̃ before the group norm)."""
    config = config_dict()
    torch.manual_seed(3)
    module = xLSTMLMModel(from_dict(xLSTMLMModelConfig, config)).float()
    stir(module, 4)
    save_published(tmp_path / "lm", module, config)
    seen = {}
    layer = module.xlstm_block_stack.blocks[0].xlstm
    layer.conv1d.register_forward_hook(lambda m, i, o: seen.__setitem__("conv", o))
    layer.mlstm_cell.outnorm.register_forward_hook(
        lambda m, i, o: seen.update(h_tilde=i[0], h_norm=o))
    layer.proj_down.register_forward_hook(lambda m, i, o: seen.__setitem__("out", o))
    ids = np.arange(10) % 11
    with torch.no_grad():
        module(torch.from_numpy(ids)[None])
    run = cells.load_model(tmp_path / "lm").run(ids)
    block = run.blocks[0]
    T = len(ids)
    close = dict(rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(block["conv"], seen["conv"][0].numpy(), **close)
    np.testing.assert_allclose(run.layer(0)["h"],
                               seen["h_tilde"][0].transpose(0, 1).reshape(T, -1).numpy(),
                               **close)
    np.testing.assert_allclose(block["h_norm"],
                               seen["h_norm"][0].transpose(0, 1).reshape(T, -1).numpy(), **close)
    np.testing.assert_allclose(block["out"], seen["out"][0].numpy(), **close)
    # inner width 2·16, rounded up by the library to a multiple of 64: 2 heads of 32
    assert run.layer(0)["C"].shape == (T, 2, 32, 32)
    # the cell read what the block made for it
    np.testing.assert_array_equal(run.reads[0], block["cell_input"])


def test_block_stack_without_embedding(tmp_path):
    config = {k: v for k, v in config_dict().items() if k != "vocab_size"}
    torch.manual_seed(5)
    stack = xLSTMBlockStack(from_dict(xLSTMBlockStackConfig, config)).float()
    stir(stack, 6)
    stack.eval()
    save_published(tmp_path / "stack", stack, config)
    xs = np.random.default_rng(7).normal(0, 1, (CONTEXT, 16)).astype(np.float32)
    with torch.no_grad():
        theirs = stack(torch.from_numpy(xs)[None])[0].numpy()
    run = cells.load_model(tmp_path / "stack").run(xs)
    np.testing.assert_allclose(run.head_input, theirs, rtol=1e-4, atol=1e-4)
    assert run.names == ()


def test_refusals_name_the_problem(tmp_path):
    config = config_dict()
    torch.manual_seed(8)
    module = xLSTMLMModel(from_dict(xLSTMLMModelConfig, config)).float()
    save_published(tmp_path / "lm", module, config)
    (tmp_path / "lm" / "config.json").write_text(json.dumps({**config, "num_blocks": 4}))
    with pytest.raises(ValueError, match="num_blocks 4"):
        cells.load_model(tmp_path / "lm")
    (tmp_path / "lm" / "config.json").write_text(json.dumps({**config, "slstm_at": [0]}))
    with pytest.raises(ValueError, match="slstm_at"):
        cells.load_model(tmp_path / "lm")
    (tmp_path / "lm" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="vocabulary has 3 tokens"):
        cells.load_model(tmp_path / "lm", vocabulary="abc")
    (tmp_path / "lm" / "model.safetensors").unlink()
    with pytest.raises(ValueError, match="model folder holds model.safetensors"):
        cells.load_model(tmp_path / "lm")


def test_from_torch_and_a_bare_state_dict_file(tmp_path):
    """The live module (from_torch) and its state dict alone (load_model of the
    .safetensors, no config.json: the feed-forward's activation is the library's default)."""
    config = config_dict()
    torch.manual_seed(9)
    module = xLSTMLMModel(from_dict(xLSTMLMModelConfig, config)).float()
    stir(module, 10)
    module.eval()
    ids = np.random.default_rng(11).integers(0, 11, CONTEXT)
    with torch.no_grad():
        theirs = module(torch.from_numpy(ids)[None])[0].numpy()
    np.testing.assert_allclose(cells.from_torch(module).run(ids)["logits"], theirs,
                               rtol=1e-4, atol=1e-4)
    save_file({k: v.contiguous() for k, v in module.state_dict().items()},
              str(tmp_path / "lm.safetensors"))
    np.testing.assert_allclose(cells.load_model(tmp_path / "lm.safetensors").run(ids)["logits"],
                               theirs, rtol=1e-4, atol=1e-4)


def test_mlstm_layer_alone(tmp_path):
    """xlstm's mLSTMLayer by itself (no pre-norm, no residual): one block, numbers in and
    out, its parallel forward matched at 1e-5 in float32."""
    layer = mLSTMLayer(mLSTMLayerConfig(embedding_dim=8, num_heads=4, context_length=CONTEXT,
                                        proj_factor=2.0, round_proj_up_to_multiple_of=8))
    stir(layer, 12)
    layer.eval()
    xs = np.random.default_rng(13).normal(0, 1, (CONTEXT, 8)).astype(np.float32)
    with torch.no_grad():
        theirs = layer(torch.from_numpy(xs)[None])[0].numpy()
    model = cells.from_torch(layer)
    assert model.cell(0).heads == 4 and model.cell(0).hidden_size == 16
    np.testing.assert_allclose(model.run(xs).outputs[-1], theirs, rtol=1e-5, atol=1e-5)
    save_file({k: v.contiguous() for k, v in layer.state_dict().items()},
              str(tmp_path / "layer.safetensors"))
    run = cells.load_model(tmp_path / "layer.safetensors").run(xs)
    np.testing.assert_allclose(run.outputs[-1], theirs, rtol=1e-5, atol=1e-5)
    assert run.layer(0)["C"].shape == (CONTEXT, 4, 4, 4)



def test_lm_model_in_float64_matches_the_librarys_token_by_token_step(tmp_path):
    """In float64, against xLSTMLMModel.step token by token (the recurrent forms of both
    cells, as ours computes them): equal to 1e-10."""
    config = config_dict()
    config["slstm_block"]["slstm"]["dtype"] = "float64"
    torch.manual_seed(14)
    module = xLSTMLMModel(from_dict(xLSTMLMModelConfig, config)).double()
    stir(module, 15)
    module.eval()
    save_published(tmp_path / "lm", module, config)
    ids = np.random.default_rng(16).integers(0, 11, 12)
    state, theirs = None, []
    with torch.no_grad():
        for token in ids:
            logits, state = module.step(torch.tensor([[int(token)]]), state)
            theirs.append(logits[0, 0].numpy())
    ours = cells.load_model(tmp_path / "lm").run(ids)["logits"]
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours, np.stack(theirs), rtol=1e-10, atol=1e-10)


def test_cells_load_gives_the_cell_inside_a_block(tmp_path):
    """cells.load of an xlstm file: the cell of one block (an mLSTM, or the engine's sLSTM),
    which computes what the block's cell computes from the block's cell input; a notice
    names the parts left out."""
    config = config_dict()
    torch.manual_seed(17)
    module = xLSTMLMModel(from_dict(xLSTMLMModelConfig, config)).float()
    stir(module, 18)
    save_published(tmp_path / "lm", module, config)
    ids = np.arange(9) % 11
    run = cells.load_model(tmp_path / "lm").run(ids)
    for layer in (0, 1):
        with pytest.warns(UserWarning, match=f"block {layer} .* left out"):
            cell = cells.load(tmp_path / "lm", layer=layer)
        np.testing.assert_array_equal(cell.run(run.reads[layer])["h"], run.layer(layer)["h"])
    with pytest.warns(UserWarning, match="left out"):
        assert isinstance(cells.load(tmp_path / "lm", layer=1), cells.Cell)  # the engine's
    with pytest.raises(ValueError, match="layer 3 is not one of 0..2"):
        cells.load(tmp_path / "lm", layer=3)


def test_text_through_a_tokenizer_json_beside_the_model(tmp_path):
    """A model folder with the tokenizer it was trained with: text in, the tokenizer's ids
    to the embedding, each step shown as the text it covers."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {w: k for k, w in enumerate(["[UNK]", "the", "cat", "sat", "on", "mat", "a",
                                         "dog", "ran", "to", "it"])}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    config = config_dict()
    torch.manual_seed(19)
    module = xLSTMLMModel(from_dict(xLSTMLMModelConfig, config)).float()
    stir(module, 20)
    save_published(tmp_path / "lm", module, config)
    tokenizer.save(str(tmp_path / "lm" / "tokenizer.json"))
    text = "the cat sat on a mat"
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    run = cells.load_model(tmp_path / "lm").run(text)
    assert run.ids.tolist() == ids and run.tokens == text.split()
    with torch.no_grad():
        theirs = module(torch.tensor([ids]))[0].numpy()
    np.testing.assert_allclose(run["logits"], theirs, rtol=1e-4, atol=1e-4)
