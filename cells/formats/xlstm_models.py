"""The xlstm library's language models (Beck et al. 2024) as residual blocks: its
`xLSTMLMModel` (token embedding, block stack, lm_head) and bare `xLSTMBlockStack`, from
their state dicts by the library's own names, beside a config.json in the fields of the
library's config dataclasses (`xLSTMLMModelConfig`: mlstm_block, slstm_block, num_blocks,
embedding_dim, slstm_at, tie_weights, ...).

An mLSTM block (xlstm's mLSTMLayer behind a pre-norm, added back to the stream):

    x̂ = LN(x);  [x_m, z] = W_up·x̂;  c = SiLU(conv(x_m))
    q, k = Q·c, K·c (head-wise);  v = V·x_m;  ĩ, f̃ = W_i, W_f·[q, k, v] + b
    h̃ = mLSTM(q, k, v, ĩ, f̃);  y = (GN(h̃) + s ⊙ c) ⊙ SiLU(z);  x + W_down·y

The cell reads [c, x_m] (2·inner wide): its q and k blocks read c and its v block x_m, and
its gate rows are W_i and W_f multiplied through the q, k, v projections (the gates are
linear in them), so the cell computes the layer's own ĩ, f̃. The group norm, the skip and
the SiLU(z) gate are the box after the cell (the cell has no output gate of its own).

An sLSTM block: x̂ = LN(x); c = SiLU(conv(x̂)); the cell reads [c, x̂] (its i and f rows the
head-wise modules in the positions the layer feeds them: fgate → i, igate → f; z and o read
x̂); y = GN(h); x + y; then the gated feed-forward x + W_down·(act(W_g·LN(x)) ⊙ W_u·LN(x)).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from .. import create as create_cell
from .. import mlstm_cell
from ..kinds import mlstm as mlstm_math
from ..models import block_pieces as B
from ..models.blocks import Norm
from ..models.encoder import Encoder, vocabulary_tokens
from ..models.model import Head, Layer, Model
from ..models.reserved_tokens import encoder_for, vocabulary_tokenizer
from .after_lstm import recurrent_from_heads

LN_EPS = 1e-5  # xlstm's LayerNorm and MultiHeadLayerNorm


def headwise_full(w: np.ndarray) -> np.ndarray:
    """xlstm's LinearHeadwiseExpand weight (heads, out, in) as one block-diagonal matrix."""
    heads, d_out, d_in = w.shape
    full = np.zeros((heads * d_out, heads * d_in), w.dtype)
    for k in range(heads):
        full[k * d_out:(k + 1) * d_out, k * d_in:(k + 1) * d_in] = w[k]
    return full


class _XLSTMBlock:
    """What the two xlstm blocks share: their tensors by the layer's own names (`params`,
    what a model file stores), `options` (their kind and the feed-forward's activation),
    and the shape cells.models.blocks asks of a block."""

    kind = ""
    parts: tuple[str, ...] = ()

    def __init__(self, t: Mapping[str, np.ndarray], label: str, act_fn: str = "gelu"):
        self.params = dict(t)
        self.label = label
        self.act_fn = act_fn

    @property
    def options(self) -> dict:
        return {"kind": self.kind, "act_fn": self.act_fn}

    def cast(self, dtype):
        return type(self)({n: np.ascontiguousarray(a, dtype) for n, a in self.params.items()},
                          self.label, self.act_fn)

    def stream_width(self, cell) -> int:
        return self.width

    def check(self, cell, where: str) -> None:
        if cell.input_size != self.cell_input_size:
            raise ValueError(f"{where}: the cell reads {cell.input_size} values; the "
                             f"{self.kind} block gives it {self.cell_input_size}")

    def describe(self) -> dict:
        return {"kind": self.kind, "parts": list(self.parts), "options": self.options,
                "signals": ["block_in", *self.parts]}


