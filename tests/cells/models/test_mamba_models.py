"""Whole Mamba models in the layouts they are published in — mambapy's stack and LM,
mamba_ssm's MambaLMHeadModel and transformers' MambaForCausalLM (the same tensors under
each library's names, written by the test) — against mambapy's own forward."""

import json

import numpy as np
import pytest
import torch
from mambapy.mamba import Mamba, MambaConfig
from safetensors.torch import save_file

import cells
from cells.presets.recipes.selective_copy import language_model
from tests.support import close

SIZES = {"d_model": 16, "n_layers": 2, "d_state": 4, "expand_factor": 2, "d_conv": 4}
V = 11


def _state(module) -> dict:
    return {k: v.detach().contiguous() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_mambapy_stack_runs_as_the_library_s(tmp_path, dtype):
    torch.manual_seed(20)
    module = Mamba(MambaConfig(**SIZES, pscan=False)).to(getattr(torch, dtype))
    save_file(_state(module), str(tmp_path / "model.safetensors"))
    xs = np.random.default_rng(21).normal(size=(13, 16)).astype(dtype)
    with torch.no_grad():
        expected = module(torch.from_numpy(xs)[None])[0].numpy()
    model = cells.load_model(tmp_path / "model.safetensors")
    assert model.encoder.encoding == "numbers" and model.head is None
    assert model.cell(1).kind == "mamba"
    options = dict(model.cell(0).options)
    assert {k: options[k] for k in ("d_state", "d_conv", "expand")} == {
        "d_state": 4, "d_conv": 4, "expand": 2}
    assert model.cell(0).dims["R"] == 1  # dt_rank: ceil(16 / 16), as mambapy chose it
    close(model.run(xs).outputs[-1], expected, dtype)


def _lm(tied: bool):
    torch.manual_seed(22)
    module = language_model(V, **SIZES, pscan=False)
    if tied:
        module.lm_head.weight = module.embedding.weight
    return module


def _renamed(state: dict, layout: str) -> dict:
    """mambapy LM names → mamba_ssm's or transformers' (a tied head is not written)."""
    if layout == "mambapy":
        return state
    embedding = "backbone.embedding.weight" if layout == "mamba_ssm" else \
        "backbone.embeddings.weight"
    out = {}
    for name, value in state.items():
        if name == "embedding.weight":
            out[embedding] = value
        elif name.startswith("mamba.layers."):
            out["backbone." + name[len("mamba."):]] = value
        elif name == "norm_f.weight":
            out["backbone.norm_f.weight"] = value
        elif name == "lm_head.weight" and layout != "transformers":
            out[name] = value
    return out


CONFIGS = {
    "mambapy": {"d_model": 16, "n_layers": 2, "d_state": 4, "expand_factor": 2, "d_conv": 4,
                "rms_norm_eps": 1e-5},
    "mamba_ssm": {"d_model": 16, "n_layer": 2, "vocab_size": V, "ssm_cfg": {"d_state": 4},
                  "rms_norm": True, "residual_in_fp32": True, "fused_add_norm": True,
                  "pad_vocab_size_multiple": 1, "tie_embeddings": False},
    "transformers": {"architectures": ["MambaForCausalLM"], "hidden_size": 16,
                     "state_size": 4, "num_hidden_layers": 2, "expand": 2, "conv_kernel": 4,
                     "layer_norm_epsilon": 1e-5, "vocab_size": V, "use_bias": False,
                     "use_conv_bias": True, "tie_word_embeddings": True},
}


@pytest.mark.parametrize("layout", list(CONFIGS))
def test_language_models_in_each_layout_give_the_library_s_logits(tmp_path, layout):
    module = _lm(tied=layout == "transformers")
    state = {k: v.contiguous() for k, v in _renamed(module.state_dict(), layout).items()}
    save_file({k: v.clone() for k, v in state.items()}, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(CONFIGS[layout]))
    ids = np.random.default_rng(23).integers(0, V, 19)
    with torch.no_grad():
        expected = module(torch.from_numpy(ids)[None])[0].numpy()
    for given in (tmp_path, tmp_path / "config.json"):
        model = cells.load_model(given)
        assert model.layers == 2 and model.encoder.encoding == "embedding"
        assert model.final_norm is not None and model.stack[0].block is not None
        np.testing.assert_allclose(model.run(ids)["logits"], expected, rtol=1e-4, atol=1e-4)


def test_a_mamba_model_in_float64_equals_the_library_s_to_1e_10(tmp_path):
    module = _lm(tied=False).double()
    save_file(_state(module), str(tmp_path / "model.safetensors"))
    ids = np.arange(V)
    with torch.no_grad():
        expected = module(torch.from_numpy(ids)[None])[0].numpy()
    model = cells.load_model(tmp_path / "model.safetensors")
    close(model.run(ids)["logits"], expected, "float64")
    # and survives a gatescope model file bit for bit
    cells.save_model(model, tmp_path / "saved.safetensors")
    again = cells.load_model(tmp_path / "saved.safetensors")
    np.testing.assert_array_equal(again.run(ids)["logits"], model.run(ids)["logits"])


def test_an_epsilon_that_is_not_a_number_is_named(tmp_path):
    module = _lm(tied=False)
    save_file(_state(module), str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"rms_norm_eps": "small"}))
    with pytest.raises(ValueError, match="rms_norm_eps='small' is not a positive number"):
        cells.load_model(tmp_path)


def test_norms_inside_the_mixer_are_refused_by_name(tmp_path):
    torch.manual_seed(24)
    module = Mamba(MambaConfig(**SIZES, inner_layernorms=True))
    save_file(_state(module), str(tmp_path / "model.safetensors"))
    with pytest.raises(ValueError, match=r"mixer\.B_layernorm\.weight: this Mamba normalizes "
                                         "Δ, B and C inside its mixer"):
        cells.load_model(tmp_path / "model.safetensors")
