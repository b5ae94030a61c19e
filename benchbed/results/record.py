"""The result record: one typed :class:`Record` per (model, track, variant), one builder, one reader.

A unit of work (model, track, shard of test points) produces a :class:`UnitResult`; a model's units
become its :class:`Record` through :func:`build_record` -- the only place a record is made, whether
the units ran unsharded, sharded, on Ray workers or from ``benchbed.evaluate``. Every number in a
record comes from its column's declared reduction over the merged per-point arrays.

Both types serialise to plain JSON (:meth:`Record.to_dict`) with a ``record_sha256`` over their
canonical content, and are read back only through :meth:`Record.from_dict` / :meth:`UnitResult.from_dict`,
which check the schema version, every field's type and the checksum, and raise a one-line
:class:`~benchbed.contracts.errors.RecordError` naming what is wrong. A record that fails is never ranked or
reused (see :mod:`benchbed.results.store`).
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from benchbed.contracts.errors import RecordError
from benchbed.contracts.reductions import reduce_info
from benchbed.contracts.specs import AttackWarning, MetricSpec, TrackSpec
from benchbed.functional.uncertainty import Interval
from benchbed.results.intervals import column_interval, interval_protocol, shared_resamples

SCHEMA_VERSION = 2
FULL = ""  # the variant of a record made with the track's own protocol
STATUSES = ("ok", "partial")


# -- canonical JSON and checksums -----------------------------------------------------------------------
def _json_default(obj):
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def dumps(obj: Any) -> str:
    """Pretty, key-sorted JSON (NaN allowed: a statistic over no points is NaN)."""
    return json.dumps(obj, indent=2, sort_keys=True, allow_nan=True, default=_json_default) + "\n"


def content_sha256(data: Mapping[str, Any]) -> str:
    """sha256 of a record's canonical JSON, without its own ``record_sha256`` field."""
    body = {k: v for k, v in data.items() if k != "record_sha256"}
    blob = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True, default=_json_default)
    return hashlib.sha256(blob.encode()).hexdigest()


# -- field validation (one reader, strict) ----------------------------------------------------------------
def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "str": (lambda v: isinstance(v, str), "a string"),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "float": (_is_number, "a number"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "dict": (lambda v: isinstance(v, dict), "an object"),
    "list": (lambda v: isinstance(v, list), "a list"),
    "numbers": (lambda v: isinstance(v, dict) and all(isinstance(k, str) and _is_number(x) for k, x in v.items()),
                "an object of numbers"),
    "strings": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of strings"),
    "text_map": (lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
                 "an object of strings"),
    "opt_dict": (lambda v: v is None or isinstance(v, dict), "an object or null"),
}


def _check(data: Mapping[str, Any], schema: Mapping[str, str], what: str) -> None:
    for key, kind in schema.items():
        if key not in data:
            raise RecordError(f"{what} has no {key!r} field")
        ok, expected = _CHECKS[kind]
        if not ok(data[key]):
            raise RecordError(f"{what}: field {key!r} must be {expected}, got {type(data[key]).__name__}")


def _verify(data: Any, schema: Mapping[str, str], what: str) -> None:
    if not isinstance(data, dict):
        raise RecordError(f"{what} is not a JSON object")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise RecordError(f"{what} has schema_version {version!r}, this benchbed reads {SCHEMA_VERSION}: "
                          f"recompute it with `benchbed run`")
    _check(data, schema, what)
    if data["record_sha256"] != content_sha256(data):
        raise RecordError(f"{what}: its record_sha256 does not match its content (edited or damaged)")


