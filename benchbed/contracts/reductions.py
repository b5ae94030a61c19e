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


@dataclass(frozen=True)
class Reduction:
    """``fn(*arrays[inputs]) -> float``, called ``name`` (shown as ``name(input, ...)``)."""

    name: str
    inputs: tuple[str, ...]
    fn: Callable[..., float]

    def __call__(self, arrays: Mapping[str, Any]) -> float:
        missing = [k for k in self.inputs if k not in arrays]
        if missing:
            raise KeyError(f"reduction {self.describe()} needs array(s) {', '.join(missing)}, which the metric "
                           f"did not produce")
        return float(self.fn(*(np.asarray(arrays[k]) for k in self.inputs)))

    def describe(self) -> str:
        return f"{self.name}({', '.join(self.inputs)})"


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
def percent(flags: str) -> Reduction:
    return Reduction("percent", (flags,), percent_true)


def mean(values: str) -> Reduction:
    return Reduction("mean", (values,), finite_mean)


def scalar(name: str) -> Reduction:
    return Reduction("scalar", (name,), scalar_value)


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
