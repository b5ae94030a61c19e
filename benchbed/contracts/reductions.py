"""Declared reductions: how a column's number comes out of per-point arrays (pure functions).

A metric's ``compute`` returns per-point arrays; each of its columns names a :class:`Reduction` of
those arrays. Shards' arrays are concatenated in index order before reducing, so an unsharded run,
a sharded run and ``benchbed.evaluate`` compute every number with the same function on the same
arrays (the habit of torchmetrics' declared reductions and lm-evaluation-harness' registered
aggregations). Reductions are named, and the name is recorded with each column.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchbed.functional.uncertainty import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    LEVEL,
    Interval,
    bootstrap_interval,
    bootstrap_replicates,
    exact_interval,
    percentile_bounds,
    wilson_interval,
)

INTERVAL_METHODS = ("wilson", "exact", "bootstrap", "sample-bootstrap", "none")
INTERVAL_TEXT = {
    "wilson": "Wilson score interval over the test points",
    "exact": "Clopper-Pearson exact interval over the test points",
    "bootstrap": f"percentile bootstrap over the test points ({BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED})",
    "sample-bootstrap": "percentile bootstrap over the test points; replicates made by the metric, resamples and "
                        "seed in its info",
}


@dataclass(frozen=True)
class Reduction:
    """``fn(*arrays[inputs]) -> float``, called ``name`` (shown as ``name(input, ...)``).

    ``interval`` names how the number's confidence interval comes from the same per-point arrays:
    "wilson" or "exact" (a percentage of true flags: binomial intervals), "bootstrap" (the seeded
    percentile bootstrap over test points, for any statistic), "sample-bootstrap" (the percentiles of
    bootstrap replicates the metric made itself over its own samples and stored in the array named
    ``replicates``: e.g. FID over generated samples, whose reference features the record cannot hold),
    or "none" (no interval: a count, or a model-level number without replicates).
    """

    name: str
    inputs: tuple[str, ...]
    fn: Callable[..., float]
    interval: str = "bootstrap"
    replicates: str = ""  # with interval="sample-bootstrap": the array of the statistic's bootstrap replicates
    over: str = "the test points"  # what the arrays' rows are, for the interval's description
    # Several columns' numbers computed by one function (``group(*arrays)`` returns them all, this column's is
    # ``group(...)[key]``): a record's bootstrap then computes the group once per resample for all of them.
    group: Callable[..., Mapping[str, float]] | None = None
    key: str = ""

    def __post_init__(self):
        if self.interval not in INTERVAL_METHODS:
            raise ValueError(f"reduction {self.name!r}: interval {self.interval!r} is not one of {INTERVAL_METHODS}")
        if (self.interval == "sample-bootstrap") != bool(self.replicates):
            raise ValueError(f"reduction {self.name!r}: interval 'sample-bootstrap' and a replicates array go "
                             f"together (got interval {self.interval!r}, replicates {self.replicates!r})")
        if (self.group is None) != (not self.key):
            raise ValueError(f"reduction {self.name!r}: a group function and its key go together (got key "
                             f"{self.key!r})")

    def __call__(self, arrays: Mapping[str, Any]) -> float:
        missing = [k for k in self.inputs if k not in arrays]
        if missing:
            raise KeyError(f"reduction {self.describe()} needs array(s) {', '.join(missing)}, which the metric "
                           f"did not produce (a result stored by an older version lacks them: rerun with --force)")
        return float(self.fn(*(np.asarray(arrays[k]) for k in self.inputs)))

    def resampled(self, values: Sequence[np.ndarray], shared: dict, *, indices: np.ndarray | None = None,
                  tag: Any = None) -> np.ndarray:
        """A grouped column's value on each bootstrap resample of ``values`` (its input arrays): the group is
        computed once per resample and kept in ``shared`` under ``tag`` (which resamples, which model) for the
        other columns of the group."""
        cache_key = (self.group, self.inputs, tag)
        if cache_key not in shared:
            shared[cache_key] = bootstrap_replicates(self.group, values, indices=indices)
        return np.array([float(r[self.key]) for r in shared[cache_key]], dtype=np.float64)

    def describe(self) -> str:
        return f"{self.name}({', '.join(self.inputs)})"

    def interval_text(self) -> str:
        """The interval's method in words (stored with each interval and in the column's protocol)."""
        return INTERVAL_TEXT.get(self.interval, "").replace("the test points", self.over)

    def interval_of(self, arrays: Mapping[str, Any], *, level: float = LEVEL,
                    indices: np.ndarray | None = None, shared: dict | None = None) -> Interval | None:
        """This number's interval from the same arrays (None: no interval declared, or none defined).

        ``indices``: the bootstrap resamples to use (one draw shared by all columns of a record, so
        their intervals come from the same resampled points); by default drawn with the fixed seed.
        ``shared``: a dict kept across the columns of one record (same arrays, same ``indices``), where a
        grouped reduction's per-resample results are kept for its siblings (the same numbers, computed once).
        """
        if self.interval == "none":
            return None
        if self.interval == "sample-bootstrap":
            if self.replicates not in arrays:
                return None  # a result made before the metric kept replicates
            bounds = percentile_bounds(np.asarray(arrays[self.replicates], dtype=np.float64).reshape(-1), level)
            return None if bounds is None else Interval(bounds[0], bounds[1], level, self.interval_text())
        values = [np.asarray(arrays[k]) for k in self.inputs]
        if self.interval in ("wilson", "exact"):
            flags = values[0].astype(bool).reshape(-1)
            if flags.size == 0:
                return None
            make = wilson_interval if self.interval == "wilson" else exact_interval
            low, high = make(int(flags.sum()), int(flags.size), level)
            return Interval(100.0 * low, 100.0 * high, level, self.interval_text())
        if not values or any(v.ndim == 0 or v.shape[0] < 2 for v in values):
            return None  # not per-point arrays (or one point): nothing to resample
        if self.group is not None and shared is not None:
            bounds = percentile_bounds(self.resampled(values, shared, indices=indices, tag=id(indices)), level)
        else:
            bounds = bootstrap_interval(self.fn, values, level=level, indices=indices)
        if bounds is None:
            return None
        return Interval(bounds[0], bounds[1], level, self.interval_text())


# -- the maths ----------------------------------------------------------------------------------------
def percent_true(flags: np.ndarray) -> float:
    """Percent of true flags (0 points: 0.0)."""
    flags = np.asarray(flags).astype(bool).reshape(-1)
    return 100.0 * float(int(flags.sum())) / max(1, int(flags.size))


def finite_mean(values: np.ndarray) -> float:
    """Mean over the finite entries (NaN marks "no value for this point"); NaN when there are none."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else math.nan


