"""Whole recurrent models: an encoder, layers × directions of cells, and a head.

    model = cells.load_model("model.safetensors", vocabulary="abc")
    mt = model.run("some text")
    mt.layer(1, "backward")          # the Trace of that cell
    mt["probs"]                      # (T, O)
"""

from .encoder import Encoder
from .files import convert_model, load_model, save_model
from .model import Head, Layer, Model, ModelTrace
from .projected import ProjectedLSTM
from .torch_module import from_torch

__all__ = ["Encoder", "Head", "Layer", "Model", "ModelTrace", "ProjectedLSTM", "convert_model",
           "from_torch", "load_model", "save_model"]