# -- parts ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ColumnInfo:
    """How a record describes one of its columns (from :meth:`benchbed.contracts.specs.Column.info`)."""

    metric: str
    description: str
    higher_is_better: bool | None
    unit: str
    headline: bool = False
    rank: int = 0
    plot: str = ""
    group: str = ""
    protocol: str = ""
    reduce: str = ""
    order: int = 0  # position among the record's columns: the metrics' order, then each metric's declaration

    @classmethod
    def from_dict(cls, d: Any, name: str) -> ColumnInfo:
        if not isinstance(d, dict):
            raise RecordError(f"column {name!r} is not an object")
        _check(d, {"metric": "str", "description": "str", "unit": "str", "headline": "bool", "rank": "int",
                   "plot": "str", "group": "str", "protocol": "str", "reduce": "str", "order": "int"},
               f"column {name!r}")
        hib = d.get("higher_is_better")
        if hib is not None and not isinstance(hib, bool):
            raise RecordError(f"column {name!r}: higher_is_better must be true, false or null")
        return cls(**{f.name: d[f.name] if f.name != "higher_is_better" else hib for f in fields(cls)})


@dataclass(frozen=True)
class Flag:
    """Something worth knowing about a result (an attack's warning, or benchbed's own observation)."""

    label: str
    detail: str
    source: str = "attack"  # "attack" | "benchbed"

    @classmethod
    def from_dict(cls, d: Any) -> Flag:
        if not isinstance(d, dict):
            raise RecordError("a flag is not an object")
        _check(d, {"label": "str", "detail": "str", "source": "str"}, "flag")
        return cls(d["label"], d["detail"], d["source"])


@dataclass(frozen=True)
class AttackProvenance:
    """Which attack made the adversarial points, and what it reported (summed over units)."""

    name: str
    library: str
    library_version: str
    version: str
    options: dict[str, Any]
    flipped_by: dict[str, int]
    warnings: tuple[AttackWarning, ...] = ()

    @classmethod
    def from_dict(cls, d: Any) -> AttackProvenance | None:
        if d is None:
            return None
        if not isinstance(d, dict):
            raise RecordError("attack is not an object")
        _check(d, {"name": "str", "library": "str", "library_version": "str", "version": "str", "options": "dict",
                   "flipped_by": "numbers", "warnings": "list"}, "attack")
        warnings = []
        for w in d["warnings"]:
            if not isinstance(w, dict) or not isinstance(w.get("label"), str) or not isinstance(w.get("detail"), str):
                raise RecordError("attack: each warning must be an object with a label and a detail")
            warnings.append(AttackWarning(w["label"], w["detail"]))
        return cls(d["name"], d["library"], d["library_version"], d["version"], dict(d["options"]),
                   {k: int(v) for k, v in d["flipped_by"].items()}, tuple(warnings))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "library": self.library, "library_version": self.library_version,
                "version": self.version, "options": dict(self.options), "flipped_by": dict(self.flipped_by),
                "warnings": [w.info() for w in self.warnings]}


def merge_attacks(parts: Sequence[AttackProvenance | None]) -> AttackProvenance | None:
    """The attack of several units: counts summed, warnings joined (first seen first)."""
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    first = parts[0]
    flipped: dict[str, int] = {}
    warnings: list[AttackWarning] = []
    for p in parts:
        for k, v in p.flipped_by.items():
            flipped[k] = flipped.get(k, 0) + int(v)
        warnings.extend(w for w in p.warnings if w not in warnings)
    return AttackProvenance(first.name, first.library, first.library_version, first.version, dict(first.options),
                            flipped, tuple(warnings))


@dataclass(frozen=True)
class UnitInfo:
    id: str  # "all" | "shard-0002-of-0004" | "model"
    shard: int | None
    n_shards: int
    start: int
    stop: int
    metrics: tuple[str, ...]
    key: str

    @classmethod
    def from_dict(cls, d: Any) -> UnitInfo:
        if not isinstance(d, dict):
            raise RecordError("unit is not an object")
        _check(d, {"id": "str", "n_shards": "int", "start": "int", "stop": "int", "metrics": "strings",
                   "key": "str"}, "unit")
        shard = d.get("shard")
        if shard is not None and (not isinstance(shard, int) or isinstance(shard, bool)):
            raise RecordError("unit: shard must be an integer or null")
        return cls(d["id"], shard, d["n_shards"], d["start"], d["stop"], tuple(d["metrics"]), d["key"])

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["metrics"] = list(self.metrics)
        return d


def _flags(data: Any) -> tuple[Flag, ...]:
    if not isinstance(data, list):
        raise RecordError("flags must be a list")
    return tuple(Flag.from_dict(f) for f in data)


