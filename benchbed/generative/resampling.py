"""Bootstrap replicates of IS / FID / KID over the generated samples, from the features the scores came from.

The generative metric keeps no per-sample features in the record (on the CIFAR tracks the reference
features alone are 50,000 x 2048 floats, and KID needs them). Instead the bootstrap runs where the
features are at hand, right after scoring: one seeded draw of resamples of the n generated samples
(shared by the three scores), each score recomputed on every resample with the reference set fixed
(its FID statistics, its KID subsets) and the same IS shuffle and KID subset positions as the point
estimate. The replicates (one float64 per resample and score) go into the record; the column's
interval is their percentile interval (``Reduction(interval="sample-bootstrap")``).

How many resamples: B = 1000 (as for the bootstrap over test points) while one FID replicate is cheap
(n x d^2 <= ``CHEAP_FID``, e.g. 1000 digits samples x 128 features); else B = ``LARGE_RESAMPLES`` (e.g.
Inception's 2048 features on 10,000 samples: one covariance of n x d^2 = 4e10 multiply-adds and one
2048 x 2048 eigendecomposition per resample). KID's replicates hold the n x n kernel of the samples
in memory, so above ``KID_MAX_SAMPLES`` samples KID gets no interval.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from benchbed.functional import fidelity as fm
from benchbed.functional.uncertainty import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, bootstrap_indices

CHEAP_FID = 5e9
LARGE_RESAMPLES = 200
KID_MAX_SAMPLES = 12_000  # an n x n float64 kernel: 1.15 GB at this size


def resamples_for(n: int, dim: int) -> int:
    return BOOTSTRAP_RESAMPLES if n * dim * dim <= CHEAP_FID else LARGE_RESAMPLES


def sample_replicates(features: dict[str, Any], *, isc_splits: int, seed: int, kid_subsets: int,
                      kid_subset_size: int, device="cpu", report=None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """{"is" | "fid" | "kid": replicates} for the scores whose features are given
    (the ``features`` of :class:`benchbed.generative.fidelity.FidelityResult`), and what was done, for the info.
    FID's covariances and KID's kernels are computed on ``device``."""
    n = len(next(iter(v for k, v in features.items() if k in ("isc", "fid", "kid"))))
    dim = int(features["fid"].shape[1]) if "fid" in features else 0
    resamples = resamples_for(n, dim)
    idx = bootstrap_indices(n, resamples, BOOTSTRAP_SEED)
    out: dict[str, np.ndarray] = {}
    skipped: dict[str, str] = {}

    def timed(name: str, make) -> None:  # no wall time in the info: the record must repeat to the last digit
        if report is not None:
            report(f"bootstrap of {name.upper()} over the samples ({resamples} resamples)")
        out[name] = make()

    if "isc" in features:
        timed("is", lambda: fm.inception_score_replicates(features["isc"], idx, isc_splits, seed))
    if "fid" in features:
        timed("fid", lambda: fm.fid_replicates(features["fid"], features["reference_mu"],
                                               features["reference_sigma"], idx, device))
    if "kid" in features:
        if n > KID_MAX_SAMPLES:
            skipped["kid"] = f"{n} samples: the {n} x {n} kernel is too large to keep (limit {KID_MAX_SAMPLES})"
        else:
            timed("kid", lambda: fm.kid_replicates(features["kid"], features["reference_kid"], idx, kid_subsets,
                                                   kid_subset_size, seed, device))
    info = {"over": f"the {n} generated samples (reference set fixed)", "resamples": resamples,
            "seed": BOOTSTRAP_SEED, **({"skipped": skipped} if skipped else {})}
    return out, info
