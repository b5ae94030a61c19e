"""Spearman's rho with p-value and interval, against scipy's exact permutation test and spearmanr."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from benchbed.functional.correlation import spearman_test

X7 = [91.1, 80.2, 0.0, 85.5, 88.0, 60.3, 75.0]
Y7 = [1.5, 2.1, 9.0, 1.9, 1.2, 3.3, 2.0]


def test_small_n_p_value_is_the_exact_permutation_test():
    res = spearman_test(X7, Y7)
    observed = stats.spearmanr(X7, Y7).statistic
    # the reference: every ordering of y, rho by scipy, share at least as extreme
    extreme = sum(abs(stats.spearmanr(X7, list(perm)).statistic) >= abs(observed) - 1e-12
                  for perm in itertools.permutations(Y7))
    assert res.rho == pytest.approx(observed)
    assert res.p_value == pytest.approx(extreme / math.factorial(7), abs=1e-12)
    assert res.n == 7 and res.p_method == "exact permutation"


def test_large_n_p_value_is_scipys_t_approximation_and_interval_is_fisher_z():
    rng = np.random.default_rng(1)
    x = rng.normal(size=20)
    y = x + rng.normal(size=20)
    res = spearman_test(list(x), list(y))
    assert res.p_value == pytest.approx(stats.spearmanr(x, y).pvalue)
    z, se = math.atanh(res.rho), math.sqrt((1 + res.rho ** 2 / 2) / 17)
    assert (res.low, res.high) == pytest.approx((math.tanh(z - 1.959963984540054 * se),
                                                 math.tanh(z + 1.959963984540054 * se)))
    assert res.low < res.rho < res.high


def test_missing_values_are_dropped_and_a_weak_trend_is_not_supported():
    res = spearman_test([1, 2, 3, None, 5], [2, 1, 4, 7, 3])
    assert res.n == 4
    assert not res.supported  # four points cannot support a sign
    assert math.isnan(spearman_test([1, 2], [3, 4]).p_value)
