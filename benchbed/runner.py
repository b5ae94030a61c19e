"""Run a track: every model, every metric, one record per (model, track); broken models are isolated.

A run is planned as units (model, track, shard of whole attack blocks; see :mod:`benchbed.units`).
Finished units are stored with a key of everything their numbers depend on and skipped by the next
run; a unit is computed under an exclusive per-unit lock (:mod:`benchbed.locking`), so a run killed
at any moment loses at most the units in flight and two runs can share a results folder. An
executor (:mod:`benchbed.executors`: ``local`` or ``ray``) computes the units; this module alone
writes them, and merges each model's units into its per-model record once they are all there.
"""
from __future__ import annotations

import datetime as dt
import os
import sys
import time
import traceback
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import plugins
from .context import EvaluationContext, check_logits
from .devices import device_name, resolve_device
from .errors import BenchbedError, ConfigError
from .provenance import library_versions, stable_hash
from .specs import LabelledImages, MetricResult, ModelSpec, TrackSpec
from .store import SCHEMA_VERSION, ResultsStore, slug, sweep_temporaries


@dataclass
class UnitOutcome:
    """What a run did for one model (all its units together)."""

    model: str
    status: str  # "ok" | "failed" | "incomplete" (units of other shards are not stored yet)
    record: dict[str, Any] | None = None
    error: str | None = None
    seconds: float = 0.0
    cached: bool = False  # nothing was computed: every unit (or the merged record) was already stored


@dataclass
class UnitReport:
    """What a run did for one unit."""

    model: str
    unit: str
    status: str  # "done" | "skipped" | "failed" | "other-shard"
    seconds: float = 0.0
    attempts: int = 0
    error: str | None = None
    reason: str = ""  # why skipped: "stored" | "cached-model" | "finished by another run"


