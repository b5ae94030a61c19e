"""Rank correlation across models (issue 13: "robust models smooth the energy landscape" as a number)."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata


def spearman(x: Sequence[float | None], y: Sequence[float | None]) -> tuple[float, int]:
    """(Spearman's rho, n) over the pairs where both values are finite numbers.

    rho is Pearson's correlation of the average ranks (ties share their mean rank); NaN when fewer than
    3 pairs remain or either side is constant (no ordering to correlate).
    """
    if len(x) != len(y):
        raise ValueError(f"{len(x)} x values but {len(y)} y values")
    pairs = [(float(a), float(b)) for a, b in zip(x, y)
             if a is not None and b is not None and math.isfinite(float(a)) and math.isfinite(float(b))]
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