class XLSTMMLSTMBlock(_XLSTMBlock):
    kind = "xlstm_mlstm"
    parts = ("norm", "x_mlstm", "z", "conv", "conv_act", "cell_input", "h_norm", "skip",
             "gated", "out", "residual")

    def __init__(self, t: Mapping[str, np.ndarray], label: str, act_fn: str = "gelu"):
        super().__init__(t, label, act_fn)
        inner2, E = t["proj_up.weight"].shape
        self.width, self.inner = E, inner2 // 2
        self.heads = t["mlstm_cell.igate.weight"].shape[0]
        self.cell_input_size = inner2

    def cell_params(self) -> tuple[dict, dict]:
        """(params, options) of the mlstm cell inside: it reads [c, x_m]; its q and k blocks
        read c, its v block x_m, and its gate rows are W_i and W_f through q, k, v."""
        t, inner, heads, label = self.params, self.inner, self.heads, self.label
        Q, K, V = (headwise_full(t[f"{n}_proj.weight"]) for n in "qkv")
        for name, full in (("q", Q), ("k", K), ("v", V)):
            if full.shape != (inner, inner):
                raise ValueError(f"{label}: {name}_proj.weight makes a {full.shape} map; the "
                                 f"layer's inner width is {inner}")
        zero = np.zeros((inner, inner))
        bq, bk, bv = (t.get(f"{n}_proj.bias", np.zeros(inner)) for n in "qkv")
        rows = {"q": np.hstack([Q, zero]), "k": np.hstack([K, zero]), "v": np.hstack([zero, V])}
        # the gates read [q, k, v] as the layer computes them (k before the 1/√d scaling)
        qkv = np.vstack([rows["q"], rows["k"], rows["v"]])  # (3·inner, 2·inner)
        qkv_bias = np.concatenate([bq, bk, bv])
        gates = {}
        for g in "if":
            W, b = t[f"mlstm_cell.{g}gate.weight"], t[f"mlstm_cell.{g}gate.bias"]
            gates[g] = (W.astype(np.float64) @ qkv, W.astype(np.float64) @ qkv_bias + b)
        params = {"weight_ih": np.vstack([rows["q"], rows["k"], rows["v"], gates["i"][0],
                                          gates["f"][0]]),
                  "bias_ih": np.concatenate([bq, bk, bv, gates["i"][1], gates["f"][1]])}
        if heads not in mlstm_math.HEADS.values or inner % heads:
            raise ValueError(f"{label}: an mLSTM of {heads} heads over {inner} units; "
                             f"gatescope's mlstm takes heads in {list(mlstm_math.HEADS.values)}"
                             f" dividing the inner width")
        return params, {"heads": heads, "output_gate": False}

    def before(self, x: np.ndarray) -> tuple[np.ndarray, dict]:
        """A bare mLSTMLayer (no xlstm_norm: not in a block) has no pre-norm and no residual
        connection: its "norm" is x itself and its "residual" the layer's output."""
        t, inner = self.params, self.inner
        p = {"block_in": x}
        p["norm"] = (B.layer_norm(x, 1 + t["xlstm_norm.weight"], eps=LN_EPS)
                     if "xlstm_norm.weight" in t else x)
        up = B.linear(p["norm"], t["proj_up.weight"], t.get("proj_up.bias"))
        p["x_mlstm"], p["z"] = up[:, :inner], up[:, inner:]
        if "conv1d.conv.weight" in t:
            p["conv"] = B.causal_conv(p["x_mlstm"], t["conv1d.conv.weight"][:, 0],
                                      t.get("conv1d.conv.bias"))
        else:
            p["conv"] = p["x_mlstm"]
        p["conv_act"] = B.silu(p["conv"])
        p["cell_input"] = np.concatenate([p["conv_act"], p["x_mlstm"]], axis=1)
        return p["cell_input"], p

    def after(self, p: dict, h: np.ndarray) -> np.ndarray:
        t = self.params
        p["h_norm"] = B.group_norm(h, self.heads, 1 + t["mlstm_cell.outnorm.weight"],
                                   eps=LN_EPS)
        p["skip"] = p["h_norm"] + t["learnable_skip"] * p["conv_act"]
        p["gated"] = p["skip"] * B.silu(p["z"])
        p["out"] = B.linear(p["gated"], t["proj_down.weight"], t.get("proj_down.bias"))
        p["residual"] = (p["block_in"] + p["out"] if "xlstm_norm.weight" in t else p["out"])
        return p["residual"]


