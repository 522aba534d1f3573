"""selective-copy-mamba: a small Mamba language model trained on the selective copying task
of "Mamba: Linear-Time Sequence Modeling with Selective State Spaces" (Gu and Dao 2023).

The task: a row of 20 places holds 4 symbols of "abcdefgh" at random places, the rest is the
filler "."; then comes "|", and the model must write the 4 symbols in the order they came.
Where the symbols sit changes from row to row, so no fixed convolution or time-invariant
filter can do it: the model has to decide, token by token, what to keep. That is what Δ is
for: a large Δ opens the write (Δ·B·x) and closes the retention (exp(ΔA) → 0) at a symbol,
a small Δ on the filler lets the state keep what it holds.

Trained with PyTorch and mambapy (the pure-PyTorch reference Mamba; test extra), on CPU,
with one thread and fixed seeds; read into gatescope by cells.load_model from mambapy's own
state dict and written as the preset. Nothing here runs when the preset is used.

Run: .venv/bin/python -m cells.presets.recipes.selective_copy [--steps N]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from .common import TrainingLog, one_blas_thread, write_preset

NAME = "selective-copy-mamba"
FILLER, SEPARATOR, SYMBOLS = ".", "|", "abcdefgh"
VOCABULARY = FILLER + SEPARATOR + SYMBOLS
PLACES, COPIED = 20, 4
LENGTH = PLACES + 1 + COPIED  # the row, "|", the copy
D_MODEL, LAYERS, D_STATE, EXPAND, D_CONV = 32, 2, 8, 2, 4
STEPS, BATCH, LR, SEED = 800, 64, 3e-3, 0
HELDOUT_SEQUENCES = 1000
DATA_SEEDS = {"train": 1, "heldout": 2}


def sequences(count: int, seed: int) -> list[str]:
    """`count` rows as text: PLACES places with COPIED symbols among filler, "|", the copy."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        places = np.sort(rng.choice(PLACES, COPIED, replace=False))
        symbols = rng.choice(list(SYMBOLS), COPIED)
        row = [FILLER] * PLACES
        for place, symbol in zip(places, symbols, strict=True):
            row[place] = symbol
        out.append("".join(row) + SEPARATOR + "".join(symbols))
    return out


def ids(texts: list[str]) -> np.ndarray:
    index = {ch: k for k, ch in enumerate(VOCABULARY)}
    return np.array([[index[ch] for ch in text] for text in texts])


def scored(length: int) -> slice:
    """The inputs whose next token is scored: "|" and the copied symbols but the last."""
    return slice(PLACES, length - 1)


def language_model(vocabulary_size: int, **sizes):
    """mambapy's LM as its lm.py builds it (embedding, `mamba` stack, norm_f, lm_head, the
    same tensor names), without importing lm.py: that module also imports Mamba-2, which
    needs the CUDA-only mamba_ssm."""
    import torch
    from mambapy.mamba import Mamba, MambaConfig, RMSNorm

    class LM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            config = MambaConfig(**sizes)
            self.embedding = torch.nn.Embedding(vocabulary_size, config.d_model)
            self.mamba = Mamba(config)
            self.norm_f = RMSNorm(config.d_model, config.rms_norm_eps)
            self.lm_head = torch.nn.Linear(config.d_model, vocabulary_size, bias=False)

        def forward(self, tokens):
            return self.lm_head(self.norm_f(self.mamba(self.embedding(tokens))))

    return LM()


def train(steps: int, log: TrainingLog):
    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    model = language_model(len(VOCABULARY), d_model=D_MODEL, n_layers=LAYERS,
                           d_state=D_STATE, expand_factor=EXPAND, d_conv=D_CONV, pscan=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    data = ids(sequences(BATCH * steps, DATA_SEEDS["train"]))
    where = scored(LENGTH)
    for step in range(1, steps + 1):
        batch = torch.from_numpy(data[(step - 1) * BATCH:step * BATCH])
        logits = model(batch[:, :-1])[:, where]
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, len(VOCABULARY)), batch[:, where.start + 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        log.progress(step, loss.item())
    return model


def accuracy(model, texts: list[str]) -> tuple[float, float]:
    """(symbols copied right, rows copied whole right): the most probable next character
    after "|" and after each copied symbol, by gatescope's run of the model."""
    right = rows = 0
    for text in texts:
        probs = model.run(text)["probs"][scored(len(text))]
        guessed = "".join(model.vocabulary[int(k)] for k in probs.argmax(axis=1))
        hits = sum(a == b for a, b in zip(guessed, text[PLACES + 1:], strict=True))
        right += hits
        rows += hits == COPIED
    return right / (COPIED * len(texts)), rows / len(texts)


def main() -> None:
    one_blas_thread(__spec__.name)
    import torch
    from safetensors.torch import save_file

    import cells

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=STEPS)
    args = parser.parse_args()
    log = TrainingLog(NAME, by="PyTorch and mambapy")
    log.add(f"# mambapy LM d_model {D_MODEL}, {LAYERS} layers, d_state {D_STATE}, expand "
            f"{EXPAND}, d_conv {D_CONV}; steps {args.steps}, batch {BATCH}, Adam lr {LR}, seed "
            f"{SEED}; torch {torch.__version__}, one thread")
    trained = train(args.steps, log)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.safetensors"
        save_file({k: v.detach().contiguous() for k, v in trained.state_dict().items()},
                  str(path))
        model = cells.load_model(path, vocabulary=VOCABULARY)
    heldout = sequences(HELDOUT_SEQUENCES, DATA_SEEDS["heldout"])
    symbols, whole = accuracy(model, heldout)
    log.add(f"# trained in {log.seconds:.1f} s; held-out symbols copied {symbols:.4f}, rows "
            f"copied whole {whole:.4f}")
    meta = {
        "name": NAME, "kind": "mamba", "hidden_size": D_MODEL, "layers": LAYERS,
        "description": (
            f"A Mamba language model ({LAYERS} layers, d_model {D_MODEL}, {D_STATE} states per "
            f"channel) trained here with PyTorch and mambapy on selective copying (Gu and "
            f"Dao 2023, \"Mamba\"): {COPIED} symbols of '{SYMBOLS}' sit at random places "
            f"among {PLACES} places of filler '{FILLER}', and after '{SEPARATOR}' the model "
            f"writes them in order. On {HELDOUT_SEQUENCES} held-out rows it copies "
            f"{symbols:.1%} of the symbols and {whole:.1%} of the rows whole (chance: 12.5% "
            f"a symbol). Δ, the selectivity knob, decides at every token what to keep."),
        "sample": heldout[0],
        "metrics": {"symbols": symbols, "rows": whole},
        "task": {"filler": FILLER, "separator": SEPARATOR, "symbols": SYMBOLS,
                 "places": PLACES, "copied": COPIED, "data_seeds": DATA_SEEDS},
        "training": {"steps": args.steps, "batch": BATCH, "lr": LR, "seed": SEED,
                     "library": "mambapy", "d_model": D_MODEL, "layers": LAYERS,
                     "d_state": D_STATE, "expand": EXPAND, "d_conv": D_CONV},
    }
    write_preset(NAME, model, meta, log, {"heldout.txt": "\n".join(heldout) + "\n"})


if __name__ == "__main__":
    main()
