"""The trained presets: they load, their recorded measurements are recomputed here from the
held-out data they ship with (features by this file's own reading of `tokenize`), and their
recipes are deterministic (a few steps, twice)."""

import hashlib
import io
import tokenize

import numpy as np
import pytest

import cells
from cells.presets import trained
from cells.presets.recipes import long_memory, python_source
from cells.presets.trained import DATA
from cells.presets.trained import meta as recorded

TRAINED = ("python-source", "long-memory-lstm", "long-memory-gru", "long-memory-rnn")



def test_every_trained_preset_is_offered_after_the_counter():
    lab = sorted(p.parent.name for p in DATA.glob("lab-*/model.safetensors"))  # cells.lab's
    assert cells.presets.names() == ["counter", *TRAINED, "selective-copy-mamba", *lab]


@pytest.mark.parametrize("name", TRAINED)
def test_a_trained_preset_loads_as_a_model_and_a_cell(name):
    preset = cells.presets.get(name)
    model = preset.model
    assert isinstance(model, cells.Model) and preset.cell is model.cell(0, "forward")
    assert "".join(model.vocabulary) == preset.vocabulary
    assert preset.cell.input_size == len(preset.vocabulary)
    rows = preset.encode(preset.sample)
    assert rows.shape == (len(preset.sample), len(preset.vocabulary))
    np.testing.assert_array_equal(preset.cell.run(rows)["h"],
                                  model.run(preset.sample).layer(0)["h"])
    assert "Hochreiter" in preset.description or "Karpathy" in preset.description
    for file in ("model.safetensors", "meta.json", "train.log"):
        assert (DATA / name / file).is_file()
    assert "step " in (DATA / name / "train.log").read_text()
    wide = cells.presets.get(name, dtype="float64")
    assert wide.cell.dtype == np.float64 and wide.model.dtype == np.float64


# -- python-source: units measured on held-out files -----------------------------------


def reference_features(text):
    """in_string, in_comment, bracket_depth, indent, line_position after each character,
    marked line by line from the tokens' (row, col) spans."""
    lines = text.splitlines(keepends=True)
    per_line = {k: [np.zeros(len(line)) for line in lines]
                for k in ("in_string", "in_comment", "bracket")}

    def mark(kind, start, end, value=1.0):
        (r0, c0), (r1, c1) = start, end
        for row in range(r0, r1 + 1):
            a = c0 if row == r0 else 0
            b = c1 if row == r1 else len(lines[row - 1])
            per_line[kind][row - 1][a:b] = value

    fstrings = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        name = tokenize.tok_name[tok.type]
        if name == "FSTRING_START":
            fstrings.append(tok.start)
        elif name == "FSTRING_END":
            start = fstrings.pop()
            if not fstrings:
                mark("in_string", start, tok.end)
        elif fstrings:
            pass
        elif name == "STRING":
            mark("in_string", tok.start, tok.end)
        elif name == "COMMENT":
            mark("in_comment", tok.start, tok.end)
        elif name == "OP" and tok.string in "([{)]}":
            row, col = tok.start
            per_line["bracket"][row - 1][col] = 1 if tok.string in "([{" else -1
    out = {"in_string": np.concatenate(per_line["in_string"]),
           "in_comment": np.concatenate(per_line["in_comment"]),
           "bracket_depth": np.cumsum(np.concatenate(per_line["bracket"]))}
    indent, position = [], []
    for line in lines:
        spaces = 0
        leading = True
        for k, ch in enumerate(line):
            if leading and ch == " ":
                spaces += 1
            else:
                leading = False
            indent.append(spaces)
            position.append(0 if ch == "\n" else k + 1)
    out["indent"], out["line_position"] = np.array(indent), np.array(position)
    return out


def test_reference_features_on_a_small_text():
    text = 'x = f(a, "b(")  # c)\n    y = [1,\n  2]\ns = f"{x[0]}!"\n'
    got = reference_features(text)
    assert got["in_string"][text.index('"b(')] == 1 and got["in_string"][0] == 0
    assert got["in_comment"][text.index("# c)")] == 1
    assert got["bracket_depth"][text.index("a")] == 1 and got["bracket_depth"][20] == 0
    assert got["bracket_depth"][text.index("2]")] == 1
    assert got["indent"][text.index("y")] == 4 and got["line_position"][text.index("y")] == 5
    assert got["in_string"][text.index("x[0]")] == 1  # an f-string's field is in the string
    ours = python_source.features(text)
    for name, values in got.items():
        np.testing.assert_array_equal(ours[name], values, err_msg=name)


def pearson(a, b):
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a @ a) * (b @ b))
    return 0.0 if denominator == 0 else float(a @ b / denominator)


def test_python_source_units_are_what_the_held_out_files_measure():
    preset = cells.presets.get("python-source")
    meta = recorded("python-source")
    assert set(meta["train_files"]).isdisjoint(meta["heldout_files"])
    assert list(meta["train_files"]) == sorted(meta["train_files"])
    texts = []
    for name, digest in meta["heldout_files"].items():
        text = (DATA / "python-source" / "heldout" / f"{name}.txt").read_text()
        assert hashlib.sha256(text.encode()).hexdigest() == digest
        texts.append(text)
    runs = [preset.model.run(text).layer(0) for text in texts]
    feats = [reference_features(text) for text in texts]
    assert len(preset.units) >= 2
    strong = 0
    for unit, info in preset.units.items():
        assert info["layer"] == 0 and info["signal"] in ("c", "h")
        signal = np.concatenate([run[info["signal"]][:, unit] for run in runs]).astype(float)
        feature = np.concatenate([f[info["feature"]] for f in feats]).astype(float)
        r = pearson(signal, feature)
        assert abs(r - info["correlation"]) < 1e-6, (unit, info, r)
        strong += abs(r) >= 0.5
        assert preset.unit_labels[unit] == info["label"]
    assert strong >= 2
    assert len({info["feature"] for info in preset.units.values()}) == len(preset.units)


