"""Batch sizes that fit the device: on torch's out-of-memory error the batch halves and the work restarts.

A unit runs every forward pass, attack, energy PGD and sampler at its track's ``batch_size``. When
torch runs out of memory (``torch.OutOfMemoryError``, which ``torch.cuda.OutOfMemoryError`` is), the
whole unit restarts at half the size (the generation batch size scaled alike), until it fits or a
batch of one does not. Restarting the whole unit, not the failed batch, keeps the numbers exactly
those of a run at the smaller size: AutoAttack and the samplers draw their randomness per batch, so
a unit mixing sizes would match no run anyone could repeat. The size that ran is recorded
(``track_info["batch_size_used"]``), so a rerun can ask for it.
"""
from __future__ import annotations

import dataclasses
import gc
from collections.abc import Callable
from typing import TypeVar

from benchbed.contracts.errors import BenchbedError
from benchbed.contracts.specs import TrackSpec

T = TypeVar("T")


def oom_error_types() -> tuple[type[BaseException], ...]:
    """torch's out-of-memory exception types available in this torch (one class in recent versions)."""
    import torch

    found: list[type[BaseException]] = []
    for candidate in (getattr(torch, "OutOfMemoryError", None), getattr(torch.cuda, "OutOfMemoryError", None)):
        if isinstance(candidate, type) and candidate not in found:
            found.append(candidate)
    return tuple(found)


def is_out_of_memory(exc: BaseException | None) -> bool:
    """Whether ``exc``, or an exception it was raised from, is torch's out-of-memory error."""
    types = oom_error_types()
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if types and isinstance(exc, types):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def free_device_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def with_batch_size(track: TrackSpec, size: int) -> TrackSpec:
    """``track`` run at batch size ``size``; its generation batch size scaled by the same factor."""
    if size == track.batch_size:
        return track
    generation = track.generation
    if generation is not None:
        scaled = max(1, generation.batch_size * size // track.batch_size)
        generation = dataclasses.replace(generation, batch_size=scaled)
    return track.replace(batch_size=size, generation=generation)


def run_halving(run: Callable[[int], T], batch_size: int,
                on_halve: Callable[[int, int], None] = lambda old, new: None) -> tuple[T, int]:
    """``run(size)`` from ``batch_size`` down, halving on out-of-memory; (its result, the size that ran)."""
    size = max(1, int(batch_size))
    while True:
        try:
            return run(size), size
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            if size == 1:
                raise BenchbedError("out of memory at batch size 1: the model does not fit this device; use a "
                                    "device with more memory (--device)") from exc
            free_device_memory()
            new = size // 2
            on_halve(size, new)
            size = new


def batch_size_info(track: TrackSpec, used: TrackSpec) -> dict[str, int]:
    """What a unit records when it ran at other batch sizes than its track's (empty when it did not)."""
    if used.batch_size == track.batch_size:
        return {}
    out = {"batch_size_used": used.batch_size}
    if used.generation is not None:
        out["generation_batch_size_used"] = used.generation.batch_size
    return out
