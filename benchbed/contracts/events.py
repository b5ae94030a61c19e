"""What a run tells its observers: :class:`RunInfo` once, then a stream of :class:`RunEvent`.

Observers are plugins (``register_observers``); the progress display and the run log are the
built-in ones (:mod:`benchbed.builtin.observers`). The scheduler only emits events; it neither
draws nor writes logs.

Event kinds: ``run_start``, ``executor_started``, ``unit_skipped``, ``unit_deferred``, ``unit_start``,
``unit_progress``, ``metric_done``, ``unit_done``, ``unit_retry``, ``unit_failed``, ``model_cached``, ``model_merged``,
``model_failed``, ``note`` (a message for the user), ``run_end``, ``run_interrupted``.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

EVENT_KINDS = ("run_start", "executor_started", "unit_skipped", "unit_deferred", "unit_start", "unit_progress",
               "metric_done", "unit_done", "unit_retry", "unit_failed", "model_cached", "model_merged", "model_failed",
               "note", "run_end", "run_interrupted")


# Progress lines that mark a change of phase (the plain display prints them however recent the last line):
# an attack component starting or ending, and any count that reached its total ("step 50/50").
MILESTONES = ("running ", "robust accuracy after", "successfully perturbed")
_COMPLETE = re.compile(r"\b(\d+)/\1\b")


def progress_milestone(message: str) -> bool:
    return any(mark in message for mark in MILESTONES) or bool(_COMPLETE.search(message))


@dataclass(frozen=True)
class RunInfo:
    """A run, as its observers learn about it when it starts."""

    run_id: str
    track: str
    models: tuple[str, ...]
    results_dir: str
    planned: int  # units to compute (not counting skipped ones)
    show_progress: bool = True
    run_log: bool = True
    header: Mapping[str, Any] = field(default_factory=dict)  # device, threads, executor, shards, ...


@dataclass(frozen=True)
class RunEvent:
    kind: str
    run_id: str
    track: str
    model: str = ""
    unit: str = ""  # unit id; "" for run- or model-level events
    message: str = ""  # human-readable: progress line, error, note
    fields: Mapping[str, Any] = field(default_factory=dict)  # machine-readable details (the run log keeps them)

    def __post_init__(self):
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown run event kind {self.kind!r}")


class Observers:
    """The observers of one run; one that raises is reported once and dropped, the run goes on."""

    def __init__(self, run: RunInfo, specs: Sequence[Any], extra: Sequence[Callable[[RunEvent], None]] = ()):
        self.run = run
        self._callbacks: list[tuple[str, Callable[[RunEvent], None]]] = []
        for spec in specs:
            try:
                callback = spec.start(run)
            except Exception as exc:  # noqa: BLE001 -- an observer must never stop a run
                self._report(spec.name, exc)
                continue
            if callback is not None:
                self._callbacks.append((spec.name, callback))
        self._callbacks.extend((f"observer-{i}", cb) for i, cb in enumerate(extra))

    def emit(self, kind: str, *, model: str = "", unit: str = "", message: str = "", **fields: Any) -> None:
        event = RunEvent(kind, self.run.run_id, self.run.track, model, unit, message, fields)
        for name, callback in list(self._callbacks):
            try:
                callback(event)
            except Exception as exc:  # noqa: BLE001
                self._callbacks.remove((name, callback))
                self._report(name, exc)

    @staticmethod
    def _report(name: str, exc: BaseException) -> None:
        sys.stderr.write(f"benchbed: warning: observer {name!r} failed and is switched off for this run: "
                         f"{type(exc).__name__}: {exc}\n")
