"""The NumPy pieces of a residual block against torch's own functions, float64."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cells.models import block_pieces as blocks

torch.set_num_threads(1)
RNG = np.random.default_rng(0)
X = RNG.normal(0, 2, (7, 12))
T = torch.from_numpy(X)


def close(ours, theirs):
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12, atol=1e-12)


def test_norms():
    w, b = RNG.normal(size=12), RNG.normal(size=12)
    close(blocks.layer_norm(X, w, b), F.layer_norm(T, (12,), torch.from_numpy(w),
                                                   torch.from_numpy(b), 1e-5))
    close(blocks.group_norm(X, 3, w, b), F.group_norm(T, 3, torch.from_numpy(w),
                                                      torch.from_numpy(b), 1e-5))
    close(blocks.rms_norm(X, w), F.rms_norm(T, (12,), torch.from_numpy(w), 1e-5))


@pytest.mark.parametrize("name", sorted(blocks.ACTIVATIONS))
def test_activations(name):
    theirs = {"gelu": F.gelu, "relu": F.relu, "relu^2": lambda x: F.relu(x) ** 2,
              "sigmoid": torch.sigmoid, "swish": F.silu, "selu": F.selu}[name]
    close(blocks.ACTIVATIONS[name](X), theirs(T))


def test_causal_conv_is_a_cut_depthwise_conv1d():
    C, K = 12, 4
    conv = torch.nn.Conv1d(C, C, K, groups=C, padding=K - 1, dtype=torch.float64)
    weight, bias = conv.weight.detach().numpy()[:, 0], conv.bias.detach().numpy()
    theirs = conv(T.T[None])[0, :, :len(X)].T.detach()
    close(blocks.causal_conv(X, weight, bias), theirs)
    # from a state: the same as convolving the inputs before and keeping the tail
    before = RNG.normal(size=(K - 1, C))
    whole = blocks.causal_conv(np.concatenate([before, X]), weight, bias)[K - 1:]
    np.testing.assert_allclose(blocks.causal_conv(X, weight, bias, state=before), whole,
                               rtol=1e-12, atol=1e-12)
