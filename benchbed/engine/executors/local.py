"""The local executor: units on this machine, one after another in this process or side by side in worker
processes (:mod:`benchbed.engine.executors.pool`, CPU only)."""
from __future__ import annotations

from collections import deque
from dataclasses import replace
from typing import Any

from benchbed.contracts.errors import ConfigError
from benchbed.contracts.specs import LabelledImages
from benchbed.engine.evaluation import UnitTask
from benchbed.engine.executors.base import Done, Executor, Failed, Reporter, compute_unit
from benchbed.engine.executors.pool import PoolExecutor


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
        self._pool: PoolExecutor | None = None
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
            self.reporter.note(f"{self._pool.unusable}; running the units one after another in this process")
            self._pool.close()
            self._pool, self.workers = None, 1
            return events
        if not self._queue:
            return []
        task = self._queue.popleft()
        if self.threads and not task.threads:
            task = replace(task, threads=self.threads)
        return [compute_unit(task, lambda kind, payload: self.reporter.relay(task, kind, payload),
                             registry=self.registry, points=self.points)]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "workers": self.workers, "threads": self.threads,
                "processes": "worker processes" if self.workers > 1 else "this process",
                **({"cpus": self.cpu_choice} if self.cpu_choice else {})}
