"""cells.char_model and cells.train: learning, determinism, stopping, both losses, errors."""

import numpy as np
import pytest

import cells

TEXT = ("the quick brown fox jumps over the lazy dog. " * 3
        + "a stitch in time saves nine; look before you leap. " * 3) * 4


def held_out_loss(model, text):
    """Mean next-character cross-entropy of a model on text (computed with the model's run,
    not with the training code)."""
    probs = model.run(text[:-1])["probs"]
    ids = model.encoder.ids(text[1:])
    return float(-np.log(probs[np.arange(len(ids)), ids]).mean())


def test_char_model_shape():
    model = cells.char_model("gru", "abc", 8, layers=2, seed=1, reset_after=False)
    assert model.layers == 2 and model.directions == ("forward",)
    assert model.vocabulary == ("a", "b", "c") and model.head.activation == "softmax"
    assert model.cell(1).options == {"reset_after": False} and model.cell(1).input_size == 8
    assert model.dtype == np.float32
    other = cells.char_model("gru", "abc", 8, layers=2, seed=2, reset_after=False)
    assert not np.array_equal(model.cell(0).params["weight_ih"],
                              other.cell(0).params["weight_ih"])
    with pytest.raises(ValueError, match="unknown cell kind"):
        cells.char_model("transformer", "abc", 8)


@pytest.mark.parametrize("kind", cells.KINDS)
def test_a_short_run_lowers_the_loss_for_every_kind(kind):
    vocabulary = cells.text.derive_vocabulary(TEXT)
    model = cells.char_model(kind, vocabulary, 32, seed=0)
    before = held_out_loss(model, TEXT)
    result = cells.train(model, TEXT, steps=60, seq_len=32, batch=8, lr=1e-2)
    after = held_out_loss(result.model, TEXT)
    assert after < before - 0.5, (before, after)
    assert [s for s, _ in result.losses] == list(range(1, 61))
    assert np.mean([v for _, v in result.losses[-10:]]) < result.losses[0][1]
    assert result.seconds > 0
    # the model given is left as it was
    assert held_out_loss(model, TEXT) == before


def test_same_seed_same_weights_bit_for_bit():
    model = cells.char_model("lstm", cells.text.derive_vocabulary(TEXT), 16, layers=2)

    def weights(seed):
        trained = cells.train(model, TEXT, steps=25, seq_len=16, batch=4, seed=seed).model
        return [c.params[k] for layer in trained.stack for c in layer.cells.values()
                for k in sorted(c.params)] + [trained.head.weight, trained.head.bias]

    first, again, other = weights(0), weights(0), weights(1)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_on_progress_returning_false_stops():
    model = cells.char_model("rnn", "ab ", 8)
    seen = []

    def progress(step, loss):
        seen.append((step, loss))
        return step < 7

    result = cells.train(model, "ab ba ab " * 20, steps=100, seq_len=8, batch=2,
                         on_progress=progress)
    assert [s for s, _ in seen] == list(range(1, 8))
    assert result.losses == seen
    # None (or anything but False) goes on
    assert len(cells.train(model, "ab ba " * 20, steps=5, seq_len=4, batch=2,
                           on_progress=lambda s, v: None).losses) == 5


def test_mse_on_number_sequences_learns_a_delayed_copy():
    """(xs, ys) numbers: y_t = x_{t−2}, learnt by a GRU with a linear head (MSE)."""
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(4000, 1))
    ys = np.zeros_like(xs)
    ys[2:] = xs[:-2]
    model = cells.Model([{"forward": cells.create("gru", input_size=1, hidden_size=16)}],
                        head=cells.models.Head(np.zeros((1, 16), np.float32),
                                               np.zeros(1, np.float32)))
    result = cells.train(model, (xs, ys), steps=300, seq_len=20, batch=16, lr=1e-2)
    test_x = rng.normal(size=(300, 1))
    prediction = result.model.run(test_x)["logits"][:, 0]
    error = np.mean((prediction[2:] - test_x[:-2, 0]) ** 2)
    assert result.losses[0][1] > 0.5 and error < 0.1, error