def _strict_numbers(values: Mapping[str, Any], what: str) -> dict[str, float]:
    for k, v in values.items():
        if not _is_number(v):
            raise RecordError(f"{what}[{k!r}] is not a number")
    return {k: float(v) for k, v in values.items()}


# -- a unit's result -------------------------------------------------------------------------------------
UNIT_SCHEMA = {
    "schema_version": "int", "model": "str", "track": "str", "variant": "str", "unit": "dict",
    "metric_info": "dict", "metric_errors": "text_map", "attack": "opt_dict", "flags": "list", "arrays": "strings",
    "whole_arrays": "strings", "arrays_sha256": "str", "weights_sha256": "str", "checkpoint_sha256": "str",
    "versions": "text_map", "plugins": "dict", "model_info": "dict", "track_info": "dict", "device": "str",
    "wall_time_s": "float",
    "timings_s": "numbers", "finished_at": "str", "run_id": "str", "attempt": "int", "record_sha256": "str",
}


@dataclass(frozen=True)
class UnitResult:
    """What one unit computed: each metric's info (or its error), the attack's provenance, flags, and
    the names of its per-point arrays (stored beside it, checksummed)."""

    model: str
    track: str
    variant: str
    unit: UnitInfo
    metric_info: dict[str, dict[str, Any]]
    metric_errors: dict[str, str]
    attack: AttackProvenance | None
    flags: tuple[Flag, ...]
    arrays: tuple[str, ...]
    whole_arrays: tuple[str, ...]  # arrays of scope-"model" metrics: not per point, kept whole
    weights_sha256: str
    checkpoint_sha256: str
    versions: dict[str, str]
    plugins: dict[str, Any]
    model_info: dict[str, Any]
    track_info: dict[str, Any]
    device: str
    wall_time_s: float
    timings_s: dict[str, float]
    finished_at: str
    run_id: str = ""
    attempt: int = 1
    arrays_sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d.update(schema_version=SCHEMA_VERSION, unit=self.unit.to_dict(),
                 attack=self.attack.to_dict() if self.attack else None,
                 flags=[asdict(f) for f in self.flags], arrays=list(self.arrays),
                 whole_arrays=list(self.whole_arrays))
        d["record_sha256"] = content_sha256(d)
        return d

    @classmethod
    def from_dict(cls, data: Any, what: str = "unit result") -> UnitResult:
        _verify(data, UNIT_SCHEMA, what)
        kwargs = {f.name: data[f.name] for f in fields(cls)}
        kwargs.update(unit=UnitInfo.from_dict(data["unit"]), attack=AttackProvenance.from_dict(data["attack"]),
                      flags=_flags(data["flags"]), arrays=tuple(data["arrays"]),
                      whole_arrays=tuple(data["whole_arrays"]),
                      timings_s=_strict_numbers(data["timings_s"], "timings_s"), wall_time_s=float(data["wall_time_s"]))
        return cls(**kwargs)

    def with_run(self, run_id: str, arrays_sha256: str) -> UnitResult:
        from dataclasses import replace

        return replace(self, run_id=run_id, arrays_sha256=arrays_sha256)


# -- the record ------------------------------------------------------------------------------------------
RECORD_SCHEMA = {
    "schema_version": "int", "status": "str", "model": "str", "track": "str", "dataset": "str", "variant": "str",
    "metrics": "numbers", "columns": "dict", "metrics_run": "strings", "metric_errors": "text_map",
    "n_examples": "int", "registered_n_examples": "int", "seed": "int", "norm": "str", "eps": "float",
    "attack": "opt_dict", "flags": "list", "metric_info": "dict", "arrays": "strings", "arrays_sha256": "str",
    "checkpoint_sha256": "str", "weights_sha256": "str", "versions": "text_map", "plugins": "dict",
    "model_info": "dict", "track_info": "dict", "result_key": "str", "units": "list", "device": "str",
    "wall_time_s": "float", "timings_s": "numbers", "finished_at": "str", "run_id": "str", "record_sha256": "str",
}


