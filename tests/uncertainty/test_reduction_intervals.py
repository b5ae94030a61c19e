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


def test_grouped_columns_resample_their_statistic_once_and_give_each_columns_own_interval():
    """Columns of one statistic (``Reduction.group``) share its per-resample results within a record: the same
    intervals as bootstrapping each column alone (compared with ==), with the group computed once per resample."""
    rng = np.random.default_rng(1)
    calls = []

    def stats_of(a, b):
        calls.append(1)
        return {"mean_a": float(a.mean()), "gap": float((a - b).mean())}

    columns = [Reduction(f"demo.{k}", ("a", "b"), lambda a, b, k=k: stats_of(a, b)[k], group=stats_of, key=k)
               for k in ("mean_a", "gap")]
    arrays = {"a": rng.normal(size=40), "b": rng.normal(size=40)}
    indices = np.random.default_rng(2).integers(0, 40, size=(300, 40))
    alone = [c.interval_of(arrays, indices=indices) for c in columns]
    assert len(calls) == 2 * 300
    calls.clear()
    shared: dict = {}
    grouped = [c.interval_of(arrays, indices=indices, shared=shared) for c in columns]
    assert len(calls) == 300  # once per resample for both columns
    assert grouped == alone
    # the hand-written percentile bootstrap of the gap column
    gaps = [float((arrays["a"][row] - arrays["b"][row]).mean()) for row in indices]
    assert (grouped[1].low, grouped[1].high) == tuple(np.quantile(gaps, [(1 - 0.95) / 2, (1 + 0.95) / 2]))


def test_a_group_without_its_key_is_refused():
    with pytest.raises(ValueError, match="group function and its key go together"):
        Reduction("demo", ("a",), np.mean, group=lambda a: {"m": 1.0})