class XLSTMSLSTMBlock(_XLSTMBlock):
    kind = "xlstm_slstm"

    def __init__(self, t: Mapping[str, np.ndarray], label: str, act_fn: str = "gelu"):
        super().__init__(t, label, act_fn)
        self.width = t["xlstm_norm.weight"].shape[0]
        self.cell_input_size = 2 * self.width
        self.heads = t["slstm_cell._recurrent_kernel_"].shape[0]
        self.ffn = "ffn.proj_up.weight" in t
        if act_fn not in B.ACTIVATIONS:
            raise ValueError(f"{label}: feed-forward activation {act_fn!r} is not one of "
                             f"{sorted(B.ACTIVATIONS)}")
        self.act = B.ACTIVATIONS[act_fn]
        self.parts = ("norm", "conv", "conv_act", "cell_input", "h_norm", "mixer_residual") + (
            ("ffn_norm", "ffn_gate", "ffn_up", "ffn_product", "out") if self.ffn else ()) + (
            "residual",)

    def cell_params(self) -> tuple[dict, dict]:
        """(params, options) of the slstm cell inside: it reads [c, x̂]; its i and f rows
        are the head-wise modules in the positions the layer feeds them (fgate → i, igate →
        f) on c, z and o read x̂."""
        t, E, label = self.params, self.width, self.label
        kernel = t["slstm_cell._recurrent_kernel_"]
        w_hh = recurrent_from_heads(kernel, label, "slstm_cell._recurrent_kernel_")
        H = w_hh.shape[1]
        if H != E:
            raise ValueError(f"{label}: the sLSTM cell is {H} wide; the stream {E}")
        full = {g: headwise_full(t[f"{g}gate.weight"]) for g in "fizo"}
        zero = np.zeros((H, E))
        w_ih = np.vstack([np.hstack([full["f"], zero]), np.hstack([full["i"], zero]),
                          np.hstack([zero, full["z"]]), np.hstack([zero, full["o"]])])
        bias = t["slstm_cell._bias_"].reshape(-1)
        return ({"weight_ih": w_ih, "weight_hh": w_hh, "bias_ih": bias,
                 "bias_hh": np.zeros_like(bias)}, {"heads": self.heads})

    def before(self, x: np.ndarray) -> tuple[np.ndarray, dict]:
        t = self.params
        p = {"block_in": x, "norm": B.layer_norm(x, 1 + t["xlstm_norm.weight"], eps=LN_EPS)}
        if "conv1d.conv.weight" in t:
            p["conv"] = B.causal_conv(p["norm"], t["conv1d.conv.weight"][:, 0],
                                      t.get("conv1d.conv.bias"))
            p["conv_act"] = B.silu(p["conv"])
        else:
            p["conv"] = p["conv_act"] = p["norm"]
        p["cell_input"] = np.concatenate([p["conv_act"], p["norm"]], axis=1)
        return p["cell_input"], p

    def after(self, p: dict, h: np.ndarray) -> np.ndarray:
        t = self.params
        p["h_norm"] = B.group_norm(h, self.heads, 1 + t["group_norm.weight"], eps=LN_EPS)
        p["mixer_residual"] = p["block_in"] + p["h_norm"]
        if self.ffn:
            p["ffn_norm"] = B.layer_norm(p["mixer_residual"], 1 + t["ffn_norm.weight"],
                                         eps=LN_EPS)
            both = B.linear(p["ffn_norm"], t["ffn.proj_up.weight"], t.get("ffn.proj_up.bias"))
            half = both.shape[1] // 2
            p["ffn_gate"], p["ffn_up"] = both[:, :half], both[:, half:]
            p["ffn_product"] = self.act(p["ffn_gate"]) * p["ffn_up"]
            p["out"] = B.linear(p["ffn_product"], t["ffn.proj_down.weight"],
                                t.get("ffn.proj_down.bias"))
            p["residual"] = p["mixer_residual"] + p["out"]
        else:
            p["out"] = p["h_norm"]
            p["residual"] = p["mixer_residual"]
        return p["residual"]


BLOCK_KINDS = {block.kind: block for block in (XLSTMMLSTMBlock, XLSTMSLSTMBlock)}


def block_of(params: Mapping[str, np.ndarray], options: Mapping, label: str):
    """An xlstm block from what a gatescope model file stored of it."""
    kind = options.get("kind")
    if kind not in BLOCK_KINDS:
        raise ValueError(f"{label}: block kind {kind!r} is not one of {sorted(BLOCK_KINDS)}")
    try:
        return BLOCK_KINDS[kind](dict(params), label, str(options.get("act_fn", "gelu")))
    except KeyError as missing:
        raise ValueError(f"{label}: tensor {missing.args[0]} of the {kind} block is "
                         "missing") from None


def layer_of(block, dtype) -> Layer:
    """The model layer of an xlstm block: the cell it computes, inside the block."""
    params, options = block.cell_params()
    kind = "mlstm" if isinstance(block, XLSTMMLSTMBlock) else "slstm"
    if kind == "mlstm":
        cell = mlstm_cell.create(params=params, dtype=dtype, **options)
    else:
        cell = create_cell("slstm", params=params, dtype=dtype, **options)
    return Layer({"forward": cell}, block=block)


def is_xlstm_config(config: Mapping) -> bool:
    return isinstance(config, Mapping) and ("mlstm_block" in config or "slstm_block" in config)


BLOCK_NORM = re.compile(r"(^|\.)blocks\.\d+\.xlstm_norm\.weight$")
LAYER_MARKER = "mlstm_cell.igate.weight"


def is_xlstm_state_dict(names) -> bool:
    """Whether the names are an xlstm LM, block stack or bare mLSTM layer's state dict."""
    names = set(names)
    return LAYER_MARKER in names or any(BLOCK_NORM.search(n) for n in names)


