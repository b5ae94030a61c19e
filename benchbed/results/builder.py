"""The one place a record is made: a model's finished units merged into its :class:`~benchbed.results.record.Record`.

Whether the units ran unsharded, sharded, on Ray workers or from ``benchbed.evaluate``, their
per-point arrays are concatenated in index order (:func:`merge_arrays`), their attacks' counts summed
(:func:`merge_attacks`), and every number of the record is its column's declared reduction over the
merged arrays (:func:`build_record`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from benchbed.contracts.errors import RecordError
from benchbed.contracts.reductions import reduce_info
from benchbed.contracts.specs import AttackWarning, MetricSpec, TrackSpec
from benchbed.functional.uncertainty import Interval
from benchbed.results.intervals import column_interval, interval_protocol, shared_resamples
from benchbed.results.record import FULL, AttackProvenance, ColumnInfo, Flag, Record, UnitResult


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


def _reduce_metrics(track: TrackSpec, results: Sequence[UnitResult], merged: Mapping[str, np.ndarray],
                    metric_specs: Mapping[str, MetricSpec], metrics_run: Sequence[str], errors: dict[str, str],
                    ) -> tuple[dict[str, float], dict[str, ColumnInfo], dict[str, dict[str, Any]],
                               dict[str, Interval]]:
    """Each metric's info combined as it declares, and each of its columns reduced over the merged arrays
    (with its declared confidence interval); a metric whose combination fails gets its error in ``errors``
    (updated) and no columns."""
    values: dict[str, float] = {}
    columns: dict[str, ColumnInfo] = {}
    info: dict[str, dict[str, Any]] = {}
    intervals: dict[str, Interval] = {}
    resamples = shared_resamples(merged)
    shared: dict = {}  # grouped columns' per-resample results (Reduction.group)
    for name in metrics_run:
        if name in errors:
            continue
        spec = metric_specs[name]
        owners = [u for u in results if name in u.unit.metrics]
        if not owners:
            raise RecordError(f"no unit of {results[0].model} computed metric {name!r}")
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
            interval = column_interval(col, merged, resamples, shared)
            if interval is not None:
                intervals[col.name] = interval
            if col.reduce.interval != "none":  # the method and level belong to the column's protocol
                info_d["protocol"] = interval_protocol(info_d["protocol"], col)
            columns[col.name] = ColumnInfo(**info_d, order=len(columns))
    return values, columns, info, intervals


def _attack_and_flags(results: Sequence[UnitResult]) -> tuple[AttackProvenance | None, list[Flag]]:
    """The units' attack (merged) and flags (joined, first seen first; the attack's warnings first)."""
    flags: list[Flag] = []
    for u in results:
        flags.extend(f for f in u.flags if f not in flags)
    attack = merge_attacks([u.attack for u in results])
    if attack is not None:
        flags = [Flag(w.label, w.detail, "attack") for w in attack.warnings] + [
            f for f in flags if f.source != "attack"]
    return attack, flags


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
    values, columns, info, intervals = _reduce_metrics(track, results, merged, metric_specs, metrics_run, errors)
    # complete: every metric of the track ran and none failed (added metrics make no record partial)
    complete = set(track.metrics) <= set(metrics_run) and not errors
    n_points = sum(u.unit.stop - u.unit.start for u in results if u.unit.id != "model") or track.n_examples
    timings: dict[str, float] = {}
    for u in results:
        for k, v in u.timings_s.items():
            timings[k] = round(timings.get(k, 0.0) + v, 3)
    devices = list(dict.fromkeys(u.device for u in results))
    attack, flags = _attack_and_flags(results)
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
