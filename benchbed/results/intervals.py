"""Confidence intervals of a record's columns, made while the record is built (benchbed.results.record).

Each column's reduction declares its interval method (:class:`benchbed.contracts.reductions.Reduction`);
the intervals come from the same merged per-point arrays as the numbers, with one seeded bootstrap draw
of the test points shared by all columns, so sharded, unsharded and API runs agree exactly.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from benchbed.contracts.specs import Column
from benchbed.functional.uncertainty import LEVEL, Interval, bootstrap_indices


def shared_resamples(merged: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """One seeded bootstrap draw of the test points for all of a record's columns (None: no points).

    Drawn from the merged arrays, so a sharded, an unsharded and an API run resample the same points."""
    n = len(merged["index"]) if "index" in merged else next(
        (len(v) for v in merged.values() if np.ndim(v) == 1 and len(v) > 1), 0)
    return bootstrap_indices(n) if n > 1 else None


def column_interval(col: Column, merged: Mapping[str, np.ndarray], resamples: np.ndarray | None,
                    shared: dict | None = None) -> Interval | None:
    """A column's interval, or None where it declares none or it is undefined (never fails the record).

    ``shared``: one dict per record, so grouped columns
    (:attr:`benchbed.contracts.reductions.Reduction.group`) resample their group once."""
    if col.reduce is None or col.reduce.interval == "none":
        return None
    if col.reduce.interval == "bootstrap" and (
            resamples is None or any(np.ndim(merged.get(k)) == 0 or len(merged[k]) != resamples.shape[1]
                                     for k in col.reduce.inputs)):
        return None  # not per-point arrays of the track's points
    try:
        interval = col.reduce.interval_of(merged, indices=resamples, shared=shared)
    except (ValueError, KeyError, FloatingPointError):
        return None
    if interval is None or not (math.isfinite(interval.low) and math.isfinite(interval.high)):
        return None
    return interval


def interval_protocol(protocol: str, col: Column) -> str:
    text = f"{round(100 * LEVEL)} % interval: {col.reduce.interval_text()}"
    return f"{protocol}; {text}" if protocol else text
