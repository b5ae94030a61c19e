"""The same command twice gives identical numbers, on the embedded digits track."""
from __future__ import annotations

import numpy as np
import pytest

from benchbed.results.store import ResultsStore

from .conftest import MODELS


@pytest.mark.slow
def test_same_command_twice_gives_identical_numbers_on_the_digits_track(run, tmp_path):
    # digits-linf with every metric it lists (standard AutoAttack, energy, generative), quick mode
    first = run(tmp_path / "a", track="digits-linf", models=MODELS[:1], n_examples=20)
    second = run(tmp_path / "b", track="digits-linf", models=MODELS[:1], n_examples=20)
    assert not first.failed and not second.failed
    a, b = first.records[0], second.records[0]
    assert a.metrics == b.metrics  # exactly, every column
    assert a.attack == b.attack and a.metric_info == b.metric_info and a.result_key == b.result_key
    arrays_a = ResultsStore(tmp_path / "a").arrays(a)
    arrays_b = ResultsStore(tmp_path / "b").arrays(b)
    assert sorted(arrays_a) == sorted(arrays_b) and "robust" in arrays_a
    for name in arrays_a:
        assert np.array_equal(arrays_a[name], arrays_b[name], equal_nan=True), name