@dataclass(frozen=True)
class Record:
    """One model's numbers on one track, with everything they depend on."""

    status: str  # "ok" | "partial" (some of the track's metrics were not selected, or failed)
    model: str
    track: str
    dataset: str
    variant: str  # FULL ("") for the track's own protocol; else e.g. "n30" (quick) or "n449-m3f2a1c0d"
    metrics: dict[str, float]
    columns: dict[str, ColumnInfo]
    metrics_run: tuple[str, ...]  # the metrics this record was asked to compute, in the track's order
    metric_errors: dict[str, str]  # metric -> one-line error, for those that failed
    n_examples: int
    registered_n_examples: int  # the registered track's number of test points
    seed: int
    norm: str
    eps: float
    attack: AttackProvenance | None
    flags: tuple[Flag, ...]
    metric_info: dict[str, dict[str, Any]]
    arrays: tuple[str, ...]
    arrays_sha256: str
    checkpoint_sha256: str  # what the plugin claims
    weights_sha256: str  # what benchbed computed from the weights it evaluated
    versions: dict[str, str]  # libraries
    plugins: dict[str, Any]  # role -> {plugin, distribution, version} of every plugin involved
    model_info: dict[str, Any]
    track_info: dict[str, Any]
    result_key: str
    units: tuple[UnitInfo, ...]
    device: str
    wall_time_s: float
    timings_s: dict[str, float]
    finished_at: str
    run_id: str = ""
    # column -> its confidence interval (from the same per-point arrays; see benchbed.functional.uncertainty).
    # Optional in the file: records written before intervals existed read back with none.
    intervals: dict[str, Interval] = field(default_factory=dict)

    # -- derived ---------------------------------------------------------------------------------
    @property
    def quick(self) -> bool:
        """Fewer test points than the registered track asks for (not directly comparable)."""
        return self.n_examples < self.registered_n_examples

    @property
    def partial(self) -> bool:
        return self.status == "partial"

    @property
    def attack_mode(self) -> str:
        """"standard" (the track's own attack options) or the ``--attack-mode`` the run chose."""
        mode = self.track_info.get("attack_mode", "standard")
        return mode if isinstance(mode, str) else "standard"

    @property
    def fast(self) -> bool:
        """Attacked in a cheaper mode than the track's own (a labelled variant, never ranked)."""
        return self.attack_mode != "standard"

    @property
    def track_metrics(self) -> tuple[str, ...]:
        return tuple(m for m in self.track_info.get("metrics", ()) if isinstance(m, str))

    @property
    def missing_metrics(self) -> tuple[str, ...]:
        """The track's metrics this record has no numbers of (not selected, or failed)."""
        return tuple(m for m in self.track_metrics if m not in self.metrics_run or m in self.metric_errors)

    def value(self, column: str) -> float | None:
        v = self.metrics.get(column)
        return None if v is None or math.isnan(v) else v

    def interval(self, column: str) -> Interval | None:
        """The column's confidence interval, if the record has one."""
        return self.intervals.get(column)

    def columns_where(self, **wanted: Any) -> list[str]:
        """Column names whose info matches, e.g. ``columns_where(headline=True)``, in declaration order."""
        ordered = sorted(self.columns.items(), key=lambda kv: kv[1].order)
        return [n for n, c in ordered if all(getattr(c, k) == v for k, v in wanted.items())]

    # -- serialisation -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d.update(schema_version=SCHEMA_VERSION, columns={k: asdict(v) for k, v in self.columns.items()},
                 metrics_run=list(self.metrics_run), attack=self.attack.to_dict() if self.attack else None,
                 flags=[asdict(f) for f in self.flags], arrays=list(self.arrays),
                 units=[u.to_dict() for u in self.units],
                 intervals={k: v.to_dict() for k, v in self.intervals.items()})
        if not self.intervals:  # a record without intervals keeps the exact form (and checksum) it always had
            del d["intervals"]
        d["record_sha256"] = content_sha256(d)
        return d

    @classmethod
    def from_dict(cls, data: Any, what: str = "record") -> Record:
        _verify(data, RECORD_SCHEMA, what)
        if data["status"] not in STATUSES:
            raise RecordError(f"{what}: status {data['status']!r} is not one of {STATUSES}")
        columns = {}
        for name, col in data["columns"].items():
            columns[name] = ColumnInfo.from_dict(col, name)
        kwargs = {f.name: data[f.name] for f in fields(cls) if f.name != "intervals"}
        kwargs.update(
            intervals=_intervals(data.get("intervals", {}), what),
            metrics=_strict_numbers(data["metrics"], "metrics"), columns=columns,
            metrics_run=tuple(data["metrics_run"]), attack=AttackProvenance.from_dict(data["attack"]),
            flags=_flags(data["flags"]), arrays=tuple(data["arrays"]), eps=float(data["eps"]),
            units=tuple(UnitInfo.from_dict(u) for u in data["units"]), wall_time_s=float(data["wall_time_s"]),
            timings_s=_strict_numbers(data["timings_s"], "timings_s"))
        return cls(**kwargs)


