"""The scheduler: plans a run's units, claims them, submits them to an executor, and finishes models.

It is the only writer of the results store during a run. Planning loads each model once (on the
CPU) to fingerprint its weights, computes the key of everything its numbers depend on, and skips
records and units already stored under that key. A unit is computed under an exclusive per-unit lock
(:mod:`benchbed.engine.locking`), so a run killed at any moment loses at most the units in flight and two
runs can share a results folder. When all of a model's units are stored, its record is built
(:func:`benchbed.results.record.build_record`) and written. Everything the user sees or the run log keeps
goes out as events to the run's observers (:mod:`benchbed.contracts.events`).
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchbed.contracts.errors import describe_error
from benchbed.contracts.events import Observers, progress_milestone
from benchbed.contracts.specs import LabelledImages, ModelSpec, TrackSpec
from benchbed.engine.evaluation import Expected, UnitTask, fingerprint
from benchbed.engine.executors import Done, Executor, Failed, Reporter
from benchbed.engine.locking import UnitLock
from benchbed.engine.units import MODEL, Unit, plan_units, plugin_provenance, result_key
from benchbed.registry import PluginSelection, Registry
from benchbed.results.record import Failure, Record, build_record
from benchbed.results.store import ResultsStore, sweep_temporaries


@dataclass
class ModelOutcome:
    """What a run did for one model (all its units together)."""

    model: str
    status: str  # "ok" | "failed" | "incomplete" (units of other shards are not stored yet)
    record: Record | None = None
    error: str | None = None
    seconds: float = 0.0
    cached: bool = False  # nothing was computed: every unit (or the record) was already stored


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
    outcomes: list[ModelOutcome] = field(default_factory=list)
    units: list[UnitReport] = field(default_factory=list)
    run_id: str = ""
    seconds: float = 0.0
    executor: str = "local"
    n_shards: int = 1
    results_dir: str = ""

    @property
    def failed(self) -> list[ModelOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def incomplete(self) -> list[ModelOutcome]:
        return [o for o in self.outcomes if o.status == "incomplete"]

    @property
    def records(self) -> list[Record]:
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
            if outcome.record is not None and outcome.record.partial:
                status += " (partial)"
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


@dataclass
class ModelPlan:
    spec: ModelSpec
    units: list[Unit]
    key: str = ""
    unresolved: int = 0
    seconds: float = 0.0
    computed: bool = False
    error: str | None = None



def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return None


class Scheduler(Reporter):
    """One run of one track: plan, then claim / submit / collect until every unit is resolved."""

    def __init__(self, *, track: TrackSpec, registered: TrackSpec, models: Sequence[ModelSpec], registry: Registry,
                 store: ResultsStore, executor: Executor, metrics: Sequence[str], variant: str,
                 versions: dict[str, str], selection: PluginSelection, points: LabelledImages, run_id: str,
                 device: str | None, data_dir: Path | None, cache_dir: Path | None, threads: int | None,
                 force: bool = False, n_shards: int = 1, only_shard: int | None = None):
        self.track, self.registered, self.models = track, registered, list(models)
        self.registry, self.store, self.executor = registry, store, executor
        self.observers: Observers | None = None  # given to run(); planning's events wait for them
        self.metrics, self.variant, self.versions, self.selection = tuple(metrics), variant, versions, selection
        self.points, self.device, self.data_dir, self.cache_dir = points, device, data_dir, cache_dir
        self.threads, self.force, self.n_shards, self.only_shard = threads, force, n_shards, only_shard
        self.run_id = run_id
        self._early: list[tuple[str, dict[str, Any]]] = []
        self.summary = RunSummary(track.name, run_id=self.run_id, executor=executor.name,
                                  results_dir=str(store.root))
        self.plans: dict[str, ModelPlan] = {}
        self.outcomes: dict[str, ModelOutcome] = {}
        self.pending: list[UnitTask] = []
        self._seen_mtime: dict[str, float | None] = {}
        self._locks: dict[str, UnitLock] = {}
        self._started_wall = time.time()

    # -- events (Reporter: what executors tell) -----------------------------------------------------
    def emit(self, kind: str, **kwargs: Any) -> None:
        if self.observers is None:
            self._early.append((kind, kwargs))
        else:
            self.observers.emit(kind, **kwargs)

    def started(self, task: UnitTask) -> None:
        self.emit("unit_start", model=task.unit.model, unit=task.unit.uid, attempt=task.attempt,
                  describe=task.unit.describe(), metrics=list(task.unit.metrics), start=task.unit.start,
                  stop=task.unit.stop, key=task.unit.key)

    def progress(self, task: UnitTask, message: str) -> None:
        milestone = progress_milestone(message)
        self.emit("unit_progress", model=task.unit.model, unit=task.unit.uid, message=message, milestone=milestone)

    def metric_done(self, task: UnitTask, metric: str) -> None:
        self.emit("metric_done", model=task.unit.model, unit=task.unit.uid, metric=metric)

    # -- planning --------------------------------------------------------------------------------
    def plan(self) -> None:
        for spec in self.models:
            self._plan_model(spec)

    def _plan_model(self, spec: ModelSpec) -> None:
        track = self.track
        for attempt in range(1 + self.executor.retries):  # as many tries as the executor gives a unit
            try:
                weights = fingerprint(spec)
                break
            except Exception as exc:  # noqa: BLE001 -- a broken model fails alone
                error = f"loading it failed: {describe_error(exc)}"
                if attempt < self.executor.retries:
                    self.emit("note", model=spec.name, message=f"{error}; retrying")
        else:
            self.plans[spec.name] = ModelPlan(spec, [], error=error)
            self._fail_model(spec.name, error, unit="load")
            return
        plugins = plugin_provenance(self.registry, spec, track, self.metrics)
        key = result_key(spec, weights, track, self.metrics, self.versions, plugins)
        units = plan_units(spec, track, self.registry, self.n_shards, metrics=self.metrics, variant=self.variant,
                           result=key)
        plan = self.plans[spec.name] = ModelPlan(spec, units, key)
        self.summary.n_shards = max(self.summary.n_shards, sum(u.uid != MODEL for u in units))
        if not self.force:
            stored = self.store.record(track.name, spec.name, self.variant)
            if stored is not None and stored.result_key == key:
                self.outcomes[spec.name] = ModelOutcome(spec.name, "ok", record=stored, cached=True)
                for unit in units:
                    self.summary.units.append(UnitReport(unit.model, unit.uid, "skipped", reason="cached-model"))
                self.emit("model_cached", model=spec.name, key=key)
                return
        expected = Expected(weights, dict(self.versions), plugins, self.metrics)
        for unit in units:
            mine = self.only_shard is None or (unit.shard if unit.uid != MODEL else 0) == self.only_shard
            if not mine:
                self.summary.units.append(UnitReport(unit.model, unit.uid, "other-shard"))
                continue
            self._seen_mtime[unit.key] = _mtime(self._unit_path(unit))
            if not self.force and self._stored_unit(unit) is not None:
                self.summary.units.append(UnitReport(unit.model, unit.uid, "skipped", reason="stored"))
                self.emit("unit_skipped", model=unit.model, unit=unit.uid, key=unit.key, reason="stored")
                continue
            self.pending.append(UnitTask(
                unit=unit, track=track, expected=expected, device=self.device,
                data_dir=str(self.data_dir) if self.data_dir else None,
                cache_dir=str(self.cache_dir) if self.cache_dir else None, plugins=self.selection,
                threads=self.threads, run_id=self.run_id))
            plan.unresolved += 1

    def _unit_path(self, unit: Unit) -> Path:
        return self.store.unit_path(self.track.name, unit.model, unit.variant, unit.uid)

    def _stored_unit(self, unit: Unit, with_arrays: bool = False):
        found = self.store.read_unit(self.track.name, unit.model, unit.variant, unit.uid, with_arrays=with_arrays)
        if found is None or found[0].unit.key != unit.key:
            return None
        return found

    # -- running ----------------------------------------------------------------------------------
    def run(self, observers: Observers) -> RunSummary:
        """Compute the planned units; ``observers`` see planning's events first, then the run's."""
        self.observers = observers
        for kind, kwargs in self._early:
            observers.emit(kind, **kwargs)
        self._early.clear()
        started = time.perf_counter()
        for name, plan in self.plans.items():
            if name not in self.outcomes and plan.unresolved == 0 and plan.error is None:
                self._finish_model(name)
        queue: deque[UnitTask] = deque(self.pending)
        deferred: deque[UnitTask] = deque()
        inflight = 0
        executor_started = False
        interrupted = False
        try:
            if self.pending:
                self.executor.start(self, registry=self.registry, points=self.points)
                executor_started = True
                self.emit("executor_started", **self.executor.describe())
            while queue or deferred or inflight:
                while inflight < self.executor.slots and (queue or deferred):
                    task = queue.popleft() if queue else None
                    if task is None:  # only units another run holds: is one free now?
                        for _ in range(len(deferred)):
                            candidate = deferred.popleft()
                            state = self._start(candidate)
                            if state == "busy":
                                deferred.append(candidate)
                                continue
                            inflight += state == "claimed"
                            break
                        break
                    state = self._start(task)
                    if state == "busy":
                        deferred.append(task)
                        self.emit("unit_deferred", model=task.unit.model, unit=task.unit.uid,
                                  reason="locked by another run")
                    inflight += state == "claimed"
                if inflight == 0 and deferred and not queue:
                    task = deferred.popleft()  # nothing else to do: wait for the other run
                    inflight += self._start(task, blocking=True) == "claimed"
                    continue
                if inflight == 0:
                    continue
                for event in self.executor.poll(timeout=0.25):
                    if isinstance(event, Done):
                        event = self._store_unit(event)
                    if isinstance(event, Done):
                        inflight -= 1
                        continue
                    if event.task.attempt <= self.executor.retries:
                        self._retry(event)
                        continue
                    inflight -= 1
                    self._unit_failed(event)
        except BaseException as exc:
            interrupted = True
            self.emit("run_interrupted", message=f"{type(exc).__name__}: {exc}".rstrip(": "),
                      seconds=round(time.perf_counter() - started, 3))
            raise
        finally:
            for lock in self._locks.values():
                lock.release()
            self._locks.clear()
            if executor_started:
                self.executor.close()
            self.summary.seconds = time.perf_counter() - started
            if not interrupted:
                order = {m.name: i for i, m in enumerate(self.models)}
                self.summary.outcomes = sorted(self.outcomes.values(), key=lambda o: order[o.model])
                self.emit("run_end", seconds=round(self.summary.seconds, 3), **self.summary.counts(),
                          models={o.model: o.status for o in self.summary.outcomes})
        return self.summary

    def _claim(self, task: UnitTask, blocking: bool) -> str:
        unit = task.unit
        lock = UnitLock(self.store.lock_path(self.track.name, unit.model, unit.variant, unit.uid), self.run_id)
        if not lock.acquire(blocking=blocking, on_wait=lambda who: self.emit(
                "note", model=unit.model, message=f"waiting for {who} to finish {unit.describe()}")):
            return "busy"
        now = _mtime(self._unit_path(unit))
        if now is not None and now != self._seen_mtime.get(unit.key) and now >= self._started_wall:
            if self._stored_unit(unit) is not None:  # another run finished it meanwhile
                lock.release()
                return "finished"
        self._locks[task.id] = lock
        return "claimed"

    def _start(self, task: UnitTask, blocking: bool = False) -> str:
        """Claim and submit ``task``; 'busy' if another run holds it."""
        state = self._claim(task, blocking)
        if state == "finished":
            self.emit("unit_skipped", model=task.unit.model, unit=task.unit.uid, key=task.unit.key,
                      reason="finished by another run")
            self._resolve(task, UnitReport(task.unit.model, task.unit.uid, "skipped", reason="finished by another run"))
        elif state == "claimed":
            self.executor.submit(task)
        return state

    def _release(self, task: UnitTask) -> None:
        lock = self._locks.pop(task.id, None)
        if lock is not None:
            lock.release()

    def _store_unit(self, event: Done) -> Done | Failed:
        task, unit = event.task, event.task.unit
        try:
            stored = self.store.write_unit(event.result.with_run(self.run_id, ""), event.arrays)
        except Exception as exc:  # noqa: BLE001 -- e.g. arrays that cannot be stored
            return Failed(task, f"storing the unit failed: {describe_error(exc)}", "", event.seconds)
        self._release(task)
        self.plans[unit.model].computed = True
        self.emit("unit_done", model=unit.model, unit=unit.uid, key=unit.key, attempt=task.attempt,
                  seconds=round(event.seconds, 3), device=stored.device, errors=dict(stored.metric_errors))
        self._resolve(task, UnitReport(unit.model, unit.uid, "done", event.seconds, task.attempt))
        return event

    def _retry(self, event: Failed) -> None:
        task = event.task
        self.emit("unit_retry", model=task.unit.model, unit=task.unit.uid, attempt=task.attempt,
                  message=event.error, detail=event.detail[-4000:])
        retry = task.retry()
        self._locks[retry.id] = self._locks.pop(task.id)
        self.executor.submit(retry)

    def _unit_failed(self, event: Failed) -> None:
        task, unit = event.task, event.task.unit
        self._release(task)
        message = event.error if unit.uid == "all" else f"unit {unit.uid}: {event.error}"
        self.emit("unit_failed", model=unit.model, unit=unit.uid, attempt=task.attempt, message=event.error,
                  detail=event.detail[-4000:])
        plan = self.plans[unit.model]
        if plan.error is None:
            plan.error = message
            self._write_failure(unit.model, message, unit.uid)
        self._resolve(task, UnitReport(unit.model, unit.uid, "failed", event.seconds, task.attempt, event.error))

    def _resolve(self, task: UnitTask, report: UnitReport) -> None:
        self.summary.units.append(report)
        plan = self.plans[task.unit.model]
        plan.unresolved -= 1
        plan.seconds += report.seconds
        if plan.unresolved == 0:
            self._finish_model(task.unit.model)

    # -- finishing a model ------------------------------------------------------------------------
    def _write_failure(self, model: str, message: str, unit: str) -> None:
        import datetime as dt

        self.store.write_failure(Failure(model, self.track.name, self.variant, message, unit, self.run_id,
                                         dict(self.versions),
                                         dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")))

    def _fail_model(self, model: str, message: str, unit: str) -> None:
        self._write_failure(model, message, unit)
        self.outcomes[model] = ModelOutcome(model, "failed", error=message)
        self.emit("model_failed", model=model, message=message)

    def _finish_model(self, model: str) -> None:
        plan = self.plans[model]
        if plan.error is not None:
            self.outcomes[model] = ModelOutcome(model, "failed", error=plan.error, seconds=plan.seconds)
            self.emit("model_failed", model=model, message=plan.error)
            return
        found = []
        for unit in plan.units:
            got = self._stored_unit(unit, with_arrays=True)
            if got is None:
                self.outcomes[model] = ModelOutcome(model, "incomplete", seconds=plan.seconds,
                                                    error=f"unit {unit.uid} is not stored yet (another shard)")
                return
            found.append(got)
        track = self.track
        lock = UnitLock(self.store.unit_dir(track.name, model, self.variant) / "merge.lock", self.run_id)
        lock.acquire(blocking=True)
        try:
            stored = None if plan.computed else self.store.record(track.name, model, self.variant)
            if stored is not None and stored.result_key == plan.key:
                record = stored
            else:
                record, arrays = build_record(track, found, {m: self.registry.metrics.get(m) for m in self.metrics},
                                              metrics_run=self.metrics,
                                              registered_n_examples=self.registered.n_examples,
                                              result_key=plan.key, variant=self.variant, run_id=self.run_id)
                path = self.store.record_path(track.name, model, self.variant)
                sweep_temporaries(path.parent, path.name)
                sweep_temporaries(path.parent, path.with_suffix(".npz").name)
                record = self.store.write(record, arrays)
                self.emit("model_merged", model=model, key=plan.key, units=[u.uid for u in plan.units],
                          status=record.status, metric_errors=dict(record.metric_errors))
        except Exception as exc:  # noqa: BLE001
            message = f"building its record failed: {describe_error(exc)}"
            self.outcomes[model] = ModelOutcome(model, "failed", error=message, seconds=plan.seconds)
            self._write_failure(model, message, "merge")
            self.emit("model_failed", model=model, message=message)
            return
        finally:
            lock.release()
        self.outcomes[model] = ModelOutcome(model, "ok", record=record, seconds=plan.seconds,
                                            cached=not plan.computed)