# -- long-memory: accuracy on held-out sequences ---------------------------------------


# The long-memory presets the registry names, one per kind.
LONG_MEMORY_KINDS = [name.removeprefix("long-memory-") for name in trained.ORDER
                     if name.startswith("long-memory-")]


@pytest.mark.parametrize("kind", LONG_MEMORY_KINDS)
def test_long_memory_accuracy_is_what_the_held_out_sequences_measure(kind):
    preset = cells.presets.get(f"long-memory-{kind}")
    texts = (DATA / f"long-memory-{kind}" / "heldout.txt").read_text().split()
    assert len(texts) == 1000 and all(len(t) == 62 and t[-1] == "?" for t in texts)
    train_xs, _ = long_memory.arrays(long_memory.sequences(long_memory.TRAIN_SEQUENCES,
                                                           long_memory.DATA_SEEDS["train"]))
    train = {"".join(long_memory.VOCABULARY[k] for k in row) for row in train_xs}
    assert not train & set(texts)  # held out: none of them was trained on
    right = 0
    for text in texts:
        probs = preset.model.run(text)["probs"][-1]
        right += preset.vocabulary[int(np.argmax(probs))] == text[0]
    accuracy = right / len(texts)
    assert abs(accuracy - preset.metrics["accuracy"]) < 1e-12
    if kind == "rnn":
        assert accuracy < 0.9
    else:
        assert accuracy >= 0.9


# -- the recipes are deterministic --------------------------------------------------------


def weights(model):
    return [a for layer in model.stack for c in layer.cells.values()
            for _, a in sorted(c.params.items())] + [model.head.weight, model.head.bias]


def test_python_source_recipe_is_deterministic():
    first, _ = python_source.build(steps=3)
    again, _ = python_source.build(steps=3)
    assert all(np.array_equal(a, b) for a, b in zip(weights(first.model), weights(again.model),
                                                     strict=True))
    assert first.losses == again.losses


@pytest.mark.parametrize("kind", ["lstm", "rnn"])
def test_long_memory_recipe_is_deterministic(kind):
    first, again = (long_memory.build(kind, steps=3) for _ in range(2))
    assert all(np.array_equal(a, b) for a, b in zip(weights(first.model), weights(again.model),
                                                     strict=True))
    assert first.losses == again.losses


# -- the server opens them as it opens the counter -----------------------------------------


def test_the_server_opens_every_trained_preset(tmp_path):
    from fastapi.testclient import TestClient

    from app.core.settings import Settings
    from app.main import create_app

    settings = Settings(data_dir=tmp_path / "data", allowed_hosts=("testserver",))
    with TestClient(create_app(settings)) as client:
        listed = {p["name"]: p for p in client.get("/api/presets").json()["presets"]}
        for name in TRAINED:
            preset = cells.presets.get(name)
            assert listed[name]["hidden_size"] == preset.cell.hidden_size
            response = client.post("/api/sessions", json={
                "preset": name, "sequence": {"text": preset.sample}})
            assert response.status_code == 201, response.text
            session = response.json()
            trace = client.get(f"/api/sessions/{session['id']}/trace",
                               params={"start": 0, "stop": 5}).json()
            np.testing.assert_allclose(trace["signals"]["h"],
                                       preset.cell.run(preset.encode(preset.sample))["h"][:5],
                                       rtol=1e-6, atol=1e-6)


# -- selective-copy-mamba: a Mamba LM trained by PyTorch and mambapy ------------------------


def test_the_selective_copy_mamba_copies_the_held_out_rows_it_recorded():
    from cells.presets.recipes import selective_copy

    preset = cells.presets.get("selective-copy-mamba")
    model = preset.model
    assert [model.cell(k).kind for k in range(model.layers)] == ["mamba", "mamba"]
    assert all(layer.block is not None for layer in model.stack) and model.final_norm
    rows = (DATA / "selective-copy-mamba" / "heldout.txt").read_text().split()
    assert len(rows) == selective_copy.HELDOUT_SEQUENCES
    assert rows == selective_copy.sequences(len(rows), selective_copy.DATA_SEEDS["heldout"])
    symbols, whole = selective_copy.accuracy(model, rows[:200])
    assert recorded("selective-copy-mamba")["metrics"] == {"symbols": 1.0, "rows": 1.0}
    assert (symbols, whole) == (1.0, 1.0)


def test_the_selective_copy_recipe_is_deterministic():
    from cells.presets.recipes import selective_copy
    from cells.presets.recipes.common import TrainingLog

    states = [{k: v.detach().numpy().copy() for k, v in
               selective_copy.train(3, TrainingLog("x", echo=False)).state_dict().items()}
              for _ in range(2)]
    assert states[0].keys() == states[1].keys()
    for name in states[0]:
        np.testing.assert_array_equal(states[0][name], states[1][name])
