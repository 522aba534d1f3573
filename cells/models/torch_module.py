"""from_torch: a Model from a live PyTorch module, read through its state_dict() and its
attributes only (duck typing: cells never imports torch)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..formats.after_lstm import read_after_lstm_model
from ..formats.model_parts import ModelWeights
from ..formats.tensor_files import TensorFile
from ..formats.whole_named import read_torch_state_dict
from .build import build_model, with_options
from .model import Model

_RECURRENT_ATTRIBUTES = ("num_layers", "bidirectional", "hidden_size", "input_size")
_SOFTMAX_MODULES = ("Softmax", "LogSoftmax")


def from_torch(module, vocabulary=None, dtype=None, **names) -> Model:
    """An nn.LSTM / nn.GRU / nn.RNN, or a module holding one (with an nn.Embedding before it
    and an nn.Linear after it), as a Model. What forward() does is not read: the parts are
    taken to run Embedding → recurrent → Linear at every step, as gatescope's models do."""
    label = f"the {type(module).__name__} module"
    if not hasattr(module, "state_dict") or not hasattr(module, "named_modules"):
        raise ValueError(f"from_torch needs a torch.nn.Module, not {type(module).__name__}")
    arrays = {name: _numpy(tensor) for name, tensor in module.state_dict().items()}
    tensors = TensorFile(label, tuple(arrays), {}, arrays.__getitem__)
    after = read_after_lstm_model(tensors)  # minGRU-pytorch's modules, xlstm's sLSTM layer
    if after is not None:
        return build_model(after, vocabulary=vocabulary, dtype=dtype)
    parts = dict(module.named_modules())
    recurrent = {n: m for n, m in parts.items()
                 if all(hasattr(m, a) for a in _RECURRENT_ATTRIBUTES)
                 and any(k.startswith("weight_ih_l") for k, _ in m.named_parameters())}
    found = dict(names)
    if "recurrent" not in found and len(recurrent) == 1:
        found["recurrent"] = next(iter(recurrent))
    embeddings = [n for n, m in parts.items() if type(m).__name__ == "Embedding"]
    if "embedding" not in found and len(embeddings) == 1:
        found["embedding"] = embeddings[0]
    linears = [n for n, m in parts.items() if type(m).__name__ == "Linear"]
    if "head" not in found and len(linears) == 1:
        found["head"] = linears[0]
    for name in ("embedding", "head"):
        if found.get(name) == "":
            del found[name]  # the module itself is the recurrent one
    embedding = parts.get(found.get("embedding")) if found.get("embedding") else None
    if embedding is not None and getattr(embedding, "max_norm", None) is not None:
        raise ValueError(f"{label}: the embedding {found['embedding']!r} has max_norm="
                         f"{embedding.max_norm}, which rescales rows as they are looked up")
    weights = read_torch_state_dict(tensors, found)
    chosen = found.get("recurrent")
    chosen = [chosen] if isinstance(chosen, str) else list(chosen or recurrent)
    weights = _module_options(weights, [parts[n] for n in chosen if n in parts])
    if any(type(m).__name__ in _SOFTMAX_MODULES for m in parts.values()):
        weights = replace(weights, activation="softmax")
    return build_model(weights, vocabulary=vocabulary, dtype=dtype)


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
