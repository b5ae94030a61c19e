"""Units side by side on this machine's CPUs: the local executor's pool of worker processes.

Each worker is a fresh process (the ``spawn`` start method: nothing of torch's threads or state is
forked mid-flight) that rebuilds the run's plugins from the task's
:class:`~benchbed.registry.PluginSelection` (installed plugins and local plugin files), loads the test
points once, and computes whole units at the task's torch thread count: a unit's numbers are those of
the same unit run in the run's own process at that count. Progress comes back through a queue, results
as the pool's return values; the scheduler alone writes the store, so a killed run loses only the units
in flight. A unit that raises fails alone. A worker that dies (a crash in native code, the OOM killer)
breaks the whole pool: it is rebuilt, and the units that were in flight then rerun one at a time, so
that only the unit that crashes fails. On Linux the workers die with the run (a parent-death signal).
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import Any

from benchbed.contracts.errors import describe_error
from benchbed.engine.evaluation import UnitTask
from benchbed.engine.executors.base import Done, Executor, Failed, Reporter, compute_unit
from benchbed.registry import PluginSelection, Registry

START_METHOD = "spawn"
_PROGRESS = None  # in a worker: the queue its progress messages go to


def registry_shareable(registry: Registry | None, selection: PluginSelection | None) -> bool:
    """Whether worker processes can rebuild the run's registry: from the selection given, or because it is the
    process's own registry of installed plugins and plugin files (no object registered in this process)."""
    from benchbed import registry as plugin_registry

    if selection is not None or registry is None:
        return True
    host = plugin_registry._HOST
    return (host is not None and registry is host.registry
            and not any(info.distribution == "(in-process)" for info in host.infos.values()))


def refuse_in_starting_worker() -> None:
    """A worker process re-imports the main script while it starts (``spawn``); a script that runs a track at
    import time would plan and lock units there. Stop that worker at once instead: the run sees its workers
    cannot start and goes on in-process."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):  # the flag multiprocessing checks too
        raise SystemExit("benchbed: a worker process cannot start: the main script starts a run when imported; put "
                         "the call under `if __name__ == '__main__':`")  # one line, not a traceback, per worker


def _die_with_parent(parent: int) -> None:
    """Linux: ask the kernel to kill this worker when the run's process dies (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the run died before the request took effect
        os._exit(1)


def _init_worker(progress, parent: int) -> None:
    global _PROGRESS
    _PROGRESS = progress
    # tqdm's default lock is a multiprocessing semaphore made on first use; a worker ended at the run's close
    # never releases it (a 'leaked semaphore' warning at exit): this process's bars need a thread lock only
    import threading

    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the run handles it
    _die_with_parent(parent)


def _send(task: UnitTask, kind: str, payload: str) -> None:
    try:
        _PROGRESS.put((task.id, task.attempt, kind, payload))
    except Exception:  # noqa: BLE001 -- progress is best effort
        pass


def _run_unit(task: UnitTask) -> Done | Failed:
    """In a worker: the unit, its messages sent back through the progress queue."""
    return compute_unit(task, lambda kind, payload: _send(task, kind, payload))


