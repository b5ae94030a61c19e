"""Units of work: (model, track, shard of whole attack blocks), their keys, and how shards merge.

A track's test points are cut into attack blocks of ``track.block_size`` examples (block ``b`` is
attacked with seed ``track.seed + b``, see :mod:`benchbed.context`). A run with ``--shards N`` groups
the blocks into ``N`` contiguous shards, one unit per (model, shard). Because every block sees the
same attack calls whichever shard it lands in, the per-point arrays of the shards, concatenated,
are exactly the arrays of an unsharded run; the per-model numbers are then recomputed from them.

Metric scope (``MetricSpec.scope``):

- ``"example"`` (default): computed from the unit's test points. Its per-point arrays are
  concatenated across shards, and its numbers are recomputed from the merged arrays by the
  metric's ``merge(arrays, infos)`` function (``infos``: the metric's ``info`` of each shard, in
  order). A metric without ``merge`` still runs unsharded; a sharded run of a track that uses it is
  refused with a clear error rather than averaged approximately.
- ``"model"``: computed once per (model, track) whatever the sharding (e.g. FID of samples drawn
  from the classifier, which does not depend on the test points). In a sharded run it gets its own
  unit, ``model``; its arrays are stored whole (they need not be per point).

An unsharded run is one unit, ``all``, computing every metric (so nothing is loaded twice).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import BenchbedError, ConfigError
from .provenance import stable_hash
from .specs import MetricResult, ModelSpec, TrackSpec

ALL = "all"
MODEL = "model"
SCOPES = ("example", "model")


@dataclass(frozen=True)
class Unit:
    """One piece of work: a model on test points [start, stop) of a track (or the model-level unit)."""

    model: str
    track: str
    uid: str  # "all" | "shard-0002-of-0004" | "model"
    shard: int | None  # 0-based example shard; None for the model-level unit
    n_shards: int
    start: int
    stop: int
    metrics: tuple[str, ...]
    key: str

    @property
    def indices(self) -> np.ndarray:
        return np.arange(self.start, self.stop, dtype=np.int64)

    @property
    def per_example(self) -> bool:
        return self.uid != MODEL

    def describe(self) -> str:
        if self.uid == ALL:
            return f"{self.model}"
        if self.uid == MODEL:
            return f"{self.model} [model-level metrics]"
        return f"{self.model} [shard {self.shard + 1}/{self.n_shards}: points {self.start}-{self.stop - 1}]"

    def info(self) -> dict[str, Any]:
        return {"id": self.uid, "shard": self.shard, "n_shards": self.n_shards, "start": self.start,
                "stop": self.stop, "metrics": list(self.metrics), "key": self.key}


def shard_id(shard: int, n_shards: int) -> str:
    return f"shard-{shard + 1:04d}-of-{n_shards:04d}"


def metric_scope(metric) -> str:
    return getattr(metric, "scope", "example") or "example"


def metric_merge(metric):
    return getattr(metric, "merge", None)


def metric_columns(metric, track: TrackSpec):
    columns_for = getattr(metric, "columns_for", None)
    return tuple(columns_for(track)) if columns_for is not None else tuple(metric.columns)


def n_blocks(track: TrackSpec) -> int:
    return math.ceil(track.n_examples / track.block_size)


def result_key(model: ModelSpec, track: TrackSpec, versions: Mapping[str, str]) -> str:
    """What a model's merged numbers on a track depend on (not how the work was sharded)."""
    return stable_hash({"model": model.name, "checkpoint": model.checkpoint_sha256, "track": track.info(),
                        "versions": dict(versions)})


def shard_ranges(track: TrackSpec, n_shards: int) -> list[tuple[int, int]]:
    """[start, stop) example ranges of ``n_shards`` contiguous groups of whole attack blocks."""
    blocks = n_blocks(track)
    n_shards = max(1, min(n_shards, blocks))
    groups = np.array_split(np.arange(blocks), n_shards)
    return [(int(g[0]) * track.block_size, min(track.n_examples, (int(g[-1]) + 1) * track.block_size))
            for g in groups]