def _intervals(data: Any, what: str) -> dict[str, Interval]:
    if not isinstance(data, dict):
        raise RecordError(f"{what}: field 'intervals' must be an object")
    out = {}
    for name, d in data.items():
        if not isinstance(d, dict):
            raise RecordError(f"{what}: interval of {name!r} is not an object")
        _check(d, {"low": "float", "high": "float", "level": "float", "method": "str"}, f"{what}: interval of {name!r}")
        out[name] = Interval(float(d["low"]), float(d["high"]), float(d["level"]), d["method"])
    return out


# -- the builder -------------------------------------------------------------------------------------------
def merge_arrays(parts: Sequence[tuple[UnitResult, Mapping[str, np.ndarray]]]) -> dict[str, np.ndarray]:
    """Concatenate the per-point arrays of the units (in index order); keep scope-"model" arrays whole."""
    parts = sorted(parts, key=lambda p: p[0].unit.start)
    merged: dict[str, np.ndarray] = {}
    per_point = [(u, {k: np.asarray(v) for k, v in a.items() if k not in u.whole_arrays}) for u, a in parts]
    per_point = [(u, a) for u, a in per_point if a]
    if per_point:
        names = set(per_point[0][1])
        for unit, arrays in per_point:
            if set(arrays) != names:
                raise RecordError(f"shards of {unit.model} on {unit.track} stored different arrays "
                                  f"({sorted(names ^ set(arrays))}): rerun with --force")
            for name, values in arrays.items():
                if values.ndim == 0 or values.shape[0] != unit.unit.stop - unit.unit.start:
                    raise RecordError(
                        f"array {name!r} of {unit.model} on {unit.track} has shape {values.shape}, not one row per "
                        f"test point ({unit.unit.stop - unit.unit.start}): a metric of scope 'example' must store "
                        f"per-point arrays only (or declare scope='model')")
        for name in sorted(names):
            merged[name] = np.concatenate([a[name] for _, a in per_point], axis=0)
        expected = np.arange(per_point[0][0].unit.start, per_point[-1][0].unit.stop)
        if "index" in merged and not np.array_equal(merged["index"], expected):
            raise RecordError(f"shards of {per_point[0][0].model} on {per_point[0][0].track} do not cover the "
                              f"track's points exactly once: rerun with --force")
    for unit, arrays in parts:
        for name in unit.whole_arrays:
            if name in merged:
                raise RecordError(f"array {name!r} of {unit.model} is produced by two units or metrics: rename one")
            merged[name] = np.asarray(arrays[name])
    return merged


