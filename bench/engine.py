"""Engine speed against PyTorch, in one run with one BLAS thread, float32, full traces.

Prints steps/second for gatescope's LSTM (every signal of every step recorded), torch's
fused nn.LSTM forward (outputs only), and a torch loop that computes and records the gates
per step as gatescope does; then forward + backward of a whole trace against nn.LSTM's
forward + backward(); one sensitivity call over a 256-step window; then the peak memory of
a 1,000,000-step run. Then the kinds after the LSTM (minGRU, minLSTM, sLSTM): forward with
every signal recorded against our own LSTM at the same H and against their reference
modules (minGRU-pytorch, xlstm's vanilla sLSTM cell); and minGRU's parallel form against
its step-by-step form at T = 10,000. `bench/engine.py after-lstm` runs only that part.

Times are the CPU time of the one thread doing the work (time.thread_time: NumPy, OpenBLAS
and torch, limited to one thread, all compute in the calling thread, torch's autograd
included), the least of several rounds in which ours and the peers take turns. On a
machine shared with other work, wall-clock time mostly measures the neighbours; the
wall-clock ratio of the same rounds is printed beside.
Run: .venv/bin/python bench/engine.py
"""

import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import cells  # noqa: E402

torch.set_num_threads(1)
CONFIGS = [(1000, 32, 256), (10000, 32, 64)]  # (T, I, H)
TARGETS = {256: (2.0, 1.5), 64: (5.0, 3.0)}  # H -> (max × fused time, min × faster than loop)
BACKWARD_TARGETS = {256: 2.0, 64: 4.0}  # H -> max × torch's forward + backward()
SENSITIVITY = (1000, 32, 256, 256)  # T, I, H, window; target < 20 ms


def timed(*fns, repeats: int) -> list[tuple[float, float]]:
    """For each of `fns`, (CPU seconds, wall seconds) of its round with the least CPU time
    of the calling thread, over `repeats` rounds after one warm-up call each; the functions
    take turns within a round, so that ours and the peers see the same neighbours."""
    for fn in fns:
        fn()
    best = [(float("inf"), float("inf"))] * len(fns)
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            c0, w0 = time.thread_time(), time.perf_counter()
            fn()
            cpu, wall = time.thread_time() - c0, time.perf_counter() - w0
            best[k] = min(best[k], (cpu, wall))
    return best


def ratio(ours: tuple, peer: tuple) -> str:
    return f"{ours[0] / peer[0]:4.2f}x (wall {ours[1] / peer[1]:4.2f}x)"


def torch_gate_loop(m: torch.nn.LSTM, xs: torch.Tensor) -> dict:
    """Per-step gates computed and recorded with torch ops: the peer that records what we do."""
    T, H = xs.shape[0], m.hidden_size
    W_ih, W_hh = m.weight_ih_l0, m.weight_hh_l0
    b = m.bias_ih_l0 + m.bias_hh_l0
    pre = torch.addmm(b, xs, W_ih.T)  # (T, 4H)
    rec = {k: torch.empty(T, H) for k in ("i", "f", "g", "o", "c", "h")}
    h, c = torch.zeros(H), torch.zeros(H)
    for t in range(T):
        gates = pre[t] + W_hh @ h
        i, f, g, o = gates.chunk(4)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        for k, v in zip(("i", "f", "g", "o", "c", "h"), (i, f, g, o, c, h), strict=True):
            rec[k][t] = v
    return rec


def bench(T: int, I: int, H: int) -> None:
    torch.manual_seed(0)
    m = torch.nn.LSTM(I, H)
    params = {k.removesuffix("_l0"): v.detach().numpy() for k, v in m.state_dict().items()}
    cell = cells.create("lstm", params=params)
    xs = np.random.default_rng(0).standard_normal((T, I), dtype=np.float32)
    xt = torch.from_numpy(xs)
    repeats = 7 if T * H <= 1_000_000 else 5
    with torch.no_grad():
        ours, fused, loop = timed(lambda: cell.run(xs), lambda: m(xt[:, None]),
                                  lambda: torch_gate_loop(m, xt), repeats=repeats)
        out, _ = m(xt[:, None])
    assert np.allclose(cell.run(xs)["h"], out[:, 0].numpy(), atol=1e-5)
    max_fused, min_loop = TARGETS[H]
    print(f"T={T:>6} I={I} H={H:>3} | gatescope {T / ours[0]:>9,.0f} steps/s "
          f"| torch fused {T / fused[0]:>9,.0f} | torch gate loop {T / loop[0]:>9,.0f} "
          f"| ours/fused {ratio(ours, fused)} (target <= {max_fused}) "
          f"| loop/ours {ratio(loop, ours)} (target >= {min_loop})")


