"""The executor contract and the local (in-process) executor.

An executor runs :class:`~benchbed.engine.evaluation.UnitTask` s somewhere and hands back ``Done`` or
``Failed`` events; the scheduler alone writes results. Executors are plugins
(``register_executors``; the built-in ``local`` and ``ray`` are registered in
:mod:`benchbed.builtin.executors`).
"""
from __future__ import annotations

import time
import traceback
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from benchbed.contracts.errors import ConfigError, describe_error
from benchbed.contracts.specs import LabelledImages
from benchbed.engine.evaluation import UnitTask, evaluate_unit, worker_points, worker_registry
from benchbed.results.record import UnitResult


@dataclass
class Done:
    task: UnitTask
    result: UnitResult
    arrays: dict[str, np.ndarray]
    seconds: float


@dataclass
class Failed:
    task: UnitTask
    error: str
    detail: str = ""  # traceback text, for the run log
    seconds: float = 0.0


class Reporter:
    """What executors tell while units run (the scheduler turns it into events for the observers)."""

    def started(self, task: UnitTask) -> None: ...

    def progress(self, task: UnitTask, message: str) -> None: ...

    def metric_done(self, task: UnitTask, metric: str) -> None: ...


class Executor:
    """Runs unit tasks. The scheduler submits up to ``slots`` tasks, then polls for Done/Failed events."""

    name = "executor"
    retries = 0  # times the scheduler resubmits a failed unit

    def start(self, reporter: Reporter, *, registry=None, points: LabelledImages | None = None) -> None:
        self.reporter = reporter

    @property
    def slots(self) -> int:
        return 1

    def submit(self, task: UnitTask) -> None:
        raise NotImplementedError

    def poll(self, timeout: float | None = None) -> list[Done | Failed]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name}


def run_task(task: UnitTask, *, registry=None, points: LabelledImages | None = None, progress=None,
             on_metric=None) -> tuple[UnitResult, dict[str, np.ndarray]]:
    """Compute one unit here: with the given registry and points, or (on a worker) ones built from the
    task's plugin selection and data folder. Sets torch's thread count for the unit if asked."""
    import torch

    if registry is None:
        registry = worker_registry(task.plugins)
    if points is None:
        points = worker_points(task.track, registry, task.data_dir)
    saved = torch.get_num_threads()
    if task.threads:
        torch.set_num_threads(task.threads)
    try:
        return evaluate_unit(task, registry=registry, points=points, progress=progress, on_metric=on_metric)
    finally:
        if task.threads:
            torch.set_num_threads(saved)


def describe_failure(exc: BaseException) -> tuple[str, str]:
    return describe_error(exc), "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


class LocalExecutor(Executor):
    """Units on this machine: one after another in this process (one worker, or a GPU), or side by side in
    ``workers`` worker processes (:class:`~benchbed.engine.executors.pool.PoolExecutor`, CPU only)."""

    name = "local"

    def __init__(self, threads: int | None = None, retries: int = 0, workers: int | None = None, **_ignored: Any):
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {workers}")
        self.threads = threads
        self.retries = retries
        self.workers = workers or 1
        self.cpu_choice = ""  # why this many workers and threads, in words (the run header's)
        self._queue: deque[UnitTask] = deque()
        self._pool: Executor | None = None
        self.registry = None
        self.points = None

    def use_cpus(self, workers: int, threads: int | None, said: str = "") -> None:
        """Set the workers and per-unit threads the run chose (before it starts)."""
        self.workers, self.threads, self.cpu_choice = workers, threads, said

    def start(self, reporter: Reporter, *, registry=None, points: LabelledImages | None = None) -> None:
        self.reporter = reporter
        self.registry = registry
        self.points = points
        if self.workers > 1:
            from benchbed.engine.executors.pool import PoolExecutor

            self._pool = PoolExecutor(self.workers, self.threads, self.retries)
            self._pool.start(reporter)

    @property
    def slots(self) -> int:
        return self.workers if self._pool is not None else 1

    def submit(self, task: UnitTask) -> None:
        if self._pool is not None:
            self._pool.submit(task)
        else:
            self._queue.append(task)

    def poll(self, timeout: float | None = None) -> list[Done | Failed]:
        if self._pool is not None:
            events = self._pool.poll(timeout)
            if self._pool.unusable is None:
                return events
            self._queue.extend(self._pool.leftover())  # the pool cannot run anything: units go on in-process
            note = getattr(self.reporter, "emit", None)
            if note is not None:
                note("note", message=f"{self._pool.unusable}; running the units one after another in this process")
            self._pool.close()
            self._pool, self.workers = None, 1
            return events
        if not self._queue:
            return []
        task = self._queue.popleft()
        if self.threads and not task.threads:
            task = replace(task, threads=self.threads)
        self.reporter.started(task)
        t0 = time.perf_counter()
        try:
            result, arrays = run_task(task, registry=self.registry, points=self.points,
                                      progress=lambda message: self.reporter.progress(task, message),
                                      on_metric=lambda metric: self.reporter.metric_done(task, metric))
        except Exception as exc:  # one broken unit must not stop the others
            error, detail = describe_failure(exc)
            return [Failed(task, error, detail, time.perf_counter() - t0)]
        return [Done(task, result, arrays, time.perf_counter() - t0)]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "workers": self.workers, "threads": self.threads,
                "processes": "worker processes" if self.workers > 1 else "this process",
                **({"cpus": self.cpu_choice} if self.cpu_choice else {})}