def build_record(track: TrackSpec, units: Sequence[tuple[UnitResult, Mapping[str, np.ndarray]]],
                 metric_specs: Mapping[str, MetricSpec], *, metrics_run: Sequence[str], registered_n_examples: int,
                 result_key: str, variant: str = FULL, run_id: str = "",
                 ) -> tuple[Record, dict[str, np.ndarray]]:
    """A model's record and merged arrays, from all its finished units (the one place records are made).

    Each metric's info is combined across its units as the metric declares (``info_reduce``); each
    column's number is its reduction over the merged arrays. A metric that failed in any unit, or
    whose reduction fails, is listed in ``metric_errors`` with no columns, and the record is partial.
    """
    if not units:
        raise RecordError("no unit results to build a record from")
    results = [u for u, _ in units]
    first = results[0]
    for u in results[1:]:
        if (u.model, u.track, u.weights_sha256) != (first.model, first.track, first.weights_sha256):
            raise RecordError(f"units of {first.model} on {first.track} come from different models or weights: "
                              f"rerun with --force")
    merged = merge_arrays(units)
    errors: dict[str, str] = {}
    for u in results:
        for metric, message in u.metric_errors.items():
            errors.setdefault(metric, message)
    values: dict[str, float] = {}
    columns: dict[str, ColumnInfo] = {}
    info: dict[str, dict[str, Any]] = {}
    intervals: dict[str, Interval] = {}
    resamples = shared_resamples(merged)
    for name in metrics_run:
        if name in errors:
            continue
        spec = metric_specs[name]
        owners = [u for u in results if name in u.unit.metrics]
        if not owners:
            raise RecordError(f"no unit of {first.model} computed metric {name!r}")
        try:
            info[name] = reduce_info([u.metric_info.get(name, {}) for u in owners], spec.info_reduce,
                                     f"metric {name!r}")
            cols = spec.columns_for(track)
            computed = {}
            for col in cols:
                if col.reduce is None:
                    raise RecordError(f"column {col.name!r} declares no reduction (Column.reduce)")
                computed[col.name] = float(col.reduce(merged))
        except Exception as exc:  # noqa: BLE001 -- a metric's bad declaration costs that metric only
            errors[name] = f"combining its results failed: {type(exc).__name__}: {exc}"
            info.pop(name, None)
            continue
        values.update(computed)
        for col in cols:
            info_d = col.info(name)
            interval = column_interval(col, merged, resamples)
            if interval is not None:
                intervals[col.name] = interval
            if col.reduce.interval != "none":  # the method and level belong to the column's protocol
                info_d["protocol"] = interval_protocol(info_d["protocol"], col)
            columns[col.name] = ColumnInfo(**info_d, order=len(columns))
    # complete: every metric of the track ran and none failed (added metrics make no record partial)
    complete = set(track.metrics) <= set(metrics_run) and not errors
    n_points = sum(u.unit.stop - u.unit.start for u in results if u.unit.id != "model") or track.n_examples
    timings: dict[str, float] = {}
    for u in results:
        for k, v in u.timings_s.items():
            timings[k] = round(timings.get(k, 0.0) + v, 3)
    devices: list[str] = []
    for u in results:
        if u.device not in devices:
            devices.append(u.device)
    flags: list[Flag] = []
    for u in results:
        flags.extend(f for f in u.flags if f not in flags)
    attack = merge_attacks([u.attack for u in results])
    if attack is not None:
        flags = [Flag(w.label, w.detail, "attack") for w in attack.warnings] + [
            f for f in flags if f.source != "attack"]
    record = Record(
        status="ok" if complete else "partial", model=first.model, track=track.name, dataset=track.dataset,
        variant=variant, metrics=values, columns=columns, metrics_run=tuple(metrics_run), metric_errors=errors,
        n_examples=n_points, registered_n_examples=int(registered_n_examples), seed=track.seed, norm=track.norm,
        eps=float(track.eps), attack=attack, flags=tuple(flags), metric_info=info, arrays=tuple(sorted(merged)),
        arrays_sha256="", checkpoint_sha256=first.checkpoint_sha256, weights_sha256=first.weights_sha256,
        versions=dict(first.versions), plugins=dict(first.plugins), model_info=dict(first.model_info),
        track_info={**track.info(), **_batch_sizes_used(results)}, result_key=result_key,
        units=tuple(u.unit for u in sorted(results, key=lambda r: (r.unit.id == "model", r.unit.start))),
        device="; ".join(devices), wall_time_s=round(sum(u.wall_time_s for u in results), 3), timings_s=timings,
        finished_at=max(u.finished_at for u in results), run_id=run_id, intervals=intervals,
    )
    return record, merged