def bench_backward(T: int, I: int, H: int) -> None:
    """Forward + backward of a full trace (dL/dh given for every step) against nn.LSTM."""
    torch.manual_seed(0)
    m = torch.nn.LSTM(I, H)
    params = {k.removesuffix("_l0"): v.detach().numpy() for k, v in m.state_dict().items()}
    cell = cells.create("lstm", params=params)
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((T, I), dtype=np.float32)
    dh = rng.standard_normal((T, H), dtype=np.float32)
    xt, dht = torch.from_numpy(xs)[:, None].requires_grad_(), torch.from_numpy(dh)[:, None]

    def torch_both():
        m.zero_grad()
        xt.grad = None
        out, _ = m(xt)
        out.backward(dht)

    repeats = 7 if T * H <= 1_000_000 else 5
    ours, theirs = timed(lambda: cell.run(xs).backward({"h": dh}), torch_both, repeats=repeats)
    torch_both()
    g = cell.run(xs).backward({"h": dh})
    assert np.allclose(g.params["weight_hh"], m.weight_hh_l0.grad.numpy(), rtol=1e-3, atol=1e-3)
    print(f"T={T:>6} I={I} H={H:>3} | forward+backward: gatescope {T / ours[0]:>8,.0f} "
          f"steps/s | torch nn.LSTM + backward() {T / theirs[0]:>8,.0f} "
          f"| ours/torch {ratio(ours, theirs)} (target <= {BACKWARD_TARGETS[H]})")


def bench_sensitivity() -> None:
    T, I, H, window = SENSITIVITY
    cell = cells.create("lstm", input_size=I, hidden_size=H, seed=0)
    trace = cell.run(np.random.default_rng(0).standard_normal((T, I), dtype=np.float32))
    ((cpu, wall),) = timed(lambda: trace.sensitivity(T - 1, 3, of="h", window=window),
                           repeats=20)
    print(f"sensitivity over {window} steps at H={H}: {cpu * 1e3:.1f} ms "
          f"(wall {wall * 1e3:.1f} ms; target < 20)")


def peak_memory_mb() -> int:
    script = ("import numpy as np, cells\n"
              "cell = cells.create('lstm', input_size=8, hidden_size=128, seed=0)\n"
              "xs = np.random.default_rng(0).standard_normal((1_000_000, 8), dtype=np.float32)\n"
              "t = cell.run(xs); t.window(123_456, 124_000)\n"
              "status = open('/proc/self/status').read()\n"
              "print(int(status.split('VmHWM:')[1].split()[0]) // 1024)\n")
    root = Path(__file__).resolve().parents[1]
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    seconds = time.perf_counter() - t0
    mb = int(out.stdout.strip())
    print(f"1,000,000 steps (I=8, H=128, float32): peak RSS {mb} MB (target < 400), "
          f"{1e6 / seconds:,.0f} steps/s including start-up")
    return mb


AFTER_LSTM = [(1000, 32, 256), (10000, 32, 64)]  # (T, I, H), the LSTM's configurations
PARALLEL = (10000, 32, 64)  # T, I, H for minGRU parallel against step by step


