"""Torch references for the LSTM with proj_size (tests of the engine and of the API): one
direction of one layer as its own nn.LSTM(proj_size=P), its step in torch ops, and the
sensitivity ‖∂ of_t[unit] / ∂v_s‖ by torch autograd."""

from __future__ import annotations

import numpy as np
import torch


def one_cell(module: torch.nn.LSTM, layer: int, direction: str) -> torch.nn.LSTM:
    """The cell of (layer, direction) of `module` as a one-layer, forward nn.LSTM."""
    suffix = f"_l{layer}" + ("_reverse" if direction == "backward" else "")
    weights = {k[:-len(suffix)] + "_l0": v for k, v in module.state_dict().items()
               if k.endswith(suffix)}
    cell = torch.nn.LSTM(weights["weight_ih_l0"].shape[1], module.hidden_size,
                         proj_size=module.proj_size).to(weights["weight_ih_l0"].dtype)
    cell.load_state_dict(weights)
    return cell


def step(cell: torch.nn.LSTM, x, h, c):
    """One step in torch ops (autograd differentiates it); `sensitivity` checks it against
    nn.LSTM's own output."""
    H = cell.hidden_size
    z = cell.weight_ih_l0 @ x + cell.weight_hh_l0 @ h + cell.bias_ih_l0 + cell.bias_hh_l0
    i, f, o = torch.sigmoid(z[:H]), torch.sigmoid(z[H:2 * H]), torch.sigmoid(z[3 * H:])
    c = f * c + i * torch.tanh(z[2 * H:3 * H])
    return cell.weight_hr_l0 @ (o * torch.tanh(c)), c


def sensitivity(cell: torch.nn.LSTM, xs: np.ndarray, t: int, unit: int, of: str,
                window: int, tol: float = 1e-10) -> dict:
    """{"x", "h", "c"} norms for s in [max(0, t − window + 1), t]: x_s through the whole run;
    h_s and c_s as leaves (the state after step s, each independent) with the steps after s
    rerun."""
    H, P = cell.hidden_size, cell.proj_size
    x = torch.from_numpy(np.ascontiguousarray(xs)).requires_grad_(True)
    h, c = torch.zeros(P, dtype=x.dtype), torch.zeros(H, dtype=x.dtype)
    states = []
    for s in range(t + 1):
        h, c = step(cell, x[s], h, c)
        states.append((h.detach(), c.detach()))
    with torch.no_grad():
        ys = cell(torch.from_numpy(np.ascontiguousarray(xs))[:, None])[0][:, 0]
    np.testing.assert_allclose(h.detach().numpy(), ys[t].numpy(), rtol=tol, atol=tol)
    (dx,) = torch.autograd.grad((h if of == "h" else c)[unit], x)
    start = max(0, t - window + 1)
    out = {"x": np.linalg.norm(dx.numpy()[start:t + 1], axis=1), "h": [], "c": []}
    for s in range(start, t + 1):
        h_s, c_s = (v.clone().requires_grad_(True) for v in states[s])
        h, c = h_s, c_s
        for r in range(s + 1, t + 1):
            h, c = step(cell, x[r].detach(), h, c)
        grads = torch.autograd.grad((h if of == "h" else c)[unit], (h_s, c_s),
                                    allow_unused=True)
        for name, grad in zip(("h", "c"), grads, strict=True):
            out[name].append(0.0 if grad is None else float(grad.norm()))
    return out
