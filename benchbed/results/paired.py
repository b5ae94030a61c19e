"""Two models on one track, column by column, paired over their common test points.

Every model of a track is evaluated on the same points, so the difference of two models' numbers is
tested on the per-point arrays of both (stored beside their records): percentages of flags (accuracy)
with the exact McNemar test and Newcombe's paired interval, every other statistic with a paired
bootstrap (one resampling of the points, applied to both). Numbers over each model's own generated
samples (IS/FID/KID) have no common points: their difference is an unpaired bootstrap from the
replicates each record stores. The column's own reduction is used, found
in the registered metric (or, for plain ``percent`` / ``mean`` reductions, read from the record).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchbed.contracts.reductions import Reduction, finite_mean, percent_true, scalar, scalar_value
from benchbed.functional.uncertainty import (
    LEVEL,
    PAIRED_BOOTSTRAP,
    PairedResult,
    bootstrap_difference,
    compare_accuracies,
    compare_independent_accuracies,
    independent_bootstrap_difference,
    paired_bootstrap,
)
from benchbed.results.record import Record

Resolver = Callable[[Record, str], "Reduction | None"]
TEST_POINTS = "the test points"  # Reduction.over's default: arrays with one row per test point
_PLAIN = {"percent": (percent_true, "wilson"), "mean": (finite_mean, "bootstrap"),
          "scalar": (scalar_value, "sample-bootstrap")}


def plain_reduction(record: Record, column: str) -> Reduction | None:
    """The reduction a record names for ``column`` when it is a built-in one-array reduction
    (``percent(x)``, ``mean(x)``, ``scalar(x)`` with bootstrap replicates): usable without the plugin
    that declared the column."""
    info = record.columns.get(column)
    match = re.fullmatch(r"(\w+)\((\w+)\)", info.reduce) if info is not None else None
    if match is None or match.group(1) not in _PLAIN:
        return None
    fn, interval = _PLAIN[match.group(1)]
    # what the rows are, from the stored interval's words ("Wilson score interval over <rows>")
    stored = record.intervals.get(column)
    rows = stored.method.split(" over ", 1)[1] if stored is not None and " over " in stored.method else TEST_POINTS
    over = TEST_POINTS if rows.startswith(TEST_POINTS) else rows.split(" (", 1)[0].split(";", 1)[0]
    if fn is scalar_value:
        return scalar(match.group(2), resampled=True, over=over) if stored is not None else None
    return Reduction(match.group(1), (match.group(2),), fn, interval, over=over)


def registry_resolver(registry: Any) -> Resolver:
    """Find a column's reduction in the registered metric that declares it (on the record's track);
    only when it is the very reduction the record names, else fall back to :func:`plain_reduction`."""
    def resolve(record: Record, column: str) -> Reduction | None:
        info = record.columns.get(column)
        if info is None:
            return None
        try:
            spec = registry.metrics.get(info.metric)
            track = registry.tracks.get(record.track)
            found = next((c.reduce for c in spec.columns_for(track) if c.name == column), None)
        except Exception:  # noqa: BLE001 -- an unregistered metric or track: fall back
            found = None
        if found is not None and found.describe() == info.reduce:
            return found
        return plain_reduction(record, column)

    return resolve


def same_points(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> bool:
    """Both models' arrays cover the same test points in the same order."""
    if "index" in a and "index" in b:
        return np.array_equal(np.asarray(a["index"]), np.asarray(b["index"]))
    return False


