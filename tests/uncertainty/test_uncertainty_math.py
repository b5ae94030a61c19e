"""The interval and paired-test maths against independent references (scipy, statsmodels, hand loops)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from benchbed.functional import uncertainty as u

proportion = pytest.importorskip("statsmodels.stats.proportion")
contingency = pytest.importorskip("statsmodels.stats.contingency_tables")

COUNTS = [(0, 10), (1, 10), (5, 10), (10, 10), (437, 449), (409, 449), (3, 30)]


@pytest.mark.parametrize("k,n", COUNTS)
@pytest.mark.parametrize("level", [0.95, 0.9])
def test_wilson_matches_statsmodels(k, n, level):
    low, high = u.wilson_interval(k, n, level)
    ref = proportion.proportion_confint(k, n, alpha=1 - level, method="wilson")
    assert (low, high) == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize("k,n", COUNTS)
def test_exact_matches_scipy_binomtest_and_statsmodels(k, n):
    low, high = u.exact_interval(k, n, 0.95)
    ci = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
    assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-10)
    assert (low, high) == pytest.approx(proportion.proportion_confint(k, n, method="beta"), abs=1e-10)


def test_bad_counts_and_levels_are_one_line_errors():
    with pytest.raises(ValueError, match="0 <= k <= n"):
        u.wilson_interval(5, 3)
    with pytest.raises(ValueError, match="level"):
        u.exact_interval(1, 3, 95)


def test_bootstrap_matches_a_hand_written_loop():
    rng = np.random.default_rng(7)
    x = rng.normal(size=40)
    y = rng.normal(size=40) + x
    statistic = lambda a, b: float(np.mean(b - a) / np.std(a))  # noqa: E731 -- any statistic of paired arrays
    low, high = u.bootstrap_interval(statistic, [x, y], resamples=200, seed=3)
    # the reference: draw the same indices row by row, recompute, take the percentiles
    draws = np.random.default_rng(3).integers(0, 40, size=(200, 40))
    values = []
    for row in draws:
        values.append(statistic(x[row], y[row]))
    ref = np.quantile(values, [0.025, 0.975])
    assert (low, high) == pytest.approx(tuple(ref), abs=1e-12)
    assert low < statistic(x, y) < high


def test_bootstrap_is_seeded_and_drops_undefined_resamples():
    x = np.arange(30, dtype=float)
    assert u.bootstrap_interval(np.mean, [x], seed=1) == u.bootstrap_interval(np.mean, [x], seed=1)
    assert u.bootstrap_interval(np.mean, [x], seed=1) != u.bootstrap_interval(np.mean, [x], seed=2)
    # a statistic that is mostly undefined gives no interval rather than one from a few resamples
    assert u.bootstrap_interval(lambda a: math.nan, [x]) is None


def test_bootstrap_refuses_arrays_of_different_lengths():
    with pytest.raises(ValueError, match="one length"):
        u.bootstrap_interval(lambda a, b: 0.0, [np.zeros(3), np.zeros(4)])


PAIRS = [
    (np.array([1] * 30 + [1] * 8 + [0] * 2 + [0] * 10, bool), np.array([1] * 30 + [0] * 8 + [1] * 2 + [0] * 10, bool)),
    (np.array([1] * 5 + [0] * 5, bool), np.array([1] * 5 + [0] * 5, bool)),  # no discordant pair
    (np.array([1] * 100 + [1] * 20 + [0] * 3, bool), np.array([1] * 100 + [0] * 20 + [1] * 3, bool)),
]


@pytest.mark.parametrize("a,b", PAIRS)
def test_exact_mcnemar_matches_statsmodels(a, b):
    only_a, only_b, p = u.mcnemar_exact(a, b)
    table = [[int(np.sum(a & b)), int(np.sum(a & ~b))], [int(np.sum(~a & b)), int(np.sum(~a & ~b))]]
    ref = contingency.mcnemar(table, exact=True)
    assert (only_a, only_b) == (table[0][1], table[1][0])
    assert p == pytest.approx(min(1.0, ref.pvalue), abs=1e-12)


def test_paired_difference_follows_newcombe_from_statsmodels_wilson_bounds():
    a, b = PAIRS[0]
    n = a.size
    d, low, high = u.paired_proportion_difference(a, b)
    # Newcombe (1998) method 10, written out from statsmodels' Wilson bounds
    A, B, C, D = 30, 8, 2, 10
    p1, p2 = (A + B) / n, (A + C) / n
    l1, u1 = proportion.proportion_confint(A + B, n, method="wilson")
    l2, u2 = proportion.proportion_confint(A + C, n, method="wilson")
    phi = (A * D - B * C) / math.sqrt((A + B) * (C + D) * (A + C) * (B + D))
    ref_low = p1 - p2 - math.sqrt((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2)
    ref_high = p1 - p2 + math.sqrt((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2)
    assert d == pytest.approx(0.12)
    assert (low, high) == pytest.approx((ref_low, ref_high), abs=1e-12)
    assert low < d < high


def test_compare_accuracies_in_percent_with_mcnemar():
    a, b = PAIRS[2]
    res = u.compare_accuracies(a, b)
    assert res.difference == pytest.approx(100 * (120 - 103) / 123)
    assert res.low < res.difference < res.high
    assert res.p_value == pytest.approx(stats.binomtest(20, 23).pvalue)
    assert res.n == 123


def test_paired_bootstrap_uses_the_same_points_for_both_models():
    rng = np.random.default_rng(0)
    base = rng.normal(size=60)
    a, b = base + 0.5 + rng.normal(scale=0.1, size=60), base + rng.normal(scale=0.1, size=60)
    res = u.paired_bootstrap(np.mean, [a], [b], resamples=300, seed=4)
    draws = np.random.default_rng(4).integers(0, 60, size=(300, 60))
    diffs = np.array([a[r].mean() - b[r].mean() for r in draws])
    assert (res.low, res.high) == pytest.approx(tuple(np.quantile(diffs, [0.025, 0.975])), abs=1e-12)
    assert res.difference == pytest.approx(a.mean() - b.mean())
    # pairing removes the shared per-point spread: far narrower than two independent bootstraps
    ia = u.bootstrap_interval(np.mean, [a], resamples=300, seed=4)
    assert res.high - res.low < 0.5 * (ia[1] - ia[0])
    assert res.p_value == pytest.approx(2 / 301)  # no resample crosses 0
    same = u.paired_bootstrap(np.mean, [a], [a + rng.normal(scale=1e-3, size=60)], resamples=300)
    assert same.p_value > 0.05