def bench_after_lstm(T: int, I: int, H: int) -> None:
    """Every signal recorded, per step, for the new kinds against our LSTM (same T, I, H),
    and the reference modules' own forward in the same rounds."""
    from minGRU_pytorch.minGRU import minGRU
    from minGRU_pytorch.minLSTM import minLSTM
    from xlstm.blocks.slstm.cell import sLSTMCell, sLSTMCellConfig

    xs = np.random.default_rng(0).standard_normal((T, I), dtype=np.float32)
    xt = torch.from_numpy(xs)
    lstm = cells.create("lstm", input_size=I, hidden_size=H, seed=0)
    torch.manual_seed(0)
    mg = minGRU(I, expansion_factor=H / I, proj_out=False)
    ml = minLSTM(I, expansion_factor=H / I, proj_out=False)
    ours = {"min_gru": cells.create("min_gru", params={
                "weight_ih": mg.to_hidden_and_gate.weight.detach().numpy()}),
            "min_lstm": cells.create("min_lstm", params={
                "weight_ih": ml.to_hidden_and_f_i_gate.weight.detach().numpy()}),
            "slstm": cells.create("slstm", input_size=I, hidden_size=H, seed=0, heads=4)}
    sl = sLSTMCell(sLSTMCellConfig(hidden_size=H, num_heads=4, backend="vanilla",
                                   dtype="float32"))
    w_ih = torch.from_numpy(ours["slstm"].params["weight_ih"])
    repeats = 5 if T * H <= 1_000_000 else 3
    with torch.no_grad():
        times = timed(lambda: lstm.run(xs), *(lambda c=c: c.run(xs) for c in ours.values()),
                      lambda: mg(xt[None]), lambda: ml(xt[None]),
                      lambda: sl((xt @ w_ih.T)[None]), repeats=repeats)
    lstm_t, gru_t, lstm_min_t, slstm_t, mg_t, ml_t, sl_t = times
    print(f"T={T:>6} I={I} H={H:>3} | every signal recorded, steps/s: our lstm "
          f"{T / lstm_t[0]:>9,.0f}")
    for kind, mine, peer, peer_name in (
            ("min_gru", gru_t, mg_t, "minGRU-pytorch (parallel)"),
            ("min_lstm", lstm_min_t, ml_t, "minGRU-pytorch minLSTM (parallel)"),
            ("slstm", slstm_t, sl_t, "xlstm sLSTMCell vanilla, 4 heads")):
        print(f"    {kind:<8} {T / mine[0]:>9,.0f} steps/s | /our lstm time {ratio(mine, lstm_t)} "
              f"(target <= 1) | {peer_name} {T / peer[0]:>9,.0f} (ours/theirs "
              f"{ratio(mine, peer)})")


def bench_parallel() -> None:
    """minGRU at T = 10,000: our parallel form against our step-by-step form, and the
    reference module's parallel forward and its one-step form stepped, in the same rounds."""
    from minGRU_pytorch.minGRU import minGRU

    T, I, H = PARALLEL
    torch.manual_seed(0)
    module = minGRU(I, expansion_factor=H / I, proj_out=False)
    cell = cells.create("min_gru", params={
        "weight_ih": module.to_hidden_and_gate.weight.detach().numpy()})
    xs = np.random.default_rng(0).standard_normal((T, I), dtype=np.float32)
    xt = torch.from_numpy(xs)

    def module_steps():
        h = torch.zeros(1, 1, H)
        for t in range(T):
            h = module(xt[t][None, None], prev_hidden=h)
        return h

    with torch.no_grad():
        step, par, log, ref_par, ref_step = timed(
            lambda: cell.run(xs), lambda: cell.run(xs, parallel=True),
            lambda: cell.run(xs, parallel="log"), lambda: module(xt[None]), module_steps,
            repeats=3)
    diff = float(np.abs(cell.run(xs)["h"] - cell.run(xs, parallel=True)["h"]).max())
    print(f"minGRU T={T} I={I} H={H} | ours step by step {T / step[0]:>9,.0f} steps/s "
          f"| ours parallel (doubling scan) {T / par[0]:>9,.0f} | parallel/step time "
          f"{ratio(par, step)} (target < 1) | ours log-space scan {T / log[0]:>9,.0f} "
          f"| minGRU-pytorch parallel {T / ref_par[0]:>9,.0f}, "
          f"one-step form stepped {T / ref_step[0]:>9,.0f} | max |h parallel − h step| {diff:.1e}")


if __name__ == "__main__" and sys.argv[1:] == ["after-lstm"]:
    print(f"numpy {np.__version__}, torch {torch.__version__}, 1 thread, float32")
    for T, I, H in AFTER_LSTM:
        bench_after_lstm(T, I, H)
    bench_parallel()
elif __name__ == "__main__":
    print(f"numpy {np.__version__}, torch {torch.__version__}, 1 thread, float32")
    for T, I, H in CONFIGS:
        bench(T, I, H)
    for T, I, H in CONFIGS:
        bench_backward(T, I, H)
    bench_sensitivity()
    peak_memory_mb()
    for T, I, H in AFTER_LSTM:
        bench_after_lstm(T, I, H)
    bench_parallel()