class PoolExecutor(Executor):
    """Up to ``workers`` units at once, each in its own worker process at ``threads`` torch threads."""

    name = "local"

    def __init__(self, workers: int, threads: int | None, retries: int = 0):
        self.workers, self.threads, self.retries = workers, threads, retries
        self._pool: ProcessPoolExecutor | None = None
        self._waiting: deque[UnitTask] = deque()
        self._alone: deque[UnitTask] = deque()  # in flight when a worker died: rerun one at a time
        self._running: dict[Future, tuple[UnitTask, bool]] = {}  # future -> (task, ran alone)
        self._started_any = False
        self.unusable: str | None = None  # why no worker could even start (then the units run in-process)

    def start(self, reporter: Reporter, *, registry=None, points=None) -> None:
        self.reporter = reporter
        self._context = multiprocessing.get_context(START_METHOD)
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        # a SimpleQueue writes synchronously: a unit's messages are in the pipe before its result comes back;
        # a new one with each pool, as a worker killed mid-write would leave the old one's write lock held
        self._progress = self._context.SimpleQueue()
        return ProcessPoolExecutor(self.workers, mp_context=self._context, initializer=_init_worker,
                                   initargs=(self._progress, os.getpid()))

    @property
    def slots(self) -> int:
        return self.workers

    def submit(self, task: UnitTask) -> None:
        if self.threads and not task.threads:
            task = replace(task, threads=self.threads)
        self._waiting.append(task)
        self._dispatch()

    def _dispatch(self) -> None:
        if self._alone:
            if not self._running:
                task = self._alone.popleft()
                self._running[self._pool.submit(_run_unit, task)] = (task, True)
            return
        while self._waiting and len(self._running) < self.workers:
            task = self._waiting.popleft()
            self._running[self._pool.submit(_run_unit, task)] = (task, False)

    def _drain(self, tasks) -> None:
        """Hand the workers' progress messages to the reporter (messages of tasks no longer known are dropped)."""
        by_id = {(t.id, t.attempt): t for t in tasks}
        while not self._progress.empty():
            task_id, attempt, kind, payload = self._progress.get()
            task = by_id.get((task_id, attempt))
            if task is None:
                continue
            self._started_any = self._started_any or kind == "started"
            self.reporter.relay(task, kind, payload)

    def poll(self, timeout: float | None = None) -> list[Done | Failed]:
        if not self._running:
            self._dispatch()
            if not self._running:
                return []
        finished, _ = wait(list(self._running), timeout=timeout or 0.25, return_when=FIRST_COMPLETED)
        self._drain([task for task, _ in self._running.values()])
        events: list[Done | Failed] = []
        crashed: list[tuple[UnitTask, bool]] = []
        for future in finished:
            self._collect(future, events, crashed)
        if crashed:
            wait(list(self._running), timeout=10)  # the pool marks all its futures broken at once
            for future in list(self._running):
                self._collect(future, events, crashed)
            events += self._after_crash(crashed)
        if self.unusable is None:
            self._dispatch()
        return events

    def _collect(self, future: Future, events: list, crashed: list) -> None:
        """The unit's Done/Failed into ``events``, or (task, alone) into ``crashed`` if its worker died."""
        task, alone = self._running.pop(future)
        if not future.done() or isinstance(future.exception(), BrokenProcessPool):
            crashed.append((task, alone))
        elif future.exception() is not None:  # e.g. a result that could not be sent back
            events.append(Failed(task, f"its worker could not return the unit: {describe_error(future.exception())}"))
        else:
            events.append(future.result())

    def _after_crash(self, crashed: list[tuple[UnitTask, bool]]) -> list[Failed]:
        """A worker died: every unit in flight lost its result. Rebuild the pool; blame a unit only if it
        was alone in flight, and rerun the others one at a time until the culprit shows itself."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        if not self._started_any:  # no worker ever got to a unit: the processes themselves cannot start
            self.unusable = ("worker processes could not start (a script that calls benchbed at import time needs "
                             "`if __name__ == '__main__':`, see docs/scale.md)")
            self._waiting.extendleft(reversed([task for task, _ in crashed]))
            return []
        self._pool = self._new_pool()
        if len(crashed) == 1:
            task, _ = crashed[0]
            return [Failed(task, "its worker process died (a crash in native code, or killed by the system, "
                                 "e.g. out of memory)")]
        self._alone.extend(task for task, _ in crashed)
        return []

    def leftover(self) -> list[UnitTask]:
        """The units submitted but not computed (to run elsewhere once the pool is unusable)."""
        tasks = [*self._alone, *self._waiting]
        self._alone.clear()
        self._waiting.clear()
        return tasks

    def close(self) -> None:
        if self._pool is None:
            return
        # the run is over or interrupted: stop the workers now (idle ones would take seconds to wind down
        # torch; units in flight are lost anyway) -- through the stdlib's own table of its processes
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        for process in processes:
            if process.is_alive():
                process.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._running.clear()
        self._pool = None
        self._progress.close()
        self._progress = None  # its lock's finalizer unlinks the semaphore (no leak warning at exit)

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "workers": self.workers, "threads": self.threads,
                "processes": START_METHOD}
