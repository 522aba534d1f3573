"""A training job of every kind is costed at submit (minGRU and minLSTM have no weight_hh:
the cost reads the gates from weight_ih), and a costly one is refused by what to shrink."""

from __future__ import annotations

import pytest

import cells
from app.core.settings import Settings
from app.errors import ApiError
from app.schemas import TrainCreate
from app.sessions.costs import check_training_costs

TEXT = "count (the (nested) brackets) ((ok)) done"


@pytest.mark.parametrize("kind", cells.KINDS)
def test_every_kind_is_costed(kind):
    settings = Settings()
    check_training_costs(settings, TrainCreate(text=TEXT, cell=kind, batch=4))
    huge = TrainCreate(text=TEXT, cell=kind, hidden_size=1024, layers=4, steps=1_000_000,
                       seq_len=512, batch=64)
    with pytest.raises(ApiError, match=r"over this server's limit .*; use "):
        check_training_costs(settings, huge)
