"""Several workers share the cores: each one's BLAS gets its part, unless the user says."""

from __future__ import annotations

import os

from app.core.cli import share_blas_threads
from app.core.settings import BLAS_THREAD_VARIABLES


def test_each_worker_gets_its_share_of_the_cores(monkeypatch):
    for name in BLAS_THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    share_blas_threads(4)
    assert {os.environ[name] for name in BLAS_THREAD_VARIABLES} == {"2"}


def test_more_workers_than_cores_get_one_thread_and_a_given_count_stays(monkeypatch):
    for name in BLAS_THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    share_blas_threads(4)
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1" and os.environ["OMP_NUM_THREADS"] == "1"
    assert os.environ["MKL_NUM_THREADS"] == "3"
