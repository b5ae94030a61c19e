"""0.1's metric contract, adapted to 0.3's (kept for one minor version; see docs/compatibility.md).

In 0.1 a metric's ``compute(ctx)`` returned its numbers (a :class:`MetricResult`, or a plain
``{column: value}``) and, to be sharded, declared ``merge(arrays, infos)`` recomputing them from the
per-point arrays of all shards. Since 0.2, ``compute`` returns only per-point arrays
(:class:`benchbed.plugin.MetricOutput`) and each column declares its reduction (``Column.reduce``).

The semantics map: :func:`MetricSpec` (0.1's constructor) builds a 0.3 ``MetricSpec`` whose
``compute`` keeps the arrays and info of 0.1's result, and whose every column reduces by calling
0.1's ``merge`` on the merged arrays. What does not map is refused with one line pointing at the
CHANGELOG's migration section: a metric of scope "example" without ``merge`` (its numbers cannot be
recomputed from arrays). A reduction sees arrays only, so ``merge`` is called with an empty list of
infos and the info it returns is not kept: the record's info is ``compute``'s, combined across
shards by the default rule (shards must agree; port to ``info_reduce`` when they do not).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchbed.compat import MIGRATION
from benchbed.contracts import specs
from benchbed.contracts.errors import ConfigError
from benchbed.contracts.reductions import Reduction, scalar


@dataclass
class MetricResult:
    """0.1's metric result: numbers, per-point arrays and JSON-able info (deprecated)."""

    values: dict[str, float]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, value: MetricResult | Mapping[str, float]) -> MetricResult:
        return value if isinstance(value, MetricResult) else cls(values=dict(value))


def _merged_value(merge: Callable, column: str, metric: str) -> Callable[[Mapping[str, Any]], float]:
    def reduce(arrays: Mapping[str, Any]) -> float:
        result = MetricResult.of(merge({k: np.asarray(v) for k, v in arrays.items()}, []))
        if column not in result.values:
            raise KeyError(f"0.1 metric {metric!r}: merge returned no value for column {column!r}")
        return float(result.values[column])
    return reduce


class _MergeReduction(Reduction):
    """A column's number from 0.1's ``merge`` over all merged arrays (its inputs are not declared)."""

    def __call__(self, arrays: Mapping[str, Any]) -> float:
        return float(self.fn(arrays))


def _adapted_column(col: specs.Column, reduce: Reduction) -> specs.Column:
    return specs.Column(col.name, col.description, col.higher_is_better, col.unit, reduce=reduce,
                        **{k: getattr(col, k) for k in ("headline", "rank", "plot", "group", "protocol")})


def _scalar_key(metric: str, column: str) -> str:
    return f"{metric}__{column}"


def MetricSpec(name: str, columns: tuple, compute: Callable, description: str = "", needs_attack: bool = False,
               scope: str = "example", merge: Callable | None = None, **new_fields: Any) -> specs.MetricSpec:
    """0.1's ``MetricSpec(...)``: returns the equivalent 0.3 :class:`benchbed.plugin.MetricSpec`."""
    if scope == "example" and merge is None:
        raise ConfigError(f"metric {name!r} is written for benchbed 0.1 (numbers returned by compute, no merge): "
                          f"port it to MetricOutput + Column.reduce ({MIGRATION})")
    requires = tuple(new_fields.pop("requires", ())) + (("attack",) if needs_attack else ())

    def adapted_compute(ctx):
        result = MetricResult.of(compute(ctx))
        arrays = dict(result.arrays)
        if scope == "model":  # 0.1 kept a model-scope metric's numbers as they came: keep each as a scalar
            arrays.update({_scalar_key(name, k): np.asarray(float(v)) for k, v in result.values.items()})
        return specs.MetricOutput(arrays=arrays, info=dict(result.info))

    adapted_compute.__wrapped__ = compute  # type: ignore[attr-defined]
    if scope == "model":
        reductions = {c.name: scalar(_scalar_key(name, c.name)) for c in columns}
    else:
        reductions = {c.name: _MergeReduction("merge", (), _merged_value(merge, c.name, name)) for c in columns}
    return specs.MetricSpec(name=name, columns=tuple(_adapted_column(c, reductions[c.name]) for c in columns),
                            compute=adapted_compute, description=description, scope=scope,
                            requires=tuple(dict.fromkeys(requires)), **new_fields)
