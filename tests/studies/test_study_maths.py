"""The studies' numbers against explicit per-point loops."""
from __future__ import annotations

import math

import numpy as np
import pytest

from benchbed.studies.maths import energy_row, sign_turn, top_logit_raised


def test_energy_row_matches_a_loop_over_points():
    rng = np.random.default_rng(0)
    nat, adv = rng.normal(size=(30, 5)) * 3, rng.normal(size=(30, 5)) * 3
    y = rng.integers(0, 5, size=30)
    e = lambda z: -math.log(sum(math.exp(v) for v in z))  # noqa: E731
    e_nat, e_adv = [e(r) for r in nat], [e(r) for r in adv]
    gaps = [a - b for a, b in zip(e_nat, e_adv)]
    joint_gaps = [-nat[i, y[i]] + adv[i, y[i]] for i in range(30)]
    row = energy_row(nat, adv, y)
    assert row["points"] == 30
    assert row["E_nat_mean"] == pytest.approx(sum(e_nat) / 30)
    assert row["dE_mean"] == pytest.approx(sum(gaps) / 30)
    assert row["dE_std"] == pytest.approx(float(np.std(gaps)))
    assert row["dJ_mean"] == pytest.approx(sum(joint_gaps) / 30)
    assert row["robust_accuracy"] == pytest.approx(100 * sum(int(np.argmax(adv[i]) == y[i]) for i in range(30)) / 30)
    flipped = sum(int(np.argmax(adv[i]) != np.argmax(nat[i])) for i in range(30))
    assert row["flipped"] == pytest.approx(100 * flipped / 30)
    assert row["top_raised"] == pytest.approx(100 * sum(int(max(adv[i]) > max(nat[i])) for i in range(30)) / 30)
    assert row["dE_positive"] == pytest.approx(100 * sum(int(g > 0) for g in gaps) / 30)


def test_a_flipped_prediction_with_a_lower_top_logit_raises_the_energy():
    # the true class 0 falls from 5 to 2, class 1 rises from 1 to 3: flipped, but the top logit fell
    nat, adv = np.array([[5.0, 1.0, 0.0]]), np.array([[2.0, 3.0, 0.0]])
    row = energy_row(nat, adv, np.array([0]))
    assert row["flipped"] == 100 and not top_logit_raised(nat, adv)[0] and row["dE_mean"] < 0


def test_sign_turn_interpolates_the_first_crossing():
    assert sign_turn([0, 0.1, 0.2, 0.3], [0, -4, -2, 2]) == pytest.approx(0.25)
    assert sign_turn([0, 0.1], [0, -1]) is None
