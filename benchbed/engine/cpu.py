"""How many CPUs a run may use right now, and the workers × threads its units get from them.

The idle CPUs are measured, not guessed from the 1-minute load average (which still counts a job that
ended seconds ago): two reads of ``/proc/stat`` a fraction of a second apart give each usable CPU's idle
share over that interval. Usable CPUs are this process's affinity mask, capped by a cgroup CPU quota
(:func:`benchbed.engine.devices.usable_cpus`). Where ``/proc/stat`` cannot be read (macOS, Windows) the
load average stands in, and the run header says so.

The split (:func:`plan_cpus`) keeps whole units side by side rather than one unit across many threads:
small models gain little from more torch threads, whose threads then wait for each other, while
independent units scale with the cores. A unit's numbers depend on its own thread count only, never on
how many units run beside it, so with several units each runs at 1 thread (the count the published
records are made at): the same numbers on any number of cores. A run of a single unit gets the idle
CPUs as its threads; ``--threads N`` puts spare CPUs to work for several units too.
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from benchbed.contracts.errors import ConfigError
from benchbed.engine.devices import MAX_DEFAULT_THREADS, usable_cpus

SAMPLE_S = 0.3  # long enough for a few scheduler ticks (10 ms each) per CPU, short beside any unit
PROC_STAT = "/proc/stat"


def read_cpu_times(path: str = PROC_STAT) -> dict[int, tuple[int, int]] | None:
    """{cpu index: (idle ticks, total ticks)} from ``/proc/stat`` (idle counts iowait too); None if unreadable."""
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return None
    out = {}
    for line in lines:
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu" or not name[3:].isdigit():
            continue
        ticks = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal (guest is in user)
        out[int(name[3:])] = (ticks[3] + ticks[4], sum(ticks))
    return out or None


def _affinity() -> set[int] | None:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


@dataclass(frozen=True)
class CpuSample:
    """What the CPUs did over a short interval: how many this process may use, and how many of those idled."""

    usable: int
    idle: float  # CPUs' worth of idle time among the usable ones (at most ``usable``)
    seconds: float  # length of the sample; 0 when the load average stood in
    source: str  # "sampled" | "load average"

    @property
    def idle_cpus(self) -> int:
        """Whole idle CPUs: a CPU more than half idle counts; at least 1."""
        return max(1, min(self.usable, math.floor(self.idle + 0.5)))

    def describe(self) -> str:
        how = f"sampled {self.seconds:.1f} s" if self.source == "sampled" else "from the 1-minute load average"
        return f"{self.idle_cpus} idle CPU(s) of {self.usable} ({how})"


def sample_cpus(seconds: float = SAMPLE_S, *, read: Callable[[], dict | None] | None = None,
                sleep: Callable[[float], None] = time.sleep, usable: int | None = None,
                affinity: set[int] | None = None) -> CpuSample:
    """Idle CPUs among the usable ones, from two reads of the per-CPU times ``seconds`` apart."""
    usable = usable_cpus() if usable is None else usable
    affinity = _affinity() if affinity is None else affinity
    read = read or read_cpu_times
    before = read()
    if before is not None:
        sleep(seconds)
        after = read()
        mine = [cpu for cpu in (before.keys() & (after or {}).keys()) if affinity is None or cpu in affinity]
        spans = [(after[c][0] - before[c][0], after[c][1] - before[c][1]) for c in mine]
        if spans and all(total > 0 for _, total in spans):
            idle = sum(max(0.0, min(1.0, i / total)) for i, total in spans)
            return CpuSample(usable, min(float(usable), idle), seconds, "sampled")
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    return CpuSample(usable, max(0.0, usable - load), 0.0, "load average")


@dataclass(frozen=True)
class CpuPlan:
    """Units side by side: ``workers`` processes, each unit at ``threads`` torch threads; ``said`` says why."""

    workers: int
    threads: int
    said: str


def _omp_threads() -> int | None:
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def plan_cpus(units: int, sample: CpuSample, *, workers: int | None = None, threads: int | None = None,
              side_by_side: bool = True) -> CpuPlan:
    """Workers × threads for ``units`` units on the CPUs ``sample`` found idle.

    ``threads`` / ``workers`` given (``--threads``, ``--workers``; ``OMP_NUM_THREADS`` for threads) are kept;
    what is left is filled in. Threads: 1 per unit when several units run (the same numbers on any number
    of cores), the idle CPUs shared among the workers when there is one unit or ``--workers`` was given (at
    least 1, at most :data:`~benchbed.engine.devices.MAX_DEFAULT_THREADS`). Workers: the units that fit the
    idle CPUs at that thread count, never more than the units. ``side_by_side=False`` (a GPU run, or plugins
    the worker processes could not rebuild): one unit at a time, with the idle CPUs as its threads."""
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {threads}")
    idle, units = sample.idle_cpus, max(units, 1)
    why: list[str] = []
    if threads is not None:
        why.append("--threads")
    elif _omp_threads() is not None:
        threads = _omp_threads()
        why.append("OMP_NUM_THREADS")
    if not side_by_side:
        if workers not in (None, 1):
            why.append("--workers ignored: units run one at a time here")
        workers = 1
    elif workers is not None:
        why.append("--workers")
    if threads is None:
        threads = 1 if workers is None and units > 1 else max(1, min(MAX_DEFAULT_THREADS, idle // (workers or 1)))
    if workers is None:
        workers = max(1, min(units, idle // threads))
    workers = min(workers, units)
    said = (f"{_plural(workers, 'worker')} × {_plural(threads, 'thread')}"
            f"{' (' + ', '.join(why) + ')' if why else ''}: {_plural(units, 'unit')}, {sample.describe()}")
    spare = idle - workers * threads
    if spare > 0 and not why and units > 1:
        said += (f"; {_plural(spare, 'CPU')} left idle: --threads {idle // workers} would use them (energies and "
                 f"FIDs then move in their last digits)")
    return CpuPlan(workers, threads, said)


def choose_local_cpus(executor, units: int, device: str, workers: int | None, threads: int | None,
                      side_by_side: bool) -> str:
    """Set the local executor's workers × threads from a short sample of the idle CPUs; what it chose, in words.

    Units go side by side in worker processes on the CPU only, and only when the workers can rebuild the
    run's plugins (``side_by_side``); on a GPU they share the device one at a time, as before."""
    if units == 0:
        return "nothing to compute"
    plan = plan_cpus(units, sample_cpus(), workers=workers, threads=threads,
                     side_by_side=side_by_side and str(device).startswith("cpu"))
    executor.use_cpus(plan.workers, plan.threads, plan.said)
    return plan.said
