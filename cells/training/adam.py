"""Adam (Kingma and Ba 2015) with global gradient-norm clipping, on named arrays in place.

The update is written as torch.optim.Adam writes it (bias-corrected, eps added after the
square root of the corrected second moment), so the benchmark compares like with like.
"""

from __future__ import annotations

import numpy as np


def clip_global_norm(grads: dict[str, np.ndarray], max_norm: float | None) -> float:
    """Scale every gradient by max_norm / ‖all gradients‖₂ when that norm exceeds max_norm
    (Pascanu, Mikolov and Bengio 2013); returns the norm before clipping."""
    norm = float(np.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads.values())))
    if max_norm and norm > max_norm:
        scale = np.float64(max_norm / (norm + 1e-6))
        for g in grads.values():
            g *= g.dtype.type(scale)
    return norm


class Adam:
    def __init__(self, params: dict[str, np.ndarray], lr: float = 3e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.params = params
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        # two work arrays per parameter, so a step allocates nothing (same values and
        # rounding as the one-line expressions: each product is taken in the same order)
        self._work = {k: (np.empty_like(v), np.empty_like(v)) for k, v in params.items()}
        self.t = 0

    def step(self, grads: dict[str, np.ndarray]) -> None:
        """p ← p − lr · m̂ / (√v̂ + eps), m and v the running first and second moments."""
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        step_size = self.lr / (1 - b1 ** self.t)
        root_correction = np.sqrt(1 - b2 ** self.t)
        for name, p in self.params.items():
            g, m, v = grads[name], self.m[name], self.v[name]
            denom, update = self._work[name]
            dt = p.dtype.type
            m *= dt(b1)
            m += np.multiply(dt(1 - b1), g, out=update)
            v *= dt(b2)
            np.multiply(dt(1 - b2), g, out=update)
            v += np.multiply(update, g, out=update)  # (1 − β₂)·g·g
            np.sqrt(v, out=denom)
            denom /= dt(root_correction)
            denom += dt(self.eps)
            np.multiply(dt(step_size), m, out=update)
            p -= np.divide(update, denom, out=update)  # lr′ · m / denom