@dataclass
class RunSummary:
    track: str
    outcomes: list[UnitOutcome] = field(default_factory=list)
    units: list[UnitReport] = field(default_factory=list)
    run_id: str = ""
    seconds: float = 0.0
    executor: str = "local"
    n_shards: int = 1
    results_dir: str = ""

    @property
    def failed(self) -> list[UnitOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def incomplete(self) -> list[UnitOutcome]:
        return [o for o in self.outcomes if o.status == "incomplete"]

    @property
    def records(self) -> list[dict[str, Any]]:
        return [o.record for o in self.outcomes if o.record is not None]

    def counts(self) -> dict[str, int]:
        out = {"units": 0, "done": 0, "skipped": 0, "failed": 0}
        for report in self.units:
            if report.status == "other-shard":
                continue
            out["units"] += 1
            out[report.status] = out.get(report.status, 0) + 1
        return out

    def table(self) -> str:
        """The end-of-run summary: per model, units done / skipped / failed and time; then totals."""
        rows = [("model", "units", "done", "skipped", "failed", "status", "time")]
        for outcome in self.outcomes:
            mine = [u for u in self.units if u.model == outcome.model and u.status != "other-shard"]
            status = outcome.status + (" (cached)" if outcome.cached and outcome.status == "ok" else "")
            rows.append((outcome.model, str(len(mine)), *(str(sum(u.status == s for u in mine))
                                                          for s in ("done", "skipped", "failed")),
                         status, f"{outcome.seconds:.1f}s"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) if i in (0, 5) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                 for r in rows]
        c = self.counts()
        lines.append(f"{c['units']} unit(s): {c['done']} done, {c['skipped']} skipped, {c['failed']} failed "
                     f"in {self.seconds:.1f}s ({self.executor} executor, {self.n_shards} shard(s), run {self.run_id})")
        return "\n".join(lines) + "\n"


def resolve_track(track: str | TrackSpec, registry, n_examples: int | None = None) -> TrackSpec:
    spec = registry.track(track) if isinstance(track, str) else track
    registry.dataset(spec.dataset)
    registry.attack(spec.attack)
    for name in spec.metrics:
        registry.metric(name)
    if n_examples is not None:
        if n_examples <= 0:
            raise ConfigError(f"--n-examples must be a positive number of test points, got {n_examples}")
        spec = spec.replace(n_examples=n_examples)
    return spec


def resolve_models(track: TrackSpec, registry, names: list[str] | None) -> list[ModelSpec]:
    if not names:
        models = registry.models_for(track)
        if not models:
            raise ConfigError(f"no installed model is registered for track {track.name!r} (dataset "
                              f"{track.dataset}, {track.norm}): install a model plugin, see `benchbed models`")
        return models
    models = []
    for name in names:
        model = registry.model(name)
        if model.dataset != track.dataset:
            raise ConfigError(f"model {name!r} is a {model.dataset} model but track {track.name!r} uses "
                              f"{track.dataset}: pick a {model.dataset} track (see `benchbed tracks`)")
        models.append(model)
    return models


def test_points(track: TrackSpec, registry, data_dir: Path | None) -> LabelledImages:
    split = registry.dataset(track.dataset).load("test", data_dir)
    if track.n_examples > len(split):
        raise ConfigError(f"track {track.name!r} asks for {track.n_examples} examples but the "
                          f"{track.dataset} test split has only {len(split)}: use --n-examples {len(split)} or fewer")
    return LabelledImages(split.images[: track.n_examples], split.labels[: track.n_examples])


def unit_key(model: ModelSpec, track: TrackSpec, indices: np.ndarray, versions: dict[str, str]) -> str:
    """What a finished unit's numbers depend on: reuse it only when all of this is unchanged."""
    return stable_hash({
        "model": model.name, "checkpoint": model.checkpoint_sha256, "track": track.info(),
        "indices": [int(indices[0]), int(indices[-1]), len(indices)], "versions": versions,
    })


def _columns(registry, track: TrackSpec, metrics: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    out = {}
    for metric_name in (track.metrics if metrics is None else metrics):
        for col in registry.metric(metric_name).columns_for(track):
            out[col.name] = col.info(metric_name)
    return out


def _registered_n_examples(registry, track: TrackSpec) -> int:
    registered = registry.items["tracks"].get(track.name)
    return registered.n_examples if registered is not None else track.n_examples


def evaluate_unit(model_spec: ModelSpec, track: TrackSpec, points: LabelledImages, indices: np.ndarray,
                  device, registry, *, data_dir: Path | None = None, cache_dir: Path | None = None,
                  progress=None, metrics: Sequence[str] | None = None,
                  on_metric=None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Evaluate one model on some of a track's points. Raises on any failure.

    ``points`` are the unit's points and ``indices`` their positions in the track (attack blocks
    and seeds follow the positions). ``metrics`` limits the evaluation to some of the track's
    metrics (default: all); ``on_metric(name)`` is called after each metric finishes.
    """
    import torch

    start = time.perf_counter()
    dataset = registry.dataset(track.dataset)
    model = model_spec.load(device)
    probe = points.images[: min(8, len(points))]
    with torch.no_grad():
        check_logits(model(probe.to(device)), len(probe), dataset.num_classes, model_spec.name)
    ctx = EvaluationContext(model=model, model_spec=model_spec, track=track, dataset=dataset, points=points,
                            indices=indices, device=device, attack=registry.attack(track.attack),
                            data_dir=data_dir, cache_dir=cache_dir, registry=registry, progress=progress)
    metric_names = tuple(track.metrics if metrics is None else metrics)
    columns = _columns(registry, track, metric_names)
    values: dict[str, float] = {}
    arrays: dict[str, np.ndarray] = {"index": np.asarray(indices, dtype=np.int64)}
    info: dict[str, Any] = {}
    for metric_name in metric_names:
        metric = registry.metric(metric_name)
        t0 = time.perf_counter()
        result = MetricResult.of(metric.compute(ctx))
        ctx.timings[f"metric:{metric_name}"] = time.perf_counter() - t0
        declared = {c.name for c in metric.columns_for(track)}
        for column, value in result.values.items():
            if column not in declared:
                raise BenchbedError(f"metric {metric_name!r} returned undeclared column {column!r}: "
                                    f"declare it in the metric's columns")
            values[column] = float(value)
        arrays.update({k: np.asarray(v) for k, v in result.arrays.items()})
        if result.info:
            info[metric_name] = result.info
        if on_metric is not None:
            on_metric(metric_name)
    versions = library_versions()
    attack_info = info.get("robust_accuracy", {})
    record = {
        "schema_version": SCHEMA_VERSION,
        "status": "ok",
        "model": model_spec.name,
        "track": track.name,
        "dataset": track.dataset,
        "metrics": values,
        "columns": columns,
        "n_examples": len(points),
        # quick mode: fewer points than the registered track asks for (recorded, shown on the pages)
        "quick": len(points) < _registered_n_examples(registry, track),
        "seed": track.seed,
        "norm": track.norm,
        "eps": track.eps,
        "attack": {"name": track.attack, "version": attack_info.get("attack_version",
                                                                    track.attack_options.get("version")),
                   "flipped_by": attack_info.get("flipped_by", {}), "warnings": attack_info.get("warnings", [])},
        "flags": list(attack_info.get("warnings", [])),
        "metric_info": info,
        "arrays": sorted(arrays),
        "wall_time_s": round(time.perf_counter() - start, 3),
        "timings_s": {k: round(v, 3) for k, v in ctx.timings.items()},
        "device": device_name(device),
        "versions": versions,
        "checkpoint_sha256": model_spec.checkpoint_sha256,
        "model_info": model_spec.info(),
        "track_info": track.info(),
        "unit_key": unit_key(model_spec, track, indices, versions),
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return record, arrays


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, BenchbedError):
        return str(exc)
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> (1, 4): the 0-based shard index and the number of shards (the CLI is 1-based)."""
    try:
        index, count = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ConfigError(f"--shard {text!r}: write it as I/N, e.g. --shard 2/4 for the second of 4 shards") from None
    if count < 1 or not 1 <= index <= count:
        raise ConfigError(f"--shard {text!r}: I must be between 1 and N (got {index}/{count})")
    return index - 1, count


class ProgressUI:
    """Per-unit progress bars (tqdm) under one bar for the run; messages go above the bars."""

    def __init__(self, enabled: bool, desc: str, total: int):
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        self.enabled = enabled
        self.overall = tqdm(total=total, desc=desc, unit="unit", disable=not enabled, position=0,
                            dynamic_ncols=True)
        self.bars: dict[str, Any] = {}
        self._positions: dict[str, int] = {}

    def _bar(self, task):
        bar = self.bars.get(task.id)
        if bar is None:
            used = set(self._positions.values())
            position = next(p for p in range(1, len(used) + 2) if p not in used)
            self._positions[task.id] = position
            bar = self.bars[task.id] = self._tqdm(
                total=len(task.unit.metrics), desc=task.unit.describe(), unit="metric", leave=False,
                disable=not self.enabled, position=position, dynamic_ncols=True)
        return bar

    def unit_started(self, task) -> None:
        bar = self._bar(task)
        if task.attempt > 1:
            bar.reset()
            bar.set_postfix_str(f"attempt {task.attempt}")

    def unit_progress(self, task, message: str) -> None:
        self._bar(task).set_postfix_str(message[:60])

    def unit_metric_done(self, task, metric: str) -> None:
        self._bar(task).update(1)

    def unit_finished(self, task, status: str) -> None:
        bar = self.bars.pop(task.id, None)
        self._positions.pop(task.id, None)
        if bar is not None:
            bar.close()
        self.overall.update(1)

    def note(self, message: str) -> None:
        if self.enabled:
            self._tqdm.write(message, file=sys.stderr)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.overall.close()


def _plugin_files() -> tuple[str, ...]:
    """Local plugin files the global plugin host loaded (Ray workers load them too)."""
    files = []
    for info in plugins.host().infos.values():
        if info.name.startswith("file:") and info.ok:
            files.append(str(Path(info.distribution).resolve()))
    return tuple(files)


def run_track(track: str | TrackSpec, models: list[str] | None = None, *, n_examples: int | None = None,
              device: str | None = None, results_dir: str | Path | None = None, data_dir: str | Path | None = None,
              registry=None, show_progress: bool = True, shards: int = 1, shard: int | str | None = None,
              executor: str | Any = "local", address: str | None = None, workers: int | None = None,
              threads: int | None = None, force: bool = False, retries: int | None = None,
              cache_dir: str | Path | None = None, plugin_files: Sequence[str] | None = None,
              run_log: bool = True) -> RunSummary:
    """Evaluate ``models`` (default: all registered for the track) on ``track``, unit by unit.

    ``shards``: cut each model's test points into this many units of whole attack blocks (capped at
    the number of blocks). ``shard``: run only this shard here (0-based int, or ``"I/N"`` 1-based,
    which also sets ``shards=N``); a model's record is merged once all its shards are stored.
    ``executor``: ``"local"``, ``"ray"`` or an :class:`benchbed.executors.Executor`; ``address`` and
    ``workers`` go to Ray. ``threads``: torch threads per unit. ``force``: recompute stored units.
    ``retries``: times a failed unit is resubmitted (default: the executor's, 1 for Ray, 0 locally).
    """
    from .executors import Executor, UnitTask, make_executor
    from .locking import UnitLock
    from .runlog import RunLog
    from .units import MODEL, merge_records, plan_units, result_key

    started = time.perf_counter()
    run_started_wall = time.time()
    registry = registry or plugins.registry()
    spec = resolve_track(track, registry, n_examples)
    model_specs = resolve_models(spec, registry, models)
    if isinstance(shard, str):
        only_shard, n_shards = parse_shard(shard)
        if shards not in (1, n_shards):
            raise ConfigError(f"--shard {shard} says {n_shards} shards but --shards says {shards}: drop one")
        shards = n_shards
    else:
        only_shard = shard
    if shards < 1:
        raise ConfigError(f"--shards must be >= 1, got {shards}")
    if only_shard is not None and not 0 <= only_shard < shards:
        raise ConfigError(f"shard {only_shard} is out of range for {shards} shard(s)")
    data_dir = Path(data_dir).resolve() if data_dir else None
    cache_dir = Path(cache_dir).resolve() if cache_dir else None
    if isinstance(executor, Executor):
        exe = executor
    else:
        exe = make_executor(executor, address=address, workers=workers, threads=threads,
                            **({"device": device} if executor == "ray" else {}))
    if retries is not None:
        exe.retries = retries
    local = exe.name == "local"
    device_arg = str(resolve_device(device)) if local else device
    points = test_points(spec, registry, data_dir)
    versions = library_versions()
    store = ResultsStore(results_dir)
    log = RunLog(store.root, enabled=run_log)
    summary = RunSummary(spec.name, run_id=log.run_id, executor=exe.name, results_dir=str(store.root))
    files = tuple(plugin_files) if plugin_files is not None else _plugin_files()
    allow = os.environ.get(plugins.ENV_ALLOW)

    # -- plan ---------------------------------------------------------------------------------
    plan: dict[str, list] = {}
    keys: dict[str, str] = {}
    pending: list = []
    seen_mtime: dict[str, float | None] = {}
    unresolved: dict[str, int] = {}
    spent: dict[str, float] = {}
    failed_models: dict[str, str] = {}
    computed: set[str] = set()
    outcomes: dict[str, UnitOutcome] = {}

    def mtime(path: Path) -> float | None:
        try:
            return path.stat().st_mtime
        except FileNotFoundError:
            return None

    def stored_unit_ok(unit, with_arrays: bool = False):
        found = store.read_unit(spec.name, unit.model, unit.uid, with_arrays=with_arrays)
        if found is None or found[0].get("unit_key") != unit.key:
            return None
        return found

    for model_spec in model_specs:
        units = plan_units(model_spec, spec, registry, shards, versions)
        summary.n_shards = max(summary.n_shards, sum(u.uid != MODEL for u in units))
        plan[model_spec.name] = units
        keys[model_spec.name] = result_key(model_spec, spec, versions)
        unresolved[model_spec.name] = 0
        spent[model_spec.name] = 0.0
        if not force:
            merged = store.valid_record(spec.name, model_spec.name)
            if merged is not None and merged.get("result_key") == keys[model_spec.name]:
                outcomes[model_spec.name] = UnitOutcome(model_spec.name, "ok", record=merged, cached=True)
                for unit in units:
                    summary.units.append(UnitReport(unit.model, unit.uid, "skipped", reason="cached-model"))
                log.event("model_cached", track=spec.name, model=model_spec.name, key=keys[model_spec.name])
                continue
        for unit in units:
            mine = only_shard is None or (unit.shard if unit.uid != MODEL else 0) == only_shard
            if not mine:
                summary.units.append(UnitReport(unit.model, unit.uid, "other-shard"))
                continue
            path = store.unit_path(spec.name, unit.model, unit.uid)
            seen_mtime[unit.key] = mtime(path)
            if not force and stored_unit_ok(unit) is not None:
                summary.units.append(UnitReport(unit.model, unit.uid, "skipped", reason="stored"))
                log.event("unit_skipped", track=spec.name, model=unit.model, unit=unit.uid, key=unit.key,
                          reason="stored")
                continue
            pending.append(UnitTask(unit=unit, track=spec, device=device_arg,
                                    data_dir=str(data_dir) if data_dir else None,
                                    cache_dir=str(cache_dir) if cache_dir else None,
                                    plugin_files=files, plugin_allow=allow, threads=threads))
            unresolved[model_spec.name] += 1
    if only_shard is not None and shards > 1 and all(
            u.shard != only_shard for units in plan.values() for u in units if u.uid != MODEL):
        sys.stderr.write(f"benchbed: warning: track {spec.name!r} has only {summary.n_shards} shard(s) of whole "
                         f"attack blocks ({spec.block_size} examples each); shard {only_shard + 1}/{shards} "
                         f"has no examples\n")

    ui = ProgressUI(show_progress, f"{spec.name}", len(pending))
    log.start(track=spec.name, models=[m.name for m in model_specs], shards=shards,
              shard=None if only_shard is None else f"{only_shard + 1}/{shards}", force=force,
              n_examples=spec.n_examples, executor=exe.name, device=device_arg,
              planned=len(pending), argv=sys.argv, results=str(store.root))

    # -- merge a model's units into its record ------------------------------------------------
    def finalize(model: str) -> None:
        units = plan[model]
        if model in failed_models:
            outcomes[model] = UnitOutcome(model, "failed", error=failed_models[model], seconds=spent[model])
            return
        found = []
        for unit in units:
            got = stored_unit_ok(unit, with_arrays=True)
            if got is None:
                outcomes[model] = UnitOutcome(model, "incomplete", seconds=spent[model],
                                              error=f"unit {unit.uid} is not stored yet (another shard)")
                return
            found.append(got)
        lock = UnitLock(store.unit_dir(spec.name, model) / "merge.lock", log.run_id)
        lock.acquire(blocking=True)
        try:
            merged = None if model in computed else store.valid_record(spec.name, model)
            if merged is not None and merged.get("result_key") == keys[model]:
                record = merged
            else:
                record, arrays = merge_records(
                    units, [r for r, _ in found], [a for _, a in found], spec, registry,
                    registered_n_examples=_registered_n_examples(registry, spec), key=keys[model])
                sweep_temporaries(store.root / slug(spec.name), f"{slug(model)}.json")
                sweep_temporaries(store.root / slug(spec.name), f"{slug(model)}.npz")
                store.write(record, arrays)
                record = store.record(spec.name, model) or record
                log.event("model_merged", track=spec.name, model=model, key=keys[model],
                          units=[u.uid for u in units], metrics=record.get("metrics"))
        except Exception as exc:
            message = describe_error(exc)
            outcomes[model] = UnitOutcome(model, "failed", error=f"merging its units failed: {message}",
                                          seconds=spent[model])
            log.event("model_failed", track=spec.name, model=model, error=message)
            return
        finally:
            lock.release()
        outcomes[model] = UnitOutcome(model, "ok", record=record, seconds=spent[model],
                                      cached=model not in computed)

    for model in plan:
        if model not in outcomes and unresolved[model] == 0:
            finalize(model)

    # -- compute ----------------------------------------------------------------------------------
    locks: dict[str, UnitLock] = {}
    attempts: dict[str, int] = {}

    def claim(task, blocking: bool = False) -> str:
        unit = task.unit
        lock = UnitLock(store.lock_path(spec.name, unit.model, unit.uid), log.run_id)
        if not lock.acquire(blocking=blocking, on_wait=lambda who: ui.note(
                f"benchbed: waiting for {who} to finish {unit.describe()}")):
            return "busy"
        path = store.unit_path(spec.name, unit.model, unit.uid)
        now = mtime(path)
        if now is not None and now != seen_mtime.get(unit.key) and now >= run_started_wall:
            if stored_unit_ok(unit) is not None:  # another run finished it meanwhile
                lock.release()
                return "finished"
        locks[task.id] = lock
        return "claimed"

    def resolve(task, report: UnitReport) -> None:
        summary.units.append(report)
        ui.unit_finished(task, report.status)
        model = task.unit.model
        unresolved[model] -= 1
        spent[model] += report.seconds
        if unresolved[model] == 0:
            finalize(model)

    def release(task) -> None:
        lock = locks.pop(task.id, None)
        if lock is not None:
            lock.release()

    def start(task, blocking: bool = False) -> str:
        """Claim and submit ``task``; 'busy' if another run holds it."""
        state = claim(task, blocking)
        if state == "busy":
            return state
        if state == "finished":
            log.event("unit_skipped", track=spec.name, model=task.unit.model, unit=task.unit.uid,
                      key=task.unit.key, reason="finished by another run")
            resolve(task, UnitReport(task.unit.model, task.unit.uid, "skipped", reason="finished by another run"))
            return state
        attempts[task.id] = task.attempt
        log.event("unit_start", track=spec.name, model=task.unit.model, unit=task.unit.uid, key=task.unit.key,
                  attempt=task.attempt, start=task.unit.start, stop=task.unit.stop)
        exe.submit(task)
        return state

    queue = deque(pending)
    deferred: deque = deque()
    inflight = 0
    interrupted = False
    exe_started = False
    try:
        if pending:
            exe.start(ui, registry=registry, points=points)
            exe_started = True
            log.event("executor_started", track=spec.name, **exe.describe())
        while queue or deferred or inflight:
            while inflight < exe.slots and (queue or deferred):
                if queue:
                    task = queue.popleft()
                    state = start(task)
                    if state == "busy":
                        deferred.append(task)
                        log.event("unit_deferred", track=spec.name, model=task.unit.model, unit=task.unit.uid,
                                  reason="locked by another run")
                    inflight += state == "claimed"
                    continue
                for _ in range(len(deferred)):  # units another run held: are they free now?
                    task = deferred.popleft()
                    state = start(task)
                    if state == "busy":
                        deferred.append(task)
                        continue
                    inflight += state == "claimed"
                    break
                else:
                    break
            if inflight == 0 and deferred and not queue:
                task = deferred.popleft()  # nothing else to do: wait for the other run
                inflight += start(task, blocking=True) == "claimed"
                continue
            if inflight == 0:
                continue
            for event in exe.poll(timeout=0.25):
                task = event.task
                unit = task.unit
                if hasattr(event, "record"):
                    try:
                        event.record["run_id"] = log.run_id
                        store.write_unit(event.record, event.arrays)
                    except Exception as exc:  # e.g. arrays that cannot be stored
                        event = _failed_write(task, exc, event.seconds)
                    else:
                        release(task)
                        inflight -= 1
                        computed.add(unit.model)
                        log.event("unit_done", track=spec.name, model=unit.model, unit=unit.uid, key=unit.key,
                                  attempt=task.attempt, seconds=round(event.seconds, 3),
                                  device=event.record.get("device"), metrics=event.record.get("metrics"))
                        resolve(task, UnitReport(unit.model, unit.uid, "done", event.seconds, task.attempt))
                        continue
                if task.attempt <= exe.retries:
                    ui.note(f"benchbed: unit {unit.describe()} failed ({event.error}); retrying")
                    log.event("unit_retry", track=spec.name, model=unit.model, unit=unit.uid,
                              attempt=task.attempt, error=event.error, detail=event.detail[-4000:])
                    retry = task.retry()
                    locks[retry.id] = locks.pop(task.id)
                    exe.submit(retry)
                    continue
                release(task)
                inflight -= 1
                message = event.error if unit.uid == "all" else f"unit {unit.uid}: {event.error}"
                ui.note(f"benchbed: model {unit.model!r} failed: {message}")
                log.event("unit_failed", track=spec.name, model=unit.model, unit=unit.uid, attempt=task.attempt,
                          error=event.error, detail=event.detail[-4000:])
                failed_models.setdefault(unit.model, message)
                store.write_failure({"status": "failed", "model": unit.model, "track": spec.name,
                                     "error": message, "unit": unit.uid, "run_id": log.run_id,
                                     "versions": versions})
                resolve(task, UnitReport(unit.model, unit.uid, "failed", event.seconds, task.attempt, event.error))
    except BaseException as exc:
        interrupted = True
        log.event("run_interrupted", track=spec.name, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        for lock in locks.values():
            lock.release()
        locks.clear()
        if exe_started:
            exe.close()
        ui.close()
        summary.seconds = time.perf_counter() - started
        if not interrupted:
            order = {m.name: i for i, m in enumerate(model_specs)}
            summary.outcomes = sorted(outcomes.values(), key=lambda o: order[o.model])
            log.event("run_end", track=spec.name, seconds=round(summary.seconds, 3), **summary.counts(),
                      models={o.model: o.status for o in summary.outcomes})
    return summary


def _failed_write(task, exc: BaseException, seconds: float):
    from .executors import Failed

    return Failed(task, f"storing the unit failed: {describe_error(exc)}", traceback.format_exc(), seconds)