def _batch_sizes_used(results: Sequence[UnitResult]) -> dict[str, Any]:
    """Units that ran at a smaller batch size than their track's (out of memory): {unit id: size}, per
    setting; nothing when every unit ran at the track's sizes (benchbed.engine.batching)."""
    out: dict[str, Any] = {}
    for key in ("batch_size_used", "generation_batch_size_used"):
        sizes = {u.unit.id: u.track_info[key] for u in results if isinstance(u.track_info.get(key), int)}
        if sizes:
            out[key] = dict(sorted(sizes.items()))
    return out


# -- a failed attempt ----------------------------------------------------------------------------------------
FAILURE_SCHEMA = {"schema_version": "int", "status": "str", "model": "str", "track": "str", "variant": "str",
                  "error": "str", "unit": "str", "run_id": "str", "versions": "text_map", "finished_at": "str",
                  "record_sha256": "str"}


@dataclass(frozen=True)
class Failure:
    """The last failed attempt of a model on a track (kept until a later attempt succeeds)."""

    model: str
    track: str
    variant: str
    error: str
    unit: str
    run_id: str
    versions: dict[str, str]
    finished_at: str

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d.update(schema_version=SCHEMA_VERSION, status="failed")
        d["record_sha256"] = content_sha256(d)
        return d

    @classmethod
    def from_dict(cls, data: Any, what: str = "failure record") -> Failure:
        _verify(data, FAILURE_SCHEMA, what)
        return cls(**{f.name: data[f.name] for f in fields(cls)})


# -- a study (an experiment beyond a track's columns: per-attack energies, eps curves, dynamics, ...) -----
STUDY_SCHEMA = {
    "schema_version": "int", "kind": "str", "model": "str", "track": "str", "params": "dict", "rows": "list",
    "columns": "dict", "summary": "dict", "arrays": "strings", "arrays_sha256": "str", "weights_sha256": "str",
    "checkpoint_sha256": "str", "versions": "text_map", "plugins": "dict", "model_info": "dict", "track_info": "dict",
    "key": "str", "device": "str", "wall_time_s": "float", "finished_at": "str", "run_id": "str",
    "record_sha256": "str",
}


@dataclass(frozen=True)
class StudyResult:
    """One study of one model on one track: a table of rows (one per attack, eps, checkpoint, ...),
    described column by column, summary numbers, and per-point arrays kept beside it (checksummed).

    ``kind`` names the study ("attacks", "eps-curve", "dynamics", "generation", ...); ``params`` what was
    run; ``key`` what its numbers depend on (it is reused only while the key is unchanged)."""

    kind: str
    model: str
    track: str
    params: dict[str, Any]
    rows: tuple[dict[str, Any], ...]
    columns: dict[str, ColumnInfo]
    summary: dict[str, Any]
    arrays: tuple[str, ...]
    weights_sha256: str
    checkpoint_sha256: str
    versions: dict[str, str]
    plugins: dict[str, Any]
    model_info: dict[str, Any]
    track_info: dict[str, Any]
    key: str
    device: str
    wall_time_s: float
    finished_at: str
    run_id: str = ""
    arrays_sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d.update(schema_version=SCHEMA_VERSION, rows=[dict(r) for r in self.rows],
                 columns={k: asdict(v) for k, v in self.columns.items()}, arrays=list(self.arrays))
        d["record_sha256"] = content_sha256(d)
        return d

    @classmethod
    def from_dict(cls, data: Any, what: str = "study result") -> StudyResult:
        _verify(data, STUDY_SCHEMA, what)
        for i, row in enumerate(data["rows"]):
            if not isinstance(row, dict) or not all(isinstance(v, (str, int, float, bool)) or v is None
                                                    for v in row.values()):
                raise RecordError(f"{what}: row {i} must be an object of numbers, strings, booleans or nulls")
        kwargs = {f.name: data[f.name] for f in fields(cls)}
        kwargs.update(rows=tuple(dict(r) for r in data["rows"]),
                      columns={n: ColumnInfo.from_dict(c, n) for n, c in data["columns"].items()},
                      arrays=tuple(data["arrays"]), wall_time_s=float(data["wall_time_s"]))
        return cls(**kwargs)
