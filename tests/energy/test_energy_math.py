"""benchbed.functional.energy against independent hand computations (explicit loops, scipy) on random logits."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import wasserstein_distance

from benchbed.functional.energy import (
    energy_gap,
    gap_statistics,
    joint_energy,
    marginal_energy,
    mean_std,
    natural_statistics,
    wasserstein_1,
)


def loop_marginal(logits):
    """-log sum_k exp(z_k), written out; plain (no max shift), valid for moderate logits."""
    return [-math.log(sum(math.exp(float(v)) for v in row)) for row in logits]


def loop_mean(values):
    return sum(values) / len(values)


def loop_std(values):
    m = loop_mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / len(values))


def loop_w1_equal(a, b):
    a, b = sorted(a), sorted(b)
    return sum(abs(x - y) for x, y in zip(a, b)) / len(a)


def quantile_w1(a, b):
    """W1 as the integral of |F_a^-1(q) - F_b^-1(q)| over q, on the union of the quantile steps."""
    a, b = sorted(a), sorted(b)
    cuts = sorted({i / len(a) for i in range(len(a) + 1)} | {j / len(b) for j in range(len(b) + 1)})
    total = 0.0
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        q = (lo + hi) / 2  # the quantile functions are constant on (lo, hi)
        qa = a[min(int(q * len(a)), len(a) - 1)]
        qb = b[min(int(q * len(b)), len(b) - 1)]
        total += abs(qa - qb) * (hi - lo)
    return total


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def test_marginal_energy_matches_loop_and_scipy(rng):
    logits = rng.normal(0, 3, size=(50, 10))
    ours = marginal_energy(logits)
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours, loop_marginal(logits), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours, -logsumexp(logits, axis=1), rtol=1e-12)
    # torch float32 input: upcast to float64 before the reduction
    t = torch.tensor(logits, dtype=torch.float32)
    np.testing.assert_allclose(marginal_energy(t), -logsumexp(t.double().numpy(), axis=1), rtol=1e-12)


def test_joint_energy_matches_loop(rng):
    logits = rng.normal(0, 3, size=(40, 7))
    labels = rng.integers(0, 7, size=40)
    expected = [-float(logits[i][labels[i]]) for i in range(40)]
    np.testing.assert_array_equal(joint_energy(logits, labels), expected)
    np.testing.assert_array_equal(joint_energy(torch.tensor(logits), torch.tensor(labels)), expected)


def test_cross_entropy_is_joint_minus_marginal(rng):
    logits = rng.normal(0, 2, size=(20, 5))
    labels = rng.integers(0, 5, size=20)
    ce = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(labels), reduction="none")
    np.testing.assert_allclose(joint_energy(logits, labels) - marginal_energy(logits), ce.numpy(), rtol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_extreme_logits_do_not_overflow(dtype):
    big = 1e4
    logits = torch.tensor([
        [big, -big, 0.0, 0.0],       # one dominant logit: E = -1e4 (+ exp(-1e4)-sized terms)
        [big, big, big, big],        # ties: E = -(1e4 + log 4)
        [-big, -big, -big, -big],    # all very negative: E = 1e4 - log 4
        [big, big - 1.0, -big, 5.0],  # E = -(1e4 + log(1 + e^-1))
    ], dtype=dtype)
    expected = [-big, -(big + math.log(4)), big - math.log(4), -(big + math.log1p(math.exp(-1.0)))]
    ours = marginal_energy(logits)
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-9)
    labels = torch.tensor([0, 1, 2, 3])
    np.testing.assert_array_equal(joint_energy(logits, labels), [-big, -big, big, -5.0])
    stats = gap_statistics(logits, logits.flip(0), labels)
    assert all(math.isfinite(v) for v in stats.values())


def test_extreme_random_logits_match_scipy(rng):
    logits = rng.uniform(-1e4, 1e4, size=(64, 10))
    adv = logits + rng.normal(0, 50, size=logits.shape)
    labels = rng.integers(0, 10, size=64)
    stats = gap_statistics(logits, adv, labels)
    e_nat, e_adv = -logsumexp(logits, axis=1), -logsumexp(adv, axis=1)
    assert np.all(np.isfinite(e_nat)) and np.all(np.isfinite(e_adv))
    gap = [float(x - y) for x, y in zip(e_nat, e_adv)]
    assert stats["gap_mean"] == pytest.approx(loop_mean(gap), rel=1e-9)
    assert stats["gap_std"] == pytest.approx(loop_std(gap), rel=1e-9)
    assert stats["w1"] == pytest.approx(wasserstein_distance(e_nat, e_adv), rel=1e-9)


def test_gap_statistics_against_loops(rng):
    n, k = 37, 10
    nat = rng.normal(0, 4, size=(n, k))
    adv = nat + rng.normal(1.0, 2.0, size=(n, k))
    labels = rng.integers(0, k, size=n)
    stats = gap_statistics(torch.tensor(nat, dtype=torch.float64), adv, labels)

    e_nat, e_adv = loop_marginal(nat), loop_marginal(adv)
    j_nat = [-nat[i][labels[i]] for i in range(n)]
    j_adv = [-adv[i][labels[i]] for i in range(n)]
    gap = [e_nat[i] - e_adv[i] for i in range(n)]
    joint_gap = [j_nat[i] - j_adv[i] for i in range(n)]

    assert stats["n"] == n
    assert stats["adv_mean"] == pytest.approx(loop_mean(e_adv), rel=1e-12)
    assert stats["adv_std"] == pytest.approx(loop_std(e_adv), rel=1e-10)
    assert stats["gap_mean"] == pytest.approx(loop_mean(gap), rel=1e-10)
    assert stats["gap_std"] == pytest.approx(loop_std(gap), rel=1e-10)
    assert stats["abs_gap_mean"] == pytest.approx(loop_mean([abs(g) for g in gap]), rel=1e-10)
    assert stats["joint_gap_mean"] == pytest.approx(loop_mean(joint_gap), rel=1e-10)
    assert stats["joint_gap_std"] == pytest.approx(loop_std(joint_gap), rel=1e-10)
    assert stats["w1"] == pytest.approx(loop_w1_equal(e_nat, e_adv), rel=1e-10)
    assert stats["w1"] == pytest.approx(wasserstein_distance(e_nat, e_adv), rel=1e-10)

    nat_stats = natural_statistics(nat)
    assert nat_stats["nat_mean"] == pytest.approx(loop_mean(e_nat), rel=1e-12)
    assert nat_stats["nat_std"] == pytest.approx(loop_std(e_nat), rel=1e-10)


def test_energy_gap_sign_and_shape():
    np.testing.assert_array_equal(energy_gap([1.0, -2.0], [3.0, -5.0]), [-2.0, 3.0])
    with pytest.raises(ValueError):
        energy_gap([1.0, 2.0], [1.0])


def test_wasserstein_equal_sizes(rng):
    for _ in range(5):
        a, b = rng.normal(0, 3, 25), rng.standard_cauchy(25)
        assert wasserstein_1(a, b) == pytest.approx(loop_w1_equal(a, b), rel=1e-12)
        assert wasserstein_1(a, b) == pytest.approx(wasserstein_distance(a, b), rel=1e-10)
    assert wasserstein_1([0.0, 1.0], [0.0, 1.0]) == 0.0
    assert wasserstein_1([0.0], [2.5]) == 2.5
    assert wasserstein_1([3.0, 1.0, 2.0], [2.0, 4.0, 3.0]) == pytest.approx(1.0)


@pytest.mark.parametrize("sizes", [(7, 3), (10, 25), (1, 9), (12, 8)])
def test_wasserstein_unequal_sizes(rng, sizes):
    a, b = rng.normal(0, 2, sizes[0]), rng.normal(1, 3, sizes[1])
    ours = wasserstein_1(a, b)
    assert ours == pytest.approx(wasserstein_distance(a, b), rel=1e-10)
    assert ours == pytest.approx(quantile_w1(a, b), rel=1e-10)
    assert wasserstein_1(b, a) == pytest.approx(ours, rel=1e-12)


def test_empty_samples_give_nan():
    assert math.isnan(wasserstein_1([], [1.0]))
    assert mean_std([]) == (pytest.approx(float("nan"), nan_ok=True),) * 2
    stats = gap_statistics(np.empty((0, 10)), np.empty((0, 10)), np.empty(0, dtype=np.int64))
    assert stats["n"] == 0
    assert all(math.isnan(v) for key, v in stats.items() if key != "n")
    assert marginal_energy(np.empty((0, 10))).shape == (0,)


def test_shape_errors():
    with pytest.raises(ValueError):
        marginal_energy(np.zeros(10))
    with pytest.raises(ValueError):
        joint_energy(np.zeros((3, 4)), [0, 1])
