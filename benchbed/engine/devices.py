"""Choosing the evaluation device."""
from __future__ import annotations

import math
import os
import platform

from benchbed.contracts.errors import ConfigError


def best_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_device(requested: str | None = None):
    """``None``/"auto" picks the best device; anything else must be a device torch can use here."""
    import torch

    name = best_device() if requested in (None, "", "auto") else requested
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"invalid --device {requested!r} ({exc}): use cpu, cuda, cuda:N or mps") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {requested!r} asked for CUDA but no CUDA GPU is visible: use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"--device {requested!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"--device {requested!r}: MPS is not available here; use --device cpu")
    return device


def device_name(device) -> str:
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


MAX_DEFAULT_THREADS = 16  # beyond this, small models gain little and a shared machine loses a lot


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask, capped by a cgroup CPU quota (containers)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        cpus = os.cpu_count() or 1
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.floor(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


def default_threads(cpus: int | None = None, load: float | None = None) -> tuple[int, str]:
    """torch CPU threads from the 1-minute load average, and why, in words (runs now sample the idle CPUs
    instead: :mod:`benchbed.engine.cpu`; this stays for callers that want no 0.3 s sample).

    The CPUs left idle: usable CPUs minus the 1-minute load average, rounded, at least 1, at most
    :data:`MAX_DEFAULT_THREADS`. torch's own default (one thread per core) oversubscribes a machine
    others already use: threads then spin waiting for each other and burn many times the CPU time of
    the work. ``OMP_NUM_THREADS`` set by the user wins."""
    if os.environ.get("OMP_NUM_THREADS", "").strip().isdigit() and int(os.environ["OMP_NUM_THREADS"]) > 0:
        n = int(os.environ["OMP_NUM_THREADS"])
        return n, f"{n} (OMP_NUM_THREADS)"
    cpus = usable_cpus() if cpus is None else cpus
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            load = 0.0
    n = max(1, min(MAX_DEFAULT_THREADS, cpus, math.floor(cpus - load + 0.5)))
    return n, f"{n} (default: {cpus} CPU(s), load {load:.1f}; set --threads N)"