def test_class_targets_on_many_sequences():
    """(N, T) ids with class ids, −1 not scored: the last step names the first token."""
    rng = np.random.default_rng(1)
    xs = rng.integers(0, 3, (256, 6))
    ys = np.full_like(xs, -1)
    ys[:, -1] = xs[:, 0]
    model = cells.char_model("lstm", "abc", 16, seed=2)
    result = cells.train(model, (xs, ys), steps=150, seq_len=6, batch=32, lr=1e-2)
    test = rng.integers(0, 3, (100, 6))
    right = [np.argmax(result.model.run(row)["probs"][-1]) == row[0] for row in test]
    assert np.mean(right) > 0.95


def test_bad_input_is_named():
    model = cells.char_model("lstm", "ab", 4)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        cells.train(model, "abc", steps=1)
    with pytest.raises(ValueError, match="steps must be at least 1"):
        cells.train(model, "abab", steps=0)
    with pytest.raises(ValueError, match="fewer than batch"):
        cells.train(model, "abab", steps=1, batch=32)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        cells.train(model, "abab", steps=1, batch=1, lr=-1)
    with pytest.raises(ValueError, match="class targets ys have shape"):
        cells.train(model, (np.array([0, 1, 0]), np.array([1, 0])), steps=1)
    with pytest.raises(ValueError, match="a cells.Model"):
        cells.train(model.cell(0), "abab", steps=1)
    bidirectional = cells.Model([{"forward": cells.create("rnn", input_size=2, hidden_size=3),
                                  "backward": cells.create("rnn", input_size=2,
                                                           hidden_size=3)}],
                                cells.models.Encoder("one_hot", 2, ("a", "b"), "chars"),
                                cells.models.Head(np.zeros((2, 6), np.float32),
                                                  np.zeros(2, np.float32), "softmax"))
    with pytest.raises(ValueError, match="bidirectional model sees the next character"):
        cells.train(bidirectional, "abab", steps=1, batch=1)


def test_clipping_scales_the_global_norm_and_adam_matches_torch():
    import torch

    from cells.training.adam import Adam, clip_global_norm

    rng = np.random.default_rng(3)
    grads = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=5) * 10}
    norm = np.sqrt(sum((g ** 2).sum() for g in grads.values()))
    assert clip_global_norm({k: v.copy() for k, v in grads.items()}, None) == pytest.approx(norm)
    clipped = {k: v.copy() for k, v in grads.items()}
    clip_global_norm(clipped, 1.0)
    assert np.sqrt(sum((g ** 2).sum() for g in clipped.values())) == pytest.approx(1.0, abs=1e-5)
    # three Adam steps on the clipped gradients equal torch.optim.Adam's
    params = {k: rng.normal(size=v.shape) for k, v in grads.items()}
    theirs = [torch.tensor(params[k], requires_grad=True) for k in ("a", "b")]
    optimizer = torch.optim.Adam(theirs, lr=0.01)
    ours = Adam({k: v.copy() for k, v in params.items()}, lr=0.01)
    for step in range(3):
        g = {k: v * (step + 1) for k, v in grads.items()}
        ours.step({k: v.copy() for k, v in g.items()})
        for tensor, k in zip(theirs, ("a", "b"), strict=True):
            tensor.grad = torch.from_numpy(g[k].copy())
        optimizer.step()
    for tensor, k in zip(theirs, ("a", "b"), strict=True):
        np.testing.assert_allclose(ours.params[k], tensor.detach().numpy(), rtol=1e-12,
                                   atol=1e-12)


def test_a_projected_lstm_is_refused_by_name():
    import torch

    model = cells.from_torch(torch.nn.LSTM(3, 4, proj_size=2))
    with pytest.raises(ValueError, match="ProjectedLSTM; training supports the engine's"):
        cells.train(model, (np.zeros((10, 3)), np.zeros((10, 2))), steps=1)