def plan_units(model: ModelSpec, track: TrackSpec, registry, n_shards: int,
               versions: Mapping[str, str]) -> list[Unit]:
    """The units of one model on one track. ``n_shards`` is capped at the track's number of blocks."""
    if n_shards < 1:
        raise ConfigError(f"--shards must be >= 1, got {n_shards}")
    rkey = result_key(model, track, versions)
    ranges = shard_ranges(track, n_shards)
    k = len(ranges)

    def unit(uid: str, shard: int | None, start: int, stop: int, metrics: Sequence[str]) -> Unit:
        key = stable_hash({"result": rkey, "unit": uid, "start": start, "stop": stop, "metrics": list(metrics)})
        return Unit(model.name, track.name, uid, shard, k, start, stop, tuple(metrics), key)

    if k == 1:
        return [unit(ALL, 0, 0, track.n_examples, track.metrics)]
    example, model_level = [], []
    for name in track.metrics:
        metric = registry.metric(name)
        scope = metric_scope(metric)
        if scope not in SCOPES:
            raise ConfigError(f"metric {name!r} has scope {scope!r}: use one of {SCOPES}")
        if scope == "model":
            model_level.append(name)
        else:
            if metric_merge(metric) is None:
                raise ConfigError(
                    f"metric {name!r} cannot be sharded: it declares no merge function to combine its "
                    f"shards' per-point arrays (MetricSpec.merge), nor scope='model'. Run with --shards 1, "
                    f"or give the metric a merge")
            example.append(name)
    units = [unit(shard_id(i, k), i, start, stop, example) for i, (start, stop) in enumerate(ranges)] \
        if example else []
    if model_level:
        units.append(unit(MODEL, None, 0, track.n_examples, model_level))
    return units


def merge_arrays(parts: Sequence[tuple[Unit, dict[str, np.ndarray]]]) -> dict[str, np.ndarray]:
    """Concatenate the per-point arrays of example shards (in index order); keep model-level ones."""
    example = sorted([(u, a) for u, a in parts if u.per_example], key=lambda p: p[0].start)
    merged: dict[str, np.ndarray] = {}
    if len(example) == 1:
        merged.update(example[0][1])
    elif example:
        names = set(example[0][1])
        for unit, arrays in example:
            if set(arrays) != names:
                raise BenchbedError(f"shards of {unit.model} on {unit.track} stored different arrays "
                                    f"({sorted(names ^ set(arrays))}): rerun with --force")
            for name, values in arrays.items():
                if values.ndim == 0 or values.shape[0] != unit.stop - unit.start:
                    raise BenchbedError(
                        f"array {name!r} of {unit.model} on {unit.track} has shape {values.shape}, not one "
                        f"row per test point ({unit.stop - unit.start}): a metric of scope 'example' must "
                        f"store per-point arrays only (or declare scope='model')")
        for name in sorted(names):
            merged[name] = np.concatenate([arrays[name] for _, arrays in example], axis=0)
        expected = np.arange(example[0][0].start, example[-1][0].stop)
        if "index" in merged and not np.array_equal(merged["index"], expected):
            raise BenchbedError(f"shards of {example[0][0].model} on {example[0][0].track} do not cover the "
                                f"track's points exactly once: rerun with --force")
    for unit, arrays in parts:
        if unit.per_example:
            continue
        for name, values in arrays.items():
            if name == "index":
                continue
            if name in merged:
                raise BenchbedError(f"array {name!r} is produced both per shard and by the model-level unit "
                                    f"of {unit.model}: rename one of them")
            merged[name] = values
    return merged


