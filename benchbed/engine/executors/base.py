"""The executor contract: what the scheduler submits and gets back, and how a unit is computed anywhere.

An executor runs :class:`~benchbed.engine.evaluation.UnitTask` s somewhere and hands back ``Done`` or
``Failed`` events; the scheduler alone writes results. Executors are plugins
(``register_executors``; the built-in ``local`` (:mod:`benchbed.engine.executors.local`) and ``ray`` are
registered in :mod:`benchbed.builtin.executors`).
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchbed.contracts.errors import describe_error
from benchbed.contracts.specs import LabelledImages
from benchbed.engine.evaluation import UnitTask, evaluate_unit, worker_points, worker_registry
from benchbed.engine.threads import unit_threads
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

    def note(self, message: str) -> None: ...

    def relay(self, task: UnitTask, kind: str, payload: Any) -> None:
        """One message a worker process sent back ("started", "progress" or "metric"), told as above."""
        if kind == "started":
            self.started(task)
        elif kind == "progress":
            self.progress(task, payload)
        elif kind == "metric":
            self.metric_done(task, payload)


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
    task's plugin selection and data folder. Sets torch's and BLAS's thread counts for the unit if asked."""
    if registry is None:
        registry = worker_registry(task.plugins)
    if points is None:
        points = worker_points(task.track, registry, task.data_dir)
    with unit_threads(task.threads):
        return evaluate_unit(task, registry=registry, points=points, progress=progress, on_metric=on_metric)


def compute_unit(task: UnitTask, send, *, registry=None, points: LabelledImages | None = None) -> Done | Failed:
    """Compute one unit, telling ``send(kind, payload)`` when it starts ("started"), its progress lines
    ("progress") and each metric done ("metric"). Never raises for the unit's own failure: a broken unit
    comes back as :class:`Failed` and must not stop the others. Both results are picklable, so worker
    processes and Ray tasks return them as they are."""
    t0 = time.perf_counter()
    send("started", "")
    try:
        result, arrays = run_task(task, registry=registry, points=points,
                                  progress=lambda message: send("progress", message),
                                  on_metric=lambda metric: send("metric", metric))
    except Exception as exc:  # noqa: BLE001 -- one broken unit must not stop the others
        error, detail = describe_failure(exc)
        return Failed(task, error, detail, time.perf_counter() - t0)
    return Done(task, result, arrays, time.perf_counter() - t0)


def describe_failure(exc: BaseException) -> tuple[str, str]:
    return describe_error(exc), "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
