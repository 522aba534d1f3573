"""Model.state_sizes: the starting state run() takes per layer and direction (the page
asks the server for these widths instead of working them out)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import cells


def test_a_projected_bidirectional_stack_takes_h_as_wide_as_the_projection():
    model = cells.from_torch(torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True,
                                           proj_size=2))
    assert model.state_sizes() == {(layer, d): {"h": 2, "c": 5} for layer in (0, 1)
                                   for d in ("forward", "backward")}
    model.run(np.zeros((2, 3)), h0=np.ones((4, 2)), c0=np.ones((4, 5)))  # those widths run


def test_kinds_say_only_the_states_they_have():
    sizes = {kind: cells.Model([{"forward": cells.create(kind, input_size=2, hidden_size=3)}])
             .state_sizes()
             for kind in ("gru", "lstm", "prototype_lstm")}
    assert sizes == {"gru": {(0, "forward"): {"h": 3}},
                     "lstm": {(0, "forward"): {"h": 3, "c": 3}},
                     "prototype_lstm": {(0, "forward"): {"c": 3}}}
    mamba = cells.Model([{"forward": cells.create("mamba", input_size=2, hidden_size=3)}])
    assert mamba.state_sizes() == {(0, "forward"): {}}  # its h is channels × N, not a row
    with pytest.raises(ValueError, match=r"h0 given, but layer 0 forward is a mamba, whose h "
                                         r"has shape \(6, 16\), not one row \(give it with "
                                         r"state=\)"):
        mamba.run(np.zeros((2, 2)), h0=np.zeros(3))
    with pytest.raises(ValueError, match=r"h0 given, but layer 0 forward is a "
                                         r"prototype_lstm, whose state is only c"):
        cells.Model([{"forward": cells.create("prototype_lstm", input_size=2, hidden_size=3)}]).run(
            np.zeros((2, 2)), h0=np.zeros(3))
