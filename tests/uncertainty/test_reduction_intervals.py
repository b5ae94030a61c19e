"""Each reduction declares its interval: percent -> Wilson (or exact), others -> bootstrap, counts -> none."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from benchbed.builtin.energy import paired_statistic
from benchbed.contracts.reductions import Reduction, mean, percent, scalar


def test_percent_gives_binomial_intervals_in_percent():
    flags = np.array([True] * 17 + [False] * 3)
    exact = percent("ok", "exact").interval_of({"ok": flags})
    ci = stats.binomtest(17, 20).proportion_ci(0.95, method="exact")
    assert (exact.low, exact.high) == pytest.approx((100 * ci.low, 100 * ci.high))
    wilson = percent("ok").interval_of({"ok": flags})
    ref = stats.binomtest(17, 20).proportion_ci(0.95, method="wilson")
    assert (wilson.low, wilson.high) == pytest.approx((100 * ref.low, 100 * ref.high))


def test_mean_bootstraps_and_ignores_nan_points_like_its_value():
    values = np.array([1.0, np.nan, 3.0, 2.0, np.nan, 5.0, 4.0, 2.5])
    iv = mean("v").interval_of({"v": values}, indices=np.random.default_rng(0).integers(0, 8, size=(500, 8)))
    assert iv.method.startswith("percentile bootstrap") and iv.low < np.nanmean(values) < iv.high


def test_counts_and_model_scalars_declare_no_interval():
    assert scalar("fid").interval_of({"fid": np.float64(3.0)}) is None
    assert paired_statistic("n").interval == "none"
    assert paired_statistic("w1_rel").interval == "bootstrap"


def test_an_unknown_interval_method_is_refused_in_one_line():
    with pytest.raises(ValueError, match="interval 'jackknife' is not one of"):
        Reduction("mean", ("v",), np.mean, "jackknife")
