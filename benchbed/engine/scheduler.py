"""The scheduler: plans a run's units, claims them, submits them to an executor, and finishes models.

It is the only writer of the results store during a run. Planning loads each model once (on the
CPU) to fingerprint its weights, computes the key of everything its numbers depend on, and skips
records and units already stored under that key. A unit is computed under an exclusive per-unit lock
(:mod:`benchbed.engine.locking`), so a run killed at any moment loses at most the units in flight and two
runs can share a results folder. When all of a model's units are stored, its record is built
(:func:`benchbed.results.builder.build_record`) and written. Everything the user sees or the run log keeps
goes out as events to the run's observers (:mod:`benchbed.contracts.events`).
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchbed.contracts.errors import describe_error
from benchbed.contracts.events import (
    ExecutorStarted,
    ModelCached,
    ModelFailed,
    ModelMerged,
    Note,
    Observers,
    RunEnd,
    RunEvent,
    RunInterrupted,
    UnitDeferred,
    UnitRetry,
    UnitSkipped,
)
from benchbed.contracts.specs import LabelledImages, ModelSpec
from benchbed.engine import planning
from benchbed.engine.evaluation import UnitTask, fingerprint
from benchbed.engine.executors import Done, Executor, Failed, Reporter
from benchbed.engine.locking import UnitLock
from benchbed.engine.planning import RunSetup, unit_done, unit_failed, unit_start
from benchbed.engine.summary import ModelOutcome, RunSummary, UnitReport
from benchbed.engine.units import ALL, MODEL, Unit
from benchbed.registry import Registry
from benchbed.results.builder import build_record
from benchbed.results.record import Failure
from benchbed.results.store import ResultsStore, sweep_temporaries


@dataclass
class ModelState:
    """A model during a run: its plan's units and key, and how far they got."""

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

    def __init__(self, setup: RunSetup, models: Sequence[ModelSpec], *, registry: Registry, store: ResultsStore,
                 executor: Executor, points: LabelledImages):
        self.setup, self.models = setup, list(models)
        self.track, self.registered, self.metrics = setup.track, setup.registered, setup.metrics
        self.variant, self.versions, self.run_id = setup.variant, setup.versions, setup.run_id
        self.registry, self.store, self.executor, self.points = registry, store, executor, points
        self.force, self.n_shards, self.only_shard = setup.force, setup.n_shards, setup.only_shard
        self.observers: Observers | None = None  # given to run(); planning's events wait for them
        self._early: list[RunEvent] = []
        self._finishing: deque[str] = deque()  # models whose units are all resolved, to build records for
        self.summary = RunSummary(self.track.name, run_id=self.run_id, executor=executor.name,
                                  results_dir=str(store.root))
        self.plans: dict[str, ModelState] = {}
        self.outcomes: dict[str, ModelOutcome] = {}
        self.pending: list[UnitTask] = []
        self._seen_mtime: dict[str, float | None] = {}
        self._locks: dict[str, UnitLock] = {}
        self._started_wall = time.time()

    # -- events (Reporter: what executors tell) -----------------------------------------------------
    def emit(self, event: RunEvent) -> None:
        if self.observers is None:
            self._early.append(event)
        else:
            self.observers.emit(event)

    def note(self, message: str) -> None:
        self.emit(Note(message=message))

    def started(self, task: UnitTask) -> None:
        self.emit(unit_start(task))

    def progress(self, task: UnitTask, message: str) -> None:
        self.emit(planning.unit_progress(task, message))

    def metric_done(self, task: UnitTask, metric: str) -> None:
        self.emit(planning.metric_done(task, metric))

    # -- planning --------------------------------------------------------------------------------
    def plan(self) -> None:
        for spec in self.models:
            self._plan_model(spec)

    def _plan_model(self, spec: ModelSpec) -> None:
        for attempt in range(1 + self.executor.retries):  # as many tries as the executor gives a unit
            try:
                weights = fingerprint(spec)
                break
            except Exception as exc:  # noqa: BLE001 -- a broken model fails alone
                error = f"loading it failed: {describe_error(exc)}"
                if attempt < self.executor.retries:
                    self.emit(Note(model=spec.name, message=f"{error}; retrying"))
        else:
            self.plans[spec.name] = ModelState(spec, [], error=error)
            self._fail_model(spec.name, error, unit="load")
            return
        planned = planning.plan_model(spec, weights, self.setup, self.registry, self.n_shards)
        key, units = planned.key, planned.units
        plan = self.plans[spec.name] = ModelState(spec, units, key)
        self.summary.n_shards = max(self.summary.n_shards, sum(u.uid != MODEL for u in units))
        if not self.force:
            stored = self.store.record(self.track.name, spec.name, self.variant)
            if stored is not None and stored.result_key == key:
                self.outcomes[spec.name] = ModelOutcome(spec.name, "ok", record=stored, cached=True)
                for unit in units:
                    self.summary.units.append(UnitReport(unit.model, unit.uid, "skipped", reason="cached-model"))
                self.emit(ModelCached(model=spec.name, key=key))
                return
        setup = self.setup
        for unit in units:
            mine = self.only_shard is None or (unit.shard if unit.uid != MODEL else 0) == self.only_shard
            if not mine:
                self.summary.units.append(UnitReport(unit.model, unit.uid, "other-shard"))
                continue
            self._seen_mtime[unit.key] = _mtime(self._unit_path(unit))
            if not self.force and self._stored_unit(unit) is not None:
                self.summary.units.append(UnitReport(unit.model, unit.uid, "skipped", reason="stored"))
                self.emit(UnitSkipped(model=unit.model, unit=unit.uid, key=unit.key, reason="stored"))
                continue
            self.pending.append(UnitTask(
                unit=unit, track=self.track, expected=planned.expected, device=setup.device,
                data_dir=str(setup.data_dir) if setup.data_dir else None,
                cache_dir=str(setup.cache_dir) if setup.cache_dir else None, plugins=setup.selection,
                threads=setup.threads, run_id=self.run_id))
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
        for event in self._early:
            observers.emit(event)
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
                if self.executor.slots > 1:  # model-level units (short) last: they fill the slots long ones leave
                    queue = deque(sorted(queue, key=lambda task: task.unit.uid == MODEL))
                details = dict(self.executor.describe())
                self.emit(ExecutorStarted(executor=str(details.pop("executor", self.executor.name)),
                                          details=details))
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
                        self.emit(UnitDeferred(model=task.unit.model, unit=task.unit.uid,
                                               reason="locked by another run"))
                    inflight += state == "claimed"
                self._finish_models()  # after the slots are refilled: building records never idles a worker
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
            self._finish_models()
        except BaseException as exc:
            interrupted = True
            self.emit(RunInterrupted(message=f"{type(exc).__name__}: {exc}".rstrip(": "),
                                     seconds=round(time.perf_counter() - started, 3)))
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
                self.emit(RunEnd(seconds=round(self.summary.seconds, 3), **self.summary.counts(),
                                 models={o.model: o.status for o in self.summary.outcomes}))
        return self.summary

    def _claim(self, task: UnitTask, blocking: bool) -> str:
        unit = task.unit
        lock = UnitLock(self.store.lock_path(self.track.name, unit.model, unit.variant, unit.uid), self.run_id)
        if not lock.acquire(blocking=blocking, on_wait=lambda who: self.emit(
                Note(model=unit.model, message=f"waiting for {who} to finish {unit.describe()}"))):
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
            self.emit(UnitSkipped(model=task.unit.model, unit=task.unit.uid, key=task.unit.key,
                                  reason="finished by another run"))
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
        self.emit(unit_done(task, event.seconds, stored))
        self._resolve(task, UnitReport(unit.model, unit.uid, "done", event.seconds, task.attempt))
        return event

    def _retry(self, event: Failed) -> None:
        task = event.task
        self.emit(UnitRetry(model=task.unit.model, unit=task.unit.uid, attempt=task.attempt, message=event.error,
                            detail=event.detail[-4000:]))
        retry = task.retry()
        self._locks[retry.id] = self._locks.pop(task.id)
        self.executor.submit(retry)

    def _unit_failed(self, event: Failed) -> None:
        task, unit = event.task, event.task.unit
        self._release(task)
        message = event.error if unit.uid == ALL else f"unit {unit.uid}: {event.error}"
        self.emit(unit_failed(task, event.error, event.detail))
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
            self._finishing.append(task.unit.model)

    def _finish_models(self) -> None:
        while self._finishing:
            self._finish_model(self._finishing.popleft())

    # -- finishing a model ------------------------------------------------------------------------
    def _write_failure(self, model: str, message: str, unit: str) -> None:
        import datetime as dt

        self.store.write_failure(Failure(model, self.track.name, self.variant, message, unit, self.run_id,
                                         dict(self.versions),
                                         dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")))

    def _fail_model(self, model: str, message: str, unit: str) -> None:
        self._write_failure(model, message, unit)
        self.outcomes[model] = ModelOutcome(model, "failed", error=message)
        self.emit(ModelFailed(model=model, message=message))

    def _finish_model(self, model: str) -> None:
        plan = self.plans[model]
        if plan.error is not None:
            self.outcomes[model] = ModelOutcome(model, "failed", error=plan.error, seconds=plan.seconds)
            self.emit(ModelFailed(model=model, message=plan.error))
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
                self.emit(ModelMerged(model=model, key=plan.key, units=[u.uid for u in plan.units],
                                      status=record.status, metric_errors=dict(record.metric_errors)))
        except Exception as exc:  # noqa: BLE001
            message = f"building its record failed: {describe_error(exc)}"
            self.outcomes[model] = ModelOutcome(model, "failed", error=message, seconds=plan.seconds)
            self._write_failure(model, message, "merge")
            self.emit(ModelFailed(model=model, message=message))
            return
        finally:
            lock.release()
        self.outcomes[model] = ModelOutcome(model, "ok", record=record, seconds=plan.seconds,
                                            cached=not plan.computed)

