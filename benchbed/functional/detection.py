"""Energy as a detector, and calibration, as pure functions (the JEM / DAT companions; docs/science.md,
"Detection").

- ``auroc(in_scores, out_scores)``: the probability that a random in-distribution point scores higher
  than a random out-of-distribution one, ties counted one half (the Mann-Whitney U statistic over
  n_in * n_out, which equals the area under the ROC curve).
- scores: the energy score -E(x) = logsumexp f(x) (higher = more in-distribution) and the maximum
  softmax probability (Hendrycks & Gimpel's baseline);
- ``expected_calibration_error``: ECE with equal-width confidence bins over (0, 1],
  sum_b |B_b|/n * |accuracy(B_b) - mean confidence(B_b)|.

Inputs may be torch tensors or numpy arrays; everything is computed in float64.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import rankdata

from benchbed.functional.energy import _as_float64, _logits_2d, marginal_energy

ECE_BINS = 15


def energy_score(logits: Any) -> np.ndarray:
    """-E(x) = logsumexp_k f(x)[k]: high for points the model reads as in-distribution."""
    return -marginal_energy(logits)


def max_softmax(logits: Any) -> np.ndarray:
    """max_k p(k|x), computed stably from the logits."""
    z = _logits_2d(logits)
    if z.shape[0] == 0:
        return np.empty(0, dtype=np.float64)
    return np.exp(z.max(axis=1) + marginal_energy(z))


def auroc(in_scores: Any, out_scores: Any) -> float:
    """Area under the ROC curve of telling in- from out-of-distribution points by score (in = positive).

    Computed from ranks of the pooled scores (average ranks for ties); NaN values are dropped, and the
    result is NaN when either side has no point.
    """
    a = _as_float64(in_scores).reshape(-1)
    b = _as_float64(out_scores).reshape(-1)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if a.size == 0 or b.size == 0:
        return math.nan
    ranks = rankdata(np.concatenate([a, b]))
    u = ranks[:a.size].sum() - a.size * (a.size + 1) / 2
    return float(u / (a.size * b.size))


def expected_calibration_error(confidence: Any, correct: Any, n_bins: int = ECE_BINS) -> float:
    """ECE over ``n_bins`` equal-width bins (lo, hi] of confidence; NaN for no points."""
    c = _as_float64(confidence).reshape(-1)
    ok = _as_float64(correct).reshape(-1)
    if c.size != ok.size:
        raise ValueError(f"{c.size} confidences but {ok.size} correctness flags")
    if c.size == 0:
        return math.nan
    # bin b holds (b/n, (b+1)/n]; a confidence of exactly 0 joins the first bin
    which = np.clip(np.ceil(c * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        inside = which == b
        if inside.any():
            total += inside.sum() / c.size * abs(ok[inside].mean() - c[inside].mean())
    return float(total)
