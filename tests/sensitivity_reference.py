"""Sensitivity by torch autograd (an independent implementation), shared by the API and the
page tests: the norms of torch.autograd.functional.jacobian of an nn.LSTMCell run."""

import numpy as np
import torch

torch.set_num_threads(1)


def torch_norms(cell, xs, t, unit, of):
    """‖∂ of_t[unit] / ∂ v_s‖ for v = x, h, c by torch.autograd.functional.jacobian, each
    state after step s an independent variable (later inputs fixed)."""
    m = torch.nn.LSTMCell(cell.input_size, cell.hidden_size, dtype=torch.float64)
    m.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in cell.params.items()})
    xs_t = torch.from_numpy(np.asarray(xs, np.float64))
    H = cell.hidden_size
    states = [(torch.zeros(H, dtype=torch.float64), torch.zeros(H, dtype=torch.float64))]
    for x in xs_t[:t + 1]:
        h, c = m(x[None], (states[-1][0][None], states[-1][1][None]))
        states.append((h[0], c[0]))

    def run(first, h, c, x_first=None):
        for s in range(first, t + 1):
            x = x_first if (s == first and x_first is not None) else xs_t[s]
            h, c = (v[0] for v in m(x[None], (h[None], c[None])))
        return (h if of == "h" else c)[unit]

    jac = torch.autograd.functional.jacobian
    out = {"x": [], "h": [], "c": []}
    for s in range(t + 1):
        out["x"].append(jac(lambda x, s=s: run(s, *states[s], x_first=x), xs_t[s]))
        h_s, c_s = states[s + 1]
        out["h"].append(jac(lambda h, s=s, c=c_s: run(s + 1, h, c), h_s))
        out["c"].append(jac(lambda c, s=s, h=h_s: run(s + 1, h, c), c_s))
    return {k: np.array([float(torch.linalg.norm(v)) for v in vs]) for k, vs in out.items()}