def config_of_module(module) -> dict:
    """The config fields the reader uses, from a live xlstm module's `config` attribute."""
    config = getattr(module, "config", None)
    feedforward = getattr(getattr(config, "slstm_block", None), "feedforward", None)
    out = {"mlstm_block": {}, "tie_weights": bool(getattr(config, "tie_weights", False))}
    for name in ("num_blocks", "slstm_at"):
        if hasattr(config, name) and hasattr(config, "block_map"):
            out[name] = getattr(config, name)
    if feedforward is not None:
        out["slstm_block"] = {"feedforward": {"act_fn": feedforward.act_fn}}
    return out


def _block_indices(names, prefix: str) -> list[int]:
    found = {int(m.group(1)) for n in names if (m := re.match(re.escape(prefix) + r"(\d+)\.", n))}
    return sorted(found)


def build_xlstm(config: Mapping, tensors: Mapping[str, np.ndarray], label: str,
                dtype=None, vocabulary=None) -> Model:
    """An xLSTMLMModel (or a bare xLSTMBlockStack, or an mLSTMLayer) from its state dict,
    `tensors`, as a cells.Model whose layers are the blocks around their cells."""
    names = set(tensors)
    if dtype is None:
        dtype = np.result_type(*[a.dtype for a in tensors.values()]).name
    if LAYER_MARKER in names:  # a bare mLSTMLayer: one block, numbers in and out
        t = {n: np.asarray(a, np.float64) for n, a in tensors.items()}
        layer = layer_of(block_of(t, {"kind": XLSTMMLSTMBlock.kind}, label), dtype)
        return Model([layer], Encoder("numbers", layer.input_size))
    lm = "token_embedding.weight" in names
    stack = "xlstm_block_stack." if lm else ""
    indices = _block_indices(names, stack + "blocks.")
    if not indices:
        raise ValueError(f"{label}: no {stack}blocks.N.* tensors: not an xlstm block stack")
    expected = config.get("num_blocks")
    if expected is not None and indices != list(range(expected)):
        raise ValueError(f"{label}: config.json says num_blocks {expected}; the file holds "
                         f"blocks {indices}")
    slstm_at = config.get("slstm_at")  # None: the file alone says which block is which
    if slstm_at == "all":
        slstm_at = indices
    act_fn = (config.get("slstm_block") or {}).get("feedforward", {}) or {}
    act_fn = act_fn.get("act_fn", "gelu")
    layers = []
    for index in indices:
        prefix = f"{stack}blocks.{index}."
        own = {n[len(prefix):]: tensors[n] for n in names if n.startswith(prefix)}
        t = {(n[len("xlstm."):] if n.startswith("xlstm.") else n): a for n, a in own.items()}
        is_slstm = "slstm_cell._recurrent_kernel_" in t
        if isinstance(slstm_at, list) and is_slstm != (index in slstm_at):
            raise ValueError(f"{label}: block {index} is an {'s' if is_slstm else 'm'}LSTM "
                             f"block, but config.json's slstm_at is {slstm_at}")
        t = {n: np.asarray(a, np.float64) for n, a in t.items()}
        kind = (XLSTMSLSTMBlock if is_slstm else XLSTMMLSTMBlock).kind
        layers.append(layer_of(block_of(t, {"kind": kind, "act_fn": act_fn},
                                        f"{label} block {index}"), dtype))
    E = layers[0].input_size
    norm_name = stack + "post_blocks_norm.weight"
    final_norm = (Norm("layer", 1 + np.asarray(tensors[norm_name], np.float64), None, LN_EPS)
                  if norm_name in names else None)
    if not lm:
        return Model(layers, Encoder("numbers", E), final_norm=final_norm)
    embedding = tensors["token_embedding.weight"]
    head = tensors.get("lm_head.weight")
    if head is None:
        if not config.get("tie_weights"):
            raise ValueError(f"{label}: lm_head.weight is missing and config.json does "
                             "not say tie_weights")
        head = embedding
    tokens = None
    if vocabulary is not None:
        if not isinstance(vocabulary, (str, list, tuple)):
            raise ValueError(f"{label}: give an xlstm model's vocabulary as its tokens (a str "
                             "of characters or a list of strings)")
        tokens = vocabulary_tokens(vocabulary)
        if len(tokens) != len(embedding):
            raise ValueError(f"{label}: the vocabulary has {len(tokens)} tokens; the model's "
                             f"embedding has {len(embedding)} rows")
    encoder = encoder_for("embedding", E, tokens, None if tokens is None
                          else vocabulary_tokenizer(tokens), np.asarray(embedding, dtype))
    return Model(layers, encoder, Head(np.asarray(head, dtype), np.zeros(len(head), dtype),
                                       "softmax"), final_norm=final_norm)
