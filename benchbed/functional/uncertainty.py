"""How sure a number is: binomial intervals, a seeded bootstrap over test points, paired tests.

Pure functions of per-point arrays (numpy / scipy only). Every model of a track is evaluated on the
same test points, so comparisons between two models are paired: the exact McNemar test for two
accuracies (the per-point correctness flags), and a paired bootstrap (the same resampled points for
both models) for any other statistic. Levels are two-sided (0.95 = a 95 % interval). The bootstrap is
the percentile bootstrap with a fixed seed, so the same arrays always give the same interval.
scipy.stats is imported where it is used: it takes half a second, and every plugin imports this module
through the contracts.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

LEVEL = 0.95
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
PAIRED_BOOTSTRAP = "paired percentile bootstrap"
MIN_FINITE_SHARE = 0.9  # a bootstrap whose resamples are mostly undefined (NaN) gives no interval


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval ``[low, high]`` at ``level``, made by ``method``."""

    low: float
    high: float
    level: float
    method: str

    def to_dict(self) -> dict[str, float | str]:
        return {"low": self.low, "high": self.high, "level": self.level, "method": self.method}


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1 (e.g. 0.95), got {level}")


def _check_counts(k: int, n: int) -> None:
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")


# -- one proportion ---------------------------------------------------------------------------------------
def wilson_interval(k: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson's score interval for a proportion k/n (no continuity correction), as proportions in [0, 1].

    Unlike the normal (Wald) interval it stays inside [0, 1] and keeps its coverage near 0 % and 100 %.
    """
    from scipy import stats

    _check_level(level)
    _check_counts(k, n)
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def exact_interval(k: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Clopper-Pearson's exact interval for k/n (beta quantiles; conservative), as proportions."""
    from scipy import stats

    _check_level(level)
    _check_counts(k, n)
    alpha = 1 - level
    low = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


# -- the bootstrap over test points -----------------------------------------------------------------------
def bootstrap_indices(n: int, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """``resamples`` x ``n`` point indices drawn with replacement (numpy's PCG64 seeded with ``seed``)."""
    if n <= 0 or resamples <= 0:
        raise ValueError(f"need n > 0 points and resamples > 0, got n={n}, resamples={resamples}")
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def _take(arrays: Sequence[np.ndarray], idx: np.ndarray) -> list[np.ndarray]:
    return [np.asarray(a)[idx] for a in arrays]


def _points(arrays: Sequence[np.ndarray]) -> int:
    sizes = {int(np.asarray(a).shape[0]) for a in arrays if np.ndim(a)}
    if len(sizes) != 1 or any(np.ndim(a) == 0 for a in arrays):
        raise ValueError(f"a bootstrap over test points needs per-point arrays of one length, got lengths "
                         f"{sorted(sizes)}")
    return sizes.pop()


def percentile_bounds(values: np.ndarray, level: float = LEVEL) -> tuple[float, float] | None:
    """The percentile interval of bootstrap replicates: their (1 - level) / 2 and (1 + level) / 2
    quantiles over the finite ones; None when more than 10 % are undefined (NaN) or there are none."""
    _check_level(level)
    return _percentiles(np.asarray(values, dtype=np.float64).reshape(-1), level)


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float] | None:
    finite = values[np.isfinite(values)]
    if finite.size < MIN_FINITE_SHARE * values.size or finite.size == 0:
        return None
    low, high = np.quantile(finite, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def bootstrap_replicates(statistic: Callable[..., Any], arrays: Sequence[np.ndarray], *,
                         indices: np.ndarray | None = None, resamples: int = BOOTSTRAP_RESAMPLES,
                         seed: int = BOOTSTRAP_SEED) -> list[Any]:
    """``statistic(*arrays)`` on each resample of the test points (rows taken together), as it returns it:
    a statistic returning several numbers at once (a dict) is computed once per resample for all of them."""
    n = _points(arrays)
    idx = bootstrap_indices(n, resamples, seed) if indices is None else np.asarray(indices)
    if idx.ndim != 2 or (idx.size and int(idx.max()) >= n):
        raise ValueError(f"bootstrap indices must be (resamples, n) with values below n={n}")
    return [statistic(*_take(arrays, row)) for row in idx]


def bootstrap_distribution(statistic: Callable[..., float], arrays: Sequence[np.ndarray], *,
                           indices: np.ndarray | None = None, resamples: int = BOOTSTRAP_RESAMPLES,
                           seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """``statistic(*arrays)`` recomputed on each resample of the test points (rows taken together)."""
    values = bootstrap_replicates(statistic, arrays, indices=indices, resamples=resamples, seed=seed)
    return np.array([float(v) for v in values], dtype=np.float64)


def bootstrap_interval(statistic: Callable[..., float], arrays: Sequence[np.ndarray], *, level: float = LEVEL,
                       indices: np.ndarray | None = None, resamples: int = BOOTSTRAP_RESAMPLES,
                       seed: int = BOOTSTRAP_SEED) -> tuple[float, float] | None:
    """The percentile bootstrap interval of ``statistic`` over the test points; None when most
    resamples leave the statistic undefined (NaN)."""
    _check_level(level)
    values = bootstrap_distribution(statistic, arrays, indices=indices, resamples=resamples, seed=seed)
    return _percentiles(values, level)


# -- two models on the same points -----------------------------------------------------------------------
@dataclass(frozen=True)
class PairedResult:
    """``a - b`` with its interval and the two-sided p-value of "no difference"."""

    difference: float
    low: float
    high: float
    p_value: float
    level: float
    method: str
    n: int


def _flags(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a).astype(bool).reshape(-1)
    b = np.asarray(b).astype(bool).reshape(-1)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"paired flags need two non-empty arrays over the same points, got {a.size} and {b.size}")
    return a, b


def mcnemar_exact(a: np.ndarray, b: np.ndarray) -> tuple[int, int, float]:
    """The exact McNemar test on paired flags: (a-only, b-only, two-sided p).

    Only the discordant points inform the comparison; under "no difference" each is a fair coin, so
    p is the two-sided binomial test of a-only successes out of all discordant points (1.0 if none).
    """
    from scipy import stats

    a, b = _flags(a, b)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    if only_a + only_b == 0:
        return 0, 0, 1.0
    p = float(stats.binomtest(only_a, only_a + only_b, 0.5, alternative="two-sided").pvalue)
    return only_a, only_b, min(1.0, p)


def paired_proportion_difference(a: np.ndarray, b: np.ndarray, level: float = LEVEL) -> tuple[float, float, float]:
    """(p_a - p_b, low, high): Newcombe's hybrid score interval for a paired difference (his method 10,
    Stat. Med. 1998), built from the two Wilson intervals and the flags' correlation; as proportions."""
    _check_level(level)
    a, b = _flags(a, b)
    n = a.size
    both, only_a, only_b, neither = (int(np.sum(a & b)), int(np.sum(a & ~b)), int(np.sum(~a & b)),
                                     int(np.sum(~a & ~b)))
    pa, pb = (both + only_a) / n, (both + only_b) / n
    la, ua = wilson_interval(both + only_a, n, level)
    lb, ub = wilson_interval(both + only_b, n, level)
    margins = (both + only_a) * (neither + only_b) * (both + only_b) * (neither + only_a)
    if margins == 0:
        phi = 0.0
    else:
        phi = (both * neither - only_a * only_b) / math.sqrt(margins)
    d = pa - pb
    low = d - math.sqrt(max(0.0, (pa - la) ** 2 - 2 * phi * (pa - la) * (ub - pb) + (ub - pb) ** 2))
    high = d + math.sqrt(max(0.0, (ua - pa) ** 2 - 2 * phi * (ua - pa) * (pb - lb) + (pb - lb) ** 2))
    return d, max(-1.0, low), min(1.0, high)


def compare_accuracies(a: np.ndarray, b: np.ndarray, level: float = LEVEL) -> PairedResult:
    """Two accuracies on the same points, in percent: the difference with Newcombe's paired interval
    and the exact McNemar p-value."""
    d, low, high = paired_proportion_difference(a, b, level)
    _, _, p = mcnemar_exact(a, b)
    return PairedResult(100 * d, 100 * low, 100 * high, p, level, "Newcombe paired score interval; exact McNemar",
                        int(np.asarray(a).size))


def paired_bootstrap(statistic: Callable[..., float], arrays_a: Sequence[np.ndarray],
                     arrays_b: Sequence[np.ndarray], *, level: float = LEVEL, resamples: int = BOOTSTRAP_RESAMPLES,
                     seed: int = BOOTSTRAP_SEED) -> PairedResult | None:
    """``statistic(a) - statistic(b)`` with a percentile interval and p-value from one paired bootstrap:
    each resample draws one set of test points and evaluates both models on it.

    The p-value is the two-sided bootstrap p of "difference 0": twice the smaller share of resampled
    differences on either side of 0, with the +1 correction ((count + 1) / (resamples + 1)), at most 1.
    None when most resamples leave the difference undefined.
    """
    _check_level(level)
    n = _points(arrays_a)
    if _points(arrays_b) != n:
        raise ValueError("paired bootstrap: the two models' arrays cover different numbers of points")
    idx = bootstrap_indices(n, resamples, seed)
    observed = float(statistic(*arrays_a)) - float(statistic(*arrays_b))
    diffs = (bootstrap_distribution(statistic, arrays_a, indices=idx)
             - bootstrap_distribution(statistic, arrays_b, indices=idx))
    return bootstrap_difference(observed, diffs, level, PAIRED_BOOTSTRAP, n)


def bootstrap_difference(observed: float, diffs: np.ndarray, level: float, method: str,
                         n: int) -> PairedResult | None:
    """``observed`` with the percentile interval of its bootstrap replicates ``diffs`` and the two-sided
    bootstrap p of "difference 0" (see :func:`paired_bootstrap`); None when most replicates are undefined."""
    diffs = np.asarray(diffs, dtype=np.float64).reshape(-1)
    bounds = _percentiles(diffs, level)
    if bounds is None or not math.isfinite(observed):
        return None
    finite = diffs[np.isfinite(diffs)]
    tail = min(int(np.sum(finite <= 0)), int(np.sum(finite >= 0)))
    p = min(1.0, 2 * (tail + 1) / (finite.size + 1))
    return PairedResult(observed, bounds[0], bounds[1], p, level, method, n)


def independent_bootstrap_difference(replicates_a: np.ndarray, replicates_b: np.ndarray, observed_a: float,
                                     observed_b: float, *, level: float = LEVEL) -> PairedResult | None:
    """``observed_a - observed_b`` for two statistics of *independent* data (e.g. two models' generated
    samples), from each one's own bootstrap replicates: the unpaired bootstrap of the difference.

    Replicate i of a is paired with replicate i + 1 (cyclically) of b: two different resamples, so even
    when both were drawn with the same seed the pairs are independent draws. Interval and p-value as in
    :func:`paired_bootstrap`. None when the replicates are too few or mostly undefined."""
    _check_level(level)
    a = np.asarray(replicates_a, dtype=np.float64).reshape(-1)
    b = np.asarray(replicates_b, dtype=np.float64).reshape(-1)
    count = min(a.size, b.size)
    observed = float(observed_a) - float(observed_b)
    if count < 2:
        return None
    return bootstrap_difference(observed, a[:count] - np.roll(b[:count], -1), level,
                                "independent-samples percentile bootstrap", count)


def compare_independent_accuracies(a: np.ndarray, b: np.ndarray, level: float = LEVEL) -> PairedResult:
    """Two accuracies on *independent* sets (e.g. an independent classifier on each model's own samples),
    in percent: the difference with Newcombe's hybrid score interval for independent proportions (his
    method 10, Stat. Med. 1998: from the two Wilson intervals) and the two-sided Fisher exact p-value."""
    from scipy import stats

    _check_level(level)
    a = np.asarray(a).astype(bool).reshape(-1)
    b = np.asarray(b).astype(bool).reshape(-1)
    if a.size == 0 or b.size == 0:
        raise ValueError("two accuracies need non-empty flags on both sides")
    ka, kb = int(a.sum()), int(b.sum())
    pa, pb = ka / a.size, kb / b.size
    la, ua = wilson_interval(ka, a.size, level)
    lb, ub = wilson_interval(kb, b.size, level)
    d = pa - pb
    low = d - math.sqrt((pa - la) ** 2 + (ub - pb) ** 2)
    high = d + math.sqrt((ua - pa) ** 2 + (pb - lb) ** 2)
    p = float(stats.fisher_exact([[ka, a.size - ka], [kb, b.size - kb]]).pvalue)
    return PairedResult(100 * d, 100 * max(-1.0, low), 100 * min(1.0, high), min(1.0, p), level,
                        "independent samples: Newcombe score interval; Fisher exact test", int(a.size + b.size))