def scalar_value(value: np.ndarray) -> float:
    """The number kept as a 0-d (or one-element) array, for metrics of scope "model" (e.g. FID)."""
    v = np.asarray(value, dtype=np.float64).reshape(-1)
    if v.size != 1:
        raise ValueError(f"expected one number, got an array of {v.size}")
    return float(v[0])


# -- constructors ---------------------------------------------------------------------------------------
def percent(flags: str, interval: str = "wilson", over: str = "the test points") -> Reduction:
    return Reduction("percent", (flags,), percent_true, interval, over=over)


def mean(values: str) -> Reduction:
    return Reduction("mean", (values,), finite_mean)


RESAMPLED = "_resampled"  # the array of a model-level number's bootstrap replicates: "<its array>_resampled"


def scalar(name: str, resampled: bool = False, over: str = "the generated samples") -> Reduction:
    """A model-level number (a 0-d array); ``resampled``: the metric also stores its bootstrap replicates
    over ``over`` as ``<name>_resampled``, and the interval is their percentile interval."""
    if not resampled:
        return Reduction("scalar", (name,), scalar_value, "none")
    return Reduction("scalar", (name,), scalar_value, "sample-bootstrap", name + RESAMPLED, over=over)


# -- info (non-array) reductions across shards ------------------------------------------------------------
def reduce_info(infos: Sequence[Mapping[str, Any]], how: Mapping[str, str], owner: str) -> dict[str, Any]:
    """Combine the ``info`` dicts of one metric's shards, key by key, as the metric declared.

    "sum": numbers (or dicts of numbers, key by key) added; "union": lists joined, first seen
    first; "first": the first shard's; "same" (default): all shards must agree, else an error
    naming the key -- never a silent pick.
    """
    infos = [dict(i) for i in infos]
    if len(infos) == 1:
        return infos[0]
    out: dict[str, Any] = {}
    keys: list[str] = []
    for info in infos:
        keys.extend(k for k in info if k not in keys)
    for key in keys:
        values = [i[key] for i in infos if key in i]
        rule = how.get(key, "same")
        if rule == "sum":
            out[key] = _sum(values)
        elif rule == "union":
            merged: list[Any] = []
            for v in values:
                merged.extend(x for x in v if x not in merged)
            out[key] = merged
        elif rule == "first":
            out[key] = values[0]
        else:
            if any(v != values[0] for v in values[1:]):
                raise ValueError(f"{owner}: shards disagree on info[{key!r}] ({values[0]!r} vs another value); "
                                 f"declare how it combines in MetricSpec.info_reduce")
            out[key] = values[0]
    return out


def _sum(values: Sequence[Any]) -> Any:
    if all(isinstance(v, Mapping) for v in values):
        out: dict[str, Any] = {}
        for v in values:
            for k, x in v.items():
                out[k] = out[k] + x if k in out else x
        return out
    return sum(values)


def column_values(columns, arrays: Mapping[str, Any]) -> dict[str, float]:
    """Each column's number from the arrays (what a record holds): handy in a metric's own tests."""
    return {c.name: float(c.reduce(arrays)) for c in columns}
