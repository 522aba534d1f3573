"""Training in NumPy: character models, batched truncated backprop through time, Adam.

    model = cells.char_model("lstm", vocabulary, hidden_size=128)
    result = cells.train(model, text, steps=2000)   # result.model, .losses, .seconds
"""

from .loop import TrainResult, train
from .model_backward import loss_and_gradients
from .network import Network, char_model

__all__ = ["Network", "TrainResult", "char_model", "loss_and_gradients", "train"]
