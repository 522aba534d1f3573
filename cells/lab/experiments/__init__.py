"""The lab's experiments, by name: each a module with NAME, TITLE, SOURCE, ABOUT, ARMS,
LABELS, LRS, TRIALS, PRIMARY, LOWER_BETTER, PAPER and settings(mini), trial(arm, lr, seed,
settings), conclusions(results), preset_story(arm, best, settings)."""

from . import counting, dyck1, forget_bias, parity, written_memories

EXPERIMENTS = {m.NAME: m for m in (written_memories, counting, dyck1, forget_bias, parity)}