def paired_column(reduction: Reduction, arrays_a: Mapping[str, np.ndarray],
                  arrays_b: Mapping[str, np.ndarray], shared: dict | None = None) -> PairedResult | None:
    """a - b of one column, with interval and p-value; None where the column declares no interval or
    the arrays are not per-point arrays of the same points. ``shared``: one dict per pair of models, so
    grouped columns (:attr:`benchbed.contracts.reductions.Reduction.group`) resample their group once."""
    if reduction.interval == "sample-bootstrap":
        return _independent(reduction, arrays_a, arrays_b)
    if reduction.over != TEST_POINTS:  # per-sample flags of each model's own samples: nothing to pair
        if reduction.fn is not percent_true or any(k not in arrays_a or k not in arrays_b for k in reduction.inputs):
            return None
        return compare_independent_accuracies(arrays_a[reduction.inputs[0]], arrays_b[reduction.inputs[0]])
    if reduction.interval == "none" or not same_points(arrays_a, arrays_b):
        return None
    if any(k not in arrays_a or k not in arrays_b for k in reduction.inputs):
        return None
    xs = [np.asarray(arrays_a[k]) for k in reduction.inputs]
    ys = [np.asarray(arrays_b[k]) for k in reduction.inputs]
    if any(v.ndim == 0 or v.shape[0] != len(arrays_a["index"]) for v in (*xs, *ys)):
        return None
    if reduction.interval in ("wilson", "exact") and reduction.fn is percent_true:
        return compare_accuracies(xs[0], ys[0])
    if reduction.group is not None and shared is not None:
        return _grouped_paired_bootstrap(reduction, xs, ys, shared)
    return paired_bootstrap(reduction.fn, xs, ys)


def _grouped_paired_bootstrap(reduction: Reduction, xs: list[np.ndarray], ys: list[np.ndarray],
                              shared: dict) -> PairedResult | None:
    """:func:`paired_bootstrap` of a grouped column (the same default resamples, the same numbers), each model's
    group computed once per resample for all the columns of the group."""
    observed = float(reduction.fn(*xs)) - float(reduction.fn(*ys))
    diffs = reduction.resampled(xs, shared, tag="a") - reduction.resampled(ys, shared, tag="b")
    return bootstrap_difference(observed, diffs, LEVEL, PAIRED_BOOTSTRAP, len(xs[0]))


def _independent(reduction: Reduction, arrays_a: Mapping[str, np.ndarray],
                 arrays_b: Mapping[str, np.ndarray]) -> PairedResult | None:
    """A model-level number over each model's own samples (IS/FID/KID): nothing to pair, so the
    difference comes from the two models' stored bootstrap replicates, unpaired."""
    needed = (*reduction.inputs, reduction.replicates)
    if any(k not in arrays_a or k not in arrays_b for k in needed):
        return None
    return independent_bootstrap_difference(arrays_a[reduction.replicates], arrays_b[reduction.replicates],
                                            reduction(arrays_a), reduction(arrays_b))


@dataclass(frozen=True)
class ColumnComparison:
    column: str
    unit: str
    higher_is_better: bool | None
    a: float | None
    b: float | None
    paired: PairedResult | None
    why: str = ""  # why there is no paired result

    @property
    def significant(self) -> bool:
        return self.paired is not None and self.paired.p_value < 1 - self.paired.level


def compare_records(a: Record, arrays_a: Mapping[str, np.ndarray], b: Record, arrays_b: Mapping[str, np.ndarray],
                    columns: list[str], resolve: Resolver) -> list[ColumnComparison]:
    """Each column's values for a and b and their paired comparison (a - b)."""
    out = []
    points = same_points(arrays_a, arrays_b)
    shared: dict = {}  # grouped columns' per-resample results, per model (Reduction.group)
    for name in columns:
        info = a.columns.get(name) or b.columns.get(name)
        va, vb = a.value(name), b.value(name)
        paired, why = None, ""
        reduction = resolve(a, name) if name in a.columns else None
        if va is None or vb is None:
            why = "a value is missing"
        elif reduction is None:
            why = "reduction unknown (its plugin is not installed)"
        elif reduction.interval == "none":
            why = "no per-point data (no interval)"
        elif reduction.interval == "sample-bootstrap" or reduction.over != TEST_POINTS:
            paired = paired_column(reduction, arrays_a, arrays_b, shared)
            why = "" if paired is not None else "no bootstrap replicates stored (an older result: rerun)"
        elif not points:
            why = "not the same test points"
        else:
            paired = paired_column(reduction, arrays_a, arrays_b, shared)
            why = "" if paired is not None else "undefined on most resamples"
        out.append(ColumnComparison(name, info.unit if info else "", info.higher_is_better if info else None,
                                    va, vb, paired, why))
    return out

