"""Comparisons of numbers over each model's own samples (IS/FID/KID, the independent classifier's
accuracy): unpaired, against statsmodels / scipy and a hand-written loop."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from benchbed.contracts.reductions import Reduction, scalar, scalar_value
from benchbed.functional.uncertainty import compare_independent_accuracies, independent_bootstrap_difference
from benchbed.results.paired import paired_column

proportion = pytest.importorskip("statsmodels.stats.proportion")


@pytest.mark.parametrize("ka,na,kb,nb", [(90, 100, 70, 100), (1000, 1000, 985, 1000), (3, 40, 9, 50)])
def test_independent_accuracies_newcombe_interval_and_fisher_p(ka, na, kb, nb):
    a = np.arange(na) < ka
    b = np.arange(nb) < kb
    got = compare_independent_accuracies(a, b)
    low, high = proportion.confint_proportions_2indep(ka, na, kb, nb, method="newcomb", compare="diff")
    assert got.difference == pytest.approx(100 * (ka / na - kb / nb))
    assert (got.low, got.high) == pytest.approx((100 * low, 100 * high))
    # Fisher's two-sided p by hand: the hypergeometric tables no more likely than the observed one
    dist = stats.hypergeom(na + nb, ka + kb, na)
    support = np.arange(max(0, ka + kb - nb), min(na, ka + kb) + 1)
    pmf = dist.pmf(support)
    assert got.p_value == pytest.approx(min(1.0, pmf[pmf <= dist.pmf(ka) * (1 + 1e-7)].sum()), rel=1e-6)


def test_unpaired_bootstrap_difference_against_a_hand_loop():
    rng = np.random.default_rng(2)
    a, b = rng.normal(5.0, 0.2, 1000), rng.normal(4.0, 0.3, 1000)
    got = independent_bootstrap_difference(a, b, 5.0, 4.0)
    diffs = [a[i] - b[(i + 1) % 1000] for i in range(1000)]
    assert (got.low, got.high) == pytest.approx(tuple(np.quantile(diffs, [0.025, 0.975])))
    tail = min(sum(d <= 0 for d in diffs), sum(d >= 0 for d in diffs))
    assert got.difference == 1.0 and got.p_value == pytest.approx(2 * (tail + 1) / 1001) and tail > 0
    assert "independent" in got.method
    # the same replicates on both sides (two models scored with one seed): still an unpaired spread
    same = independent_bootstrap_difference(a, a, 5.0, 5.0)
    assert same.low < -0.3 and same.high > 0.3 and same.p_value > 0.5
    assert independent_bootstrap_difference(a[:1], b[:1], 5.0, 4.0) is None


def test_generative_columns_compare_from_their_replicates_without_common_points():
    reduction = scalar("fid", resampled=True)
    a = {"fid": np.float64(4.0), "fid_resampled": np.linspace(3.5, 4.6, 1000)}
    b = {"fid": np.float64(6.0), "fid_resampled": np.linspace(5.2, 6.9, 1000)}
    got = paired_column(reduction, a, b)  # no "index" arrays: nothing to pair, and none needed
    assert got.difference == -2.0 and got.high < 0 and got.p_value == pytest.approx(2 / 1001)
    assert paired_column(reduction, a, {"fid": np.float64(6.0)}) is None  # an older result without replicates


def test_sample_bootstrap_needs_its_replicates_array():
    with pytest.raises(ValueError, match="replicates"):
        Reduction("scalar", ("fid",), scalar_value, "sample-bootstrap")
    with pytest.raises(ValueError, match="replicates"):
        Reduction("scalar", ("fid",), scalar_value, "none", "fid_resampled")
    assert scalar("fid").interval == "none" and scalar("fid", resampled=True).replicates == "fid_resampled"
