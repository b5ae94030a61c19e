"""The Ray executor: units become Ray tasks, one GPU each where the cluster has GPUs, CPU otherwise.

With no address it starts a local Ray instance (``--workers N`` CPUs); with ``--address`` it joins
an existing cluster (``auto``, ``HOST:PORT``, or a ``ray://`` client address, which needs
``ray[client]``). Workers compute and hand the record and per-point arrays back to the driver, which
writes them through the results store, so the workers need no access to the results folder (only to
the datasets and the installed model plugins). Progress messages stream back through a Ray queue.
A failed unit is reported with its error and retried once by the runner; the others go on.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from benchbed.contracts.errors import ConfigError
from benchbed.engine.evaluation import UnitTask
from benchbed.engine.executors.base import Done, Executor, Failed, Reporter, compute_unit

INSTALL_HINT = "pip install 'benchbed[ray]'"


def import_ray():
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(f"--executor ray needs Ray, which is not installed ({exc}): {INSTALL_HINT}, or use "
                          f"the default local executor") from None
    return ray


def _run_unit(task: UnitTask, queue) -> Done | Failed:
    """Runs on a Ray worker: the unit, its messages sent back through ``queue``."""

    def send(kind: str, payload: str) -> None:
        try:
            queue.put_nowait((task.id, task.attempt, kind, payload))
        except Exception:  # progress is best effort
            pass

    return compute_unit(task, send)


class RayExecutor(Executor):
    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, threads: int | None = None,
                 retries: int = 1, device: str | None = None, **_ignored: Any):
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {workers}")
        self.address = address
        self.workers = workers
        self.threads = threads or 1
        self.retries = retries
        self.device = device
        self._ray = None
        self._owns = False
        self._inflight: dict[Any, UnitTask] = {}
        self._gpus = 0.0
        self._cpus = 0.0

    def start(self, reporter: Reporter, *, registry=None, points=None) -> None:
        self.reporter = reporter
        ray = self._ray = import_ray()
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
            if self.address:
                ray.init(address=self.address, **kwargs)
            else:
                if self.workers:
                    kwargs["num_cpus"] = self.workers * self.threads
                ray.init(include_dashboard=False, **kwargs)
                self._owns = True
        resources = ray.cluster_resources()
        self._gpus = float(resources.get("GPU", 0))
        self._cpus = float(resources.get("CPU", 1))
        wants_cpu = self.device is not None and self.device.startswith("cpu")
        if self.device and self.device.startswith("cuda") and not self._gpus:
            raise ConfigError(f"--device {self.device} with --executor ray, but the Ray cluster has no GPU: "
                              f"use --device cpu")
        self.use_gpu = self._gpus > 0 and not wants_cpu
        from ray.util.queue import Queue

        self._queue = Queue(actor_options={"num_cpus": 0})
        options: dict[str, Any] = {"max_retries": 0, "num_cpus": 0 if self.use_gpu else self.threads}
        if self.use_gpu:
            options["num_gpus"] = 1
        self._remote = ray.remote(_run_unit).options(**options)

    @property
    def slots(self) -> int:
        if self.workers:
            return self.workers
        if self.use_gpu:
            return max(1, int(self._gpus))
        return max(1, int(self._cpus // self.threads))

    def submit(self, task: UnitTask) -> None:
        device = self.device or ("cuda" if self.use_gpu else "cpu")
        task = replace(task, device=device, threads=task.threads or (None if self.use_gpu else self.threads))
        ref = self._remote.remote(task, self._queue)
        self._inflight[ref] = task

    def _drain_progress(self) -> None:
        try:
            items = self._queue.get_nowait_batch(self._queue.qsize())
        except Exception:
            return
        by_id = {(t.id, t.attempt): t for t in self._inflight.values()}
        for task_id, attempt, kind, payload in items:
            task = by_id.get((task_id, attempt))
            if task is None:
                continue
            self.reporter.relay(task, kind, payload)

    def poll(self, timeout: float | None = None) -> list[Done | Failed]:
        ray = self._ray
        if not self._inflight:
            return []
        ready, _ = ray.wait(list(self._inflight), num_returns=len(self._inflight), timeout=timeout or 0.25)
        self._drain_progress()
        events: list[Done | Failed] = []
        for ref in ready:
            task = self._inflight.pop(ref)
            try:
                events.append(ray.get(ref))
            except Exception as exc:  # the worker died, the node was lost, ...
                events.append(Failed(task, f"Ray task failed: {type(exc).__name__}: {str(exc).splitlines()[0]}",
                                     str(exc)))
        return events

    def close(self) -> None:
        ray = self._ray
        if ray is None:
            return
        for ref in list(self._inflight):
            try:
                ray.cancel(ref, force=True)
            except Exception:
                pass
        self._inflight.clear()
        try:
            ray.kill(self._queue.actor)
        except Exception:
            pass
        if self._owns:
            ray.shutdown()

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "address": self.address or "local instance", "workers": self.workers,
                "threads_per_worker": None if self.use_gpu else self.threads, "gpus": self._gpus,
                "cpus": self._cpus, "gpu_per_unit": bool(self.use_gpu)}
