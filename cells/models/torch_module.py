"""from_torch: a Model from a live PyTorch module, read through its state_dict() and its
attributes only (duck typing: cells never imports torch)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from ..formats.after_lstm import read_after_lstm_model
from ..formats.mapped_tensors import TENSOR_ROLES, read_mapped_model
from ..formats.model_parts import ModelWeights
from ..formats.tensor_files import TensorFile
from ..formats.whole_named import PART_NAMES, read_torch_state_dict
from ..weights_io import warn_about_load
from .build import build_model, with_options
from .files import merged_names
from .model import Model

_SOFTMAX_MODULES = ("Softmax", "LogSoftmax")


def from_torch(module, vocabulary=None, dtype=None, names: Mapping | None = None,
               **parts) -> Model:
    """An nn.LSTM / nn.GRU / nn.RNN or nn.LSTMCell / GRUCell / RNNCell, or a module holding
    one (with an nn.Embedding before it and an nn.Linear after it), as a Model; TorchScript
    modules too. The xlstm library's xLSTMLMModel, xLSTMBlockStack and mLSTMLayer come back
    as a cells.Model whose layers are residual blocks around the cells.
    What forward() does is not read: the parts are taken to run Embedding →
    recurrent → Linear at every step, as gatescope's models do (a cell stepped in a loop,
    its state carried, is the one-layer model). `names`, or keywords, name the parts as
    cells.load_model takes them (module names, or tensor by tensor)."""
    label = f"the {_type_name(module)} module"
    if not hasattr(module, "state_dict") or not hasattr(module, "named_modules"):
        raise ValueError(f"from_torch needs a torch.nn.Module, not {type(module).__name__}")
    given = merged_names(label, names, parts)
    arrays = {name: _numpy(tensor) for name, tensor in module.state_dict().items()}
    if not given:  # the xlstm library's LM, block stack or mLSTM layer: residual blocks
        from ..formats.xlstm_models import build_xlstm, config_of_module, is_xlstm_state_dict

        if is_xlstm_state_dict(arrays):
            return build_xlstm(config_of_module(module), arrays, label, dtype)
    tensors = TensorFile(label, tuple(arrays), {}, arrays.__getitem__)
    after = None if given else read_after_lstm_model(tensors)  # minGRU, minLSTM, sLSTM
    if after is not None:
        return build_model(after, vocabulary=vocabulary, dtype=dtype)
    modules = dict(module.named_modules())
    recurrent = {n: m for n, m in modules.items() if _is_recurrent(m)}
    found = dict(given)
    mapped = bool(set(given) & (set(TENSOR_ROLES) - set(PART_NAMES)))
    if not mapped:
        if "recurrent" not in found and len(recurrent) == 1:
            found["recurrent"] = next(iter(recurrent))
        embeddings = [n for n, m in modules.items() if _type_name(m) == "Embedding"]
        if "embedding" not in found and len(embeddings) == 1:
            found["embedding"] = embeddings[0]
        linears = [n for n, m in modules.items() if _type_name(m) == "Linear"]
        if "head" not in found and len(linears) == 1:
            found["head"] = linears[0]
        for name in ("embedding", "head"):
            if found.get(name) == "":
                del found[name]  # the module itself is the recurrent one
    embedding = modules.get(found.get("embedding")) if found.get("embedding") else None
    if embedding is not None and getattr(embedding, "max_norm", None) is not None:
        raise ValueError(f"{label}: the embedding {found['embedding']!r} has max_norm="
                         f"{embedding.max_norm}, which rescales rows as they are looked up")
    if mapped:
        weights = read_mapped_model(tensors, found)
    else:  # what the caller did not name may not be left out, as in a file
        weights = read_torch_state_dict(tensors, found, cell_options_stated=True,
                                        leave_out=bool(given))
    chosen = found.get("recurrent")
    chosen = [chosen] if isinstance(chosen, str) else list(chosen or recurrent)
    weights = _module_options(weights, [modules[n] for n in chosen if n in modules])
    if any(_type_name(m) in _SOFTMAX_MODULES for m in modules.values()):
        weights = replace(weights, activation="softmax")
    model = build_model(weights, vocabulary=vocabulary, dtype=dtype)
    warn_about_load(weights)
    return model


def _type_name(module) -> str:
    """The module's class name; a TorchScript module keeps it as original_name."""
    return getattr(module, "original_name", None) or type(module).__name__


def _is_recurrent(module) -> bool:
    """An nn.LSTM/GRU/RNN (weight_ih_l0, ...) or an nn.LSTMCell/GRUCell/RNNCell (weight_ih)."""
    if not (hasattr(module, "hidden_size") and hasattr(module, "input_size")):
        return False
    own = {name for name, _ in module.named_parameters(recurse=False)}
    return "weight_ih_l0" in own or "weight_ih" in own


def _module_options(weights: ModelWeights, modules: list) -> ModelWeights:
    """An nn.RNN states its nonlinearity as an attribute, not in its state dict."""
    values = {getattr(m, "nonlinearity", None) for m in modules} - {None}
    if len(values) > 1:
        raise ValueError(f"{weights.label}: its nn.RNN modules use different nonlinearities "
                         f"{sorted(values)}; one model takes one")
    return with_options(weights, {"nonlinearity": values.pop()}) if values else weights


def _numpy(tensor) -> np.ndarray:
    """A tensor's values on the CPU; bfloat16, which NumPy lacks, widened exactly."""
    tensor = tensor.detach().cpu()
    try:
        return tensor.numpy()
    except TypeError:
        return tensor.float().numpy()
