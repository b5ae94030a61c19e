"""The executor contract, the task a unit becomes, and the local (in-process) executor."""
from __future__ import annotations

import os
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..specs import LabelledImages, TrackSpec
from ..units import Unit


@dataclass(frozen=True)
class UnitTask:
    """Everything a worker needs to compute one unit (plain data: it travels to Ray workers)."""

    unit: Unit
    track: TrackSpec
    device: str | None = None
    data_dir: str | None = None
    cache_dir: str | None = None
    plugin_files: tuple[str, ...] = ()  # local plugin files the worker loads too
    plugin_allow: str | None = None  # the driver's BENCHBED_PLUGINS, if set
    threads: int | None = None  # torch threads while computing (None: leave as is)
    attempt: int = 1

    @property
    def id(self) -> str:
        return f"{self.unit.model}/{self.unit.uid}"

    def retry(self) -> UnitTask:
        return replace(self, attempt=self.attempt + 1)


@dataclass
class Done:
    task: UnitTask
    record: dict[str, Any]
    arrays: dict[str, np.ndarray]
    seconds: float


@dataclass
class Failed:
    task: UnitTask
    error: str
    detail: str = ""  # traceback text, for the run log
    seconds: float = 0.0


class UnitUI:
    """What executors report to while units run (the runner's progress display implements it)."""

    def unit_started(self, task: UnitTask) -> None: ...

    def unit_progress(self, task: UnitTask, message: str) -> None: ...

    def unit_metric_done(self, task: UnitTask, metric: str) -> None: ...


class Executor:
    """Runs unit tasks. The runner submits up to ``slots`` tasks, then polls for Done/Failed events."""

    name = "executor"
    retries = 0  # times the runner resubmits a failed unit

    def start(self, ui: UnitUI, *, registry=None, points: LabelledImages | None = None) -> None:
        self.ui = ui

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


# -- the work itself (in this process or on a worker) -------------------------------------------------
_WORKER_REGISTRIES: dict[tuple, Any] = {}


def worker_registry(plugin_files: tuple[str, ...], plugin_allow: str | None):
    """A registry built the way the driver's was: installed plugins (+ allow-list) and plugin files."""
    from ..plugins import ENV_ALLOW, ENV_FILES, PluginHost

    key = (tuple(plugin_files), plugin_allow)
    if key not in _WORKER_REGISTRIES:
        saved = {name: os.environ.get(name) for name in (ENV_ALLOW, ENV_FILES)}
        try:
            os.environ[ENV_FILES] = ""  # the files come explicitly, never twice
            if plugin_allow is None:
                os.environ.pop(ENV_ALLOW, None)
            else:
                os.environ[ENV_ALLOW] = plugin_allow
            host = PluginHost(extra_files=list(plugin_files))
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        _WORKER_REGISTRIES[key] = host.registry
    return _WORKER_REGISTRIES[key]


_POINTS: dict[tuple, LabelledImages] = {}


def _points_for(track: TrackSpec, registry, data_dir: str | None) -> LabelledImages:
    from ..runner import test_points

    key = (track.dataset, track.n_examples, data_dir)
    if key not in _POINTS:
        _POINTS.clear()  # keep one track's points at most
        _POINTS[key] = test_points(track, registry, Path(data_dir) if data_dir else None)
    return _POINTS[key]


def execute_task(task: UnitTask, *, registry=None, points: LabelledImages | None = None,
                 progress: Callable[[str], None] | None = None,
                 on_metric: Callable[[str], None] | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Compute one unit; returns the unit's record and per-point arrays. Raises on failure."""
    import torch

    from ..devices import resolve_device
    from ..errors import BenchbedError, UnknownNameError
    from ..runner import evaluate_unit

    remote = registry is None
    if remote:
        registry = worker_registry(task.plugin_files, task.plugin_allow)
    try:
        model_spec = registry.model(task.unit.model)
    except UnknownNameError as exc:
        if not remote:
            raise
        raise BenchbedError(f"{exc} (on this worker, which loads the installed plugins and the run's plugin "
                            f"files, not plugins registered in-process: install the plugin on the workers "
                            f"or pass it with --plugin FILE)") from None
    track = task.track
    if points is None:
        points = _points_for(track, registry, task.data_dir)
    unit = task.unit
    sub = LabelledImages(points.images[unit.start:unit.stop], points.labels[unit.start:unit.stop])
    saved_threads = torch.get_num_threads()
    if task.threads:
        torch.set_num_threads(task.threads)
    try:
        record, arrays = evaluate_unit(
            model_spec, track, sub, unit.indices, resolve_device(task.device), registry,
            data_dir=Path(task.data_dir) if task.data_dir else None,
            cache_dir=Path(task.cache_dir) if task.cache_dir else None,
            progress=progress, metrics=unit.metrics, on_metric=on_metric)
    finally:
        if task.threads:
            torch.set_num_threads(saved_threads)
    record["unit"] = unit.info()
    record["unit_key"] = unit.key
    record["attempt"] = task.attempt
    return record, arrays


def describe_failure(exc: BaseException) -> tuple[str, str]:
    from ..runner import describe_error

    return describe_error(exc), "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


class LocalExecutor(Executor):
    """Units one after another in this process, on the run's device (no Ray needed)."""

    name = "local"

    def __init__(self, threads: int | None = None, retries: int = 0):
        self.threads = threads
        self.retries = retries
        self._queue: deque[UnitTask] = deque()
        self.registry = None
        self.points = None

    def start(self, ui: UnitUI, *, registry=None, points: LabelledImages | None = None) -> None:
        self.ui = ui
        self.registry = registry
        self.points = points

    def submit(self, task: UnitTask) -> None:
        self._queue.append(task)

    def poll(self, timeout: float | None = None) -> list[Done | Failed]:
        if not self._queue:
            return []
        task = self._queue.popleft()
        if self.threads and not task.threads:
            task = replace(task, threads=self.threads)
        self.ui.unit_started(task)
        t0 = time.perf_counter()
        try:
            record, arrays = execute_task(
                task, registry=self.registry, points=self.points,
                progress=lambda message: self.ui.unit_progress(task, message),
                on_metric=lambda metric: self.ui.unit_metric_done(task, metric))
        except Exception as exc:  # one broken unit must not stop the others
            error, detail = describe_failure(exc)
            return [Failed(task, error, detail, time.perf_counter() - t0)]
        return [Done(task, record, arrays, time.perf_counter() - t0)]

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "threads": self.threads}
