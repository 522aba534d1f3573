"""mLSTM speed against the xlstm library in one run, one BLAS thread, float32, CPU time.

gatescope's mlstm records every signal of every step (the memory C of every head at the
start of each block of steps, any step's recomputed from there); the peers are xlstm's
own backends on the same q, k, v and gate pre-activations: its recurrent step in a loop
(keeping only h) and its parallel stabilized form. Then our closed (quadratic) form
against our step-by-step form, and forward + backward against autograd through xlstm's
parallel form.
Run: .venv/bin/python bench/mlstm.py
"""

import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from xlstm.blocks.mlstm.backends import (  # noqa: E402
    parallel_stabilized_simple,
    recurrent_step_stabilized_simple,
)

from bench.engine import ratio, timed  # noqa: E402
from cells import mlstm_cell  # noqa: E402
from cells.kinds import mlstm  # noqa: E402

torch.set_num_threads(1)
CONFIGS = [(256, 32, 64, 4), (1024, 32, 64, 4)]  # (T, I, H, heads)


def bench_config(T: int, I: int, H: int, heads: int) -> None:
    d = H // heads
    cell = mlstm_cell.create(I, H, heads=heads, seed=0, output_gate=False)
    xs = np.random.default_rng(0).normal(0, 1, (T, I)).astype(np.float32)
    x = torch.from_numpy(xs)
    rows = mlstm.block_rows(H, heads, False)
    W = torch.from_numpy(cell.params["weight_ih"].copy()).requires_grad_()
    b = torch.from_numpy(cell.params["bias_ih"].copy())

    def torch_inputs():
        pre = x @ W.T + b

        def per_head(name):
            return pre[:, rows[name]].reshape(T, heads, d).transpose(0, 1)[None]

        gates = [pre[:, rows[g]].T[None, :, :, None] for g in "if"]
        return per_head("q"), per_head("k"), per_head("v"), *gates

    def xlstm_steps():
        with torch.no_grad():
            q, k, v, ig, fg = torch_inputs()
            state = (torch.zeros(1, heads, d, d), torch.zeros(1, heads, d, 1),
                     torch.zeros(1, heads, 1, 1))
            for t in range(T):
                _, state = recurrent_step_stabilized_simple(
                    *state, q[:, :, t:t + 1].clone(), k[:, :, t:t + 1].clone(),
                    v[:, :, t:t + 1].clone(), ig[:, :, t:t + 1], fg[:, :, t:t + 1])

    def xlstm_parallel():
        with torch.no_grad():
            parallel_stabilized_simple(*torch_inputs())

    def xlstm_parallel_backward():
        W.grad = None
        h = parallel_stabilized_simple(*torch_inputs())
        h.sum().backward()

    dh = np.ones((T, H), np.float32)
    ours_steps = timed(lambda: cell.run(xs), xlstm_steps, repeats=3)
    ours_par = timed(lambda: cell.run(xs, parallel=True), xlstm_parallel, repeats=3)
    both = timed(lambda: cell.run(xs).backward({"h": dh}), xlstm_parallel_backward,
                 repeats=3)
    trace = cell.run(xs)
    print(f"T={T} I={I} H={H} heads={heads} (d={d}): trace {trace.nbytes / 2**20:.2f} MB "
          f"(C kept every {mlstm_cell.BLOCK} steps; every step's C would be "
          f"{T * heads * d * d * 4 / 2**20:.1f} MB)")
    print(f"  step by step, every signal : {ours_steps[0][0] * 1e3:7.1f} ms CPU; "
          f"xlstm recurrent step loop {ours_steps[1][0] * 1e3:7.1f} ms -> "
          f"{ratio(*ours_steps)}")
    print(f"  closed form, every signal  : {ours_par[0][0] * 1e3:7.1f} ms CPU; "
          f"xlstm parallel (h only)   {ours_par[1][0] * 1e3:7.1f} ms -> "
          f"{ratio(*ours_par)}")
    print(f"  forward + backward         : {both[0][0] * 1e3:7.1f} ms CPU; "
          f"xlstm parallel + autograd {both[1][0] * 1e3:7.1f} ms -> {ratio(*both)}")
    print(f"  closed form vs recurrence, max |diff| over every signal (float32): "
          f"{cell.parallel_max_abs_diff(xs):.2e}")



def bench_lm(T: int = 256, E: int = 128, blocks: int = 4) -> None:
    """A whole xLSTM LM (mLSTM blocks, an sLSTM block at 1; random weights): our BlockModel
    recording every block's parts and cell signals against the library's forward."""
    import tempfile

    from safetensors.torch import save_file
    from xlstm import (
        FeedForwardConfig,
        mLSTMBlockConfig,
        mLSTMLayerConfig,
        sLSTMBlockConfig,
        sLSTMLayerConfig,
        xLSTMLMModel,
        xLSTMLMModelConfig,
    )

    import cells

    config = xLSTMLMModelConfig(
        mlstm_block=mLSTMBlockConfig(mlstm=mLSTMLayerConfig(num_heads=4)),
        slstm_block=sLSTMBlockConfig(slstm=sLSTMLayerConfig(backend="vanilla", num_heads=4,
                                                            dtype="float32"),
                                     feedforward=FeedForwardConfig(proj_factor=1.3)),
        context_length=T, num_blocks=blocks, embedding_dim=E, slstm_at=[1], vocab_size=256)
    torch.manual_seed(0)
    module = xLSTMLMModel(config).float().eval()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "lm.safetensors"
        save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
        model = cells.load_model(path)
    ids = np.random.default_rng(1).integers(0, 256, T)

    def theirs():
        with torch.no_grad():
            return module(torch.from_numpy(ids)[None])

    result = timed(lambda: model.run(ids)["logits"], theirs, repeats=2)
    diff = np.abs(model.run(ids)["logits"] - theirs()[0].numpy()).max()
    print(f"xLSTM LM, {blocks} blocks (sLSTM at 1), E={E}, T={T}: ours {result[0][0]:.2f} s "
          f"CPU, xlstm forward {result[1][0]:.2f} s -> {ratio(*result)}; "
          f"max |logit diff| {diff:.1e}")


def main() -> None:
    for config in CONFIGS:
        bench_config(*config)
    bench_lm()

if __name__ == "__main__":
    main()