def _sum_dicts(dicts: Sequence[Mapping[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for name, count in d.items():
            out[name] = out.get(name, 0) + count
    return out


def _union(lists: Sequence[Sequence[Any]]) -> list[Any]:
    out: list[Any] = []
    for items in lists:
        out.extend(i for i in items if i not in out)
    return out


def merge_records(units: Sequence[Unit], records: Sequence[dict[str, Any]],
                  arrays: Sequence[dict[str, np.ndarray]], track: TrackSpec, registry, *,
                  registered_n_examples: int, key: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The per-model record (today's format) and arrays, from the model's finished units.

    Numbers of example-scope metrics with a ``merge`` come from ``merge`` over the merged arrays,
    also for an unsharded run, so a sharded run and an unsharded one go through the same code on
    the same arrays and agree exactly.
    """
    parts = list(zip(units, records, arrays))
    merged_arrays = merge_arrays([(u, a) for u, _, a in parts])
    values: dict[str, float] = {}
    info: dict[str, Any] = {}
    columns: dict[str, dict[str, Any]] = {}
    for name in track.metrics:
        metric = registry.metric(name)
        cols = metric_columns(metric, track)
        for col in cols:
            columns[col.name] = col.info(name)
        owners = [(u, r) for u, r, _ in parts if name in u.metrics]
        if not owners:
            raise BenchbedError(f"no unit of {units[0].model} computed metric {name!r}")
        merge = metric_merge(metric)
        if metric_scope(metric) == "example" and merge is not None:
            infos = [r.get("metric_info", {}).get(name, {}) for _, r in owners]
            result = MetricResult.of(merge(merged_arrays, infos))
            metric_values = {k: float(v) for k, v in result.values.items()}
            metric_info = result.info
        elif len(owners) == 1:
            rec = owners[0][1]
            metric_values = {c.name: rec["metrics"][c.name] for c in cols if c.name in rec["metrics"]}
            metric_info = rec.get("metric_info", {}).get(name)
        else:  # plan_units refuses this; a store edited by hand could still get here
            raise BenchbedError(f"metric {name!r} has {len(owners)} shards but no merge function")
        values.update(metric_values)
        if metric_info:
            info[name] = metric_info
    first = records[0]
    attack_info = info.get("robust_accuracy", {})
    example_records = [r for u, r, _ in parts if u.per_example] or list(records)
    n_points = sum(u.stop - u.start for u in units if u.per_example) or track.n_examples
    timings: dict[str, float] = {}
    for rec in records:
        for k, v in rec.get("timings_s", {}).items():
            timings[k] = round(timings.get(k, 0.0) + v, 3)
    devices = _union([[r.get("device")] for r in records])
    record = {
        "schema_version": first.get("schema_version"),
        "status": "ok",
        "model": first["model"],
        "track": track.name,
        "dataset": track.dataset,
        "metrics": values,
        "columns": columns,
        "n_examples": n_points,
        "quick": n_points < registered_n_examples,
        "seed": track.seed,
        "norm": track.norm,
        "eps": track.eps,
        "attack": {"name": track.attack,
                   "version": attack_info.get("attack_version", track.attack_options.get("version")),
                   "flipped_by": attack_info.get("flipped_by", {}), "warnings": attack_info.get("warnings", [])},
        "flags": _union([r.get("flags", []) for r in example_records]),
        "metric_info": info,
        "arrays": sorted(merged_arrays),
        "wall_time_s": round(sum(r.get("wall_time_s", 0.0) for r in records), 3),
        "timings_s": timings,
        "device": devices[0] if len(devices) == 1 else "; ".join(str(d) for d in devices),
        "versions": first.get("versions"),
        "checkpoint_sha256": first.get("checkpoint_sha256"),
        "model_info": first.get("model_info"),
        "track_info": track.info(),
        "unit_key": key,
        "result_key": key,
        "units": [{**u.info(), "wall_time_s": r.get("wall_time_s"), "device": r.get("device"),
                   "finished_at": r.get("finished_at")} for u, r, _ in parts],
        "finished_at": max(str(r.get("finished_at", "")) for r in records),
    }
    return record, merged_arrays


# -- merge functions of the built-in accuracy metrics -----------------------------------------------
def percent_of(flags: np.ndarray) -> float:
    """Percent of true flags, for unsharded numbers (``benchbed.builtin.metrics.percent``) and merged ones."""
    flags = np.asarray(flags).astype(bool)
    return 100.0 * float(int(flags.sum())) / max(1, int(flags.size))


def sum_counts(infos: Sequence[Mapping[str, Any]], field: str) -> dict[str, int]:
    return _sum_dicts([i.get(field, {}) for i in infos])


def union_lists(infos: Sequence[Mapping[str, Any]], field: str) -> list[Any]:
    return _union([i.get(field, []) for i in infos])
