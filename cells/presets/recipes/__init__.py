"""The scripts that make the trained presets (run them all with `make presets`).

Each recipe is deterministic: the same interpreter, numpy and arguments give the same
weights bit for bit. Each writes `cells/presets/data/<name>/`: `model.safetensors`,
`meta.json` (what was measured, which data trained it and which was held out) and
`train.log`.
"""
