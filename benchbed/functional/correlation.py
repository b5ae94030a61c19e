"""Rank correlation across models (issue 13: "robust models smooth the energy landscape" as a number)."""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata, spearmanr


def _finite_pairs(x, y) -> list[tuple[float, float]]:
    """The (x, y) pairs with both values given and finite."""
    return [(float(a), float(b)) for a, b in zip(x, y)
            if a is not None and b is not None and math.isfinite(float(a)) and math.isfinite(float(b))]


def spearman(x: Sequence[float | None], y: Sequence[float | None]) -> tuple[float, int]:
    """(Spearman's rho, n) over the pairs where both values are finite numbers.

    rho is Pearson's correlation of the average ranks (ties share their mean rank); NaN when fewer than
    3 pairs remain or either side is constant (no ordering to correlate).
    """
    if len(x) != len(y):
        raise ValueError(f"{len(x)} x values but {len(y)} y values")
    pairs = _finite_pairs(x, y)
    n = len(pairs)
    if n < 3:
        return math.nan, n
    rx = rankdata([p[0] for p in pairs])
    ry = rankdata([p[1] for p in pairs])
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = math.sqrt(float(np.sum(rx * rx)) * float(np.sum(ry * ry)))
    if denominator == 0:
        return math.nan, n
    return float(np.sum(rx * ry)) / denominator, n


EXACT_PERMUTATION_MAX_N = 8  # 8! = 40,320 orderings: exact; above, the t approximation


@dataclass(frozen=True)
class SpearmanTest:
    """Spearman's rho over ``n`` models, its two-sided p-value of "no monotone relation", and a
    Fisher-z interval at ``level`` (NaN when rho is undefined or n < 4)."""

    rho: float
    n: int
    p_value: float
    low: float
    high: float
    level: float
    p_method: str

    @property
    def supported(self) -> bool:
        """The interval excludes 0: the sign of the trend is supported at this level."""
        return math.isfinite(self.low) and (self.low > 0 or self.high < 0)


def _exact_permutation_p(x: np.ndarray, y: np.ndarray, rho: float) -> float:
    """Share of all orderings of y whose rho is at least as far from 0 as the observed one."""
    rx = rankdata(x)
    rx = rx - rx.mean()
    ry = rankdata(y)
    scale = math.sqrt(float(np.sum(rx * rx)) * float(np.sum((ry - ry.mean()) ** 2)))
    perms = np.array(list(itertools.permutations(ry - ry.mean())))
    rhos = perms @ rx / scale
    return float(np.mean(np.abs(rhos) >= abs(rho) - 1e-12))


def spearman_test(x: Sequence[float | None], y: Sequence[float | None], level: float = 0.95) -> SpearmanTest:
    """Spearman's rho with its p-value and interval, over the pairs where both values are finite.

    p: exact (all orderings of y) for n <= 8, else Student's t with n - 2 degrees of freedom (scipy's
    default). Interval: Fisher's z = atanh(rho) with Bonett and Wright's standard error for Spearman's
    rho, sqrt((1 + rho^2 / 2) / (n - 3)), mapped back with tanh.
    """
    rho, n = spearman(x, y)
    if not math.isfinite(rho):
        return SpearmanTest(rho, n, math.nan, math.nan, math.nan, level, "")
    pairs = _finite_pairs(x, y)
    xs, ys = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    if n <= EXACT_PERMUTATION_MAX_N:
        p, method = _exact_permutation_p(xs, ys, rho), "exact permutation"
    else:
        p, method = float(spearmanr(xs, ys).pvalue), "t approximation"
    low = high = math.nan
    if n >= 4 and abs(rho) < 1:
        z = math.atanh(rho)
        half = float(norm.ppf(0.5 + level / 2)) * math.sqrt((1 + rho * rho / 2) / (n - 3))
        low, high = math.tanh(z - half), math.tanh(z + half)
    return SpearmanTest(rho, n, p, low, high, level, method)
