"""What a run tells its observers: :class:`RunInfo` once, then a stream of typed :class:`RunEvent` s.

Observers are plugins (``register_observers``); the progress display and the run log are the
built-in ones (:mod:`benchbed.builtin.observers`). The scheduler and ``benchbed.evaluate`` only emit
events; they neither draw nor write logs.

One frozen dataclass per event kind (:data:`EVENT_TYPES`), so an observer can dispatch on the type
(``isinstance(event, UnitDone)``) and read typed fields (``event.seconds``). Every event also keeps the
old shape observers were written against: ``event.kind`` (its name, e.g. ``"unit_done"``) and
``event.fields`` (its own fields as a dict), which is also what the run log writes, one JSON line per
event, so logs written before the events were typed read the same.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

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


_BASE = ("run_id", "track", "model", "unit", "message")


@dataclass(frozen=True, kw_only=True)
class RunEvent:
    """Base of every event: the run and track (filled in by :class:`Observers`), the model and unit it is
    about ("" for run-level events) and a human-readable message ("" when there is none)."""

    kind: ClassVar[str] = ""
    run_id: str = ""
    track: str = ""
    model: str = ""
    unit: str = ""  # unit id ("all", "shard-0001-of-0002", "model"); "" for run- or model-level events
    message: str = ""

    @property
    def fields(self) -> dict[str, Any]:
        """The event's own fields (what the run log writes besides model, unit and message)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _BASE}


@dataclass(frozen=True, kw_only=True)
class RunStart(RunEvent):
    kind: ClassVar[str] = "run_start"
    models: list[str]
    shards: int
    variant: str
    force: bool
    shard: str | None  # "I/N" when the run computes one shard only
    n_examples: int
    metrics: list[str]
    executor: str
    device: str | None
    planned: int
    argv: list[str]
    results: str


@dataclass(frozen=True, kw_only=True)
class ExecutorStarted(RunEvent):
    kind: ClassVar[str] = "executor_started"
    executor: str
    details: Mapping[str, Any] = field(default_factory=dict)  # what the executor says of itself

    @property
    def fields(self) -> dict[str, Any]:
        return {**self.details, "executor": self.executor}


@dataclass(frozen=True, kw_only=True)
class UnitSkipped(RunEvent):
    kind: ClassVar[str] = "unit_skipped"
    key: str
    reason: str  # "stored" | "finished by another run"


@dataclass(frozen=True, kw_only=True)
class UnitDeferred(RunEvent):
    kind: ClassVar[str] = "unit_deferred"
    reason: str


@dataclass(frozen=True, kw_only=True)
class UnitStart(RunEvent):
    kind: ClassVar[str] = "unit_start"
    attempt: int
    describe: str
    metrics: list[str]
    start: int
    stop: int
    key: str


@dataclass(frozen=True, kw_only=True)
class UnitProgress(RunEvent):
    kind: ClassVar[str] = "unit_progress"
    milestone: bool


@dataclass(frozen=True, kw_only=True)
class MetricDone(RunEvent):
    kind: ClassVar[str] = "metric_done"
    metric: str


@dataclass(frozen=True, kw_only=True)
class UnitDone(RunEvent):
    kind: ClassVar[str] = "unit_done"
    key: str
    attempt: int
    seconds: float
    device: str
    errors: dict[str, str]  # metric -> error, for the metrics that failed in this unit


@dataclass(frozen=True, kw_only=True)
class UnitRetry(RunEvent):
    kind: ClassVar[str] = "unit_retry"
    attempt: int
    detail: str


@dataclass(frozen=True, kw_only=True)
class UnitFailed(RunEvent):
    kind: ClassVar[str] = "unit_failed"
    attempt: int
    detail: str


@dataclass(frozen=True, kw_only=True)
class ModelCached(RunEvent):
    kind: ClassVar[str] = "model_cached"
    key: str


@dataclass(frozen=True, kw_only=True)
class ModelMerged(RunEvent):
    kind: ClassVar[str] = "model_merged"
    key: str
    units: list[str]
    status: str
    metric_errors: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class ModelFailed(RunEvent):
    kind: ClassVar[str] = "model_failed"


@dataclass(frozen=True, kw_only=True)
class Note(RunEvent):
    """A message for the user (e.g. waiting for another run's lock, retrying a model's load)."""

    kind: ClassVar[str] = "note"


@dataclass(frozen=True, kw_only=True)
class RunEnd(RunEvent):
    kind: ClassVar[str] = "run_end"
    seconds: float
    units: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    models: dict[str, str] = field(default_factory=dict)  # model -> "ok" | "failed" | "incomplete"


@dataclass(frozen=True, kw_only=True)
class RunInterrupted(RunEvent):
    kind: ClassVar[str] = "run_interrupted"
    seconds: float


EVENT_TYPES: dict[str, type[RunEvent]] = {t.kind: t for t in (
    RunStart, ExecutorStarted, UnitSkipped, UnitDeferred, UnitStart, UnitProgress, MetricDone, UnitDone, UnitRetry,
    UnitFailed, ModelCached, ModelMerged, ModelFailed, Note, RunEnd, RunInterrupted)}
EVENT_KINDS = tuple(EVENT_TYPES)


def event_from_log(line: Mapping[str, Any]) -> RunEvent:
    """The typed event of a run-log line (``{"event": kind, "run_id", "track", ...}``); extra keys a newer
    or older benchbed wrote are ignored, missing ones keep their defaults where the type has one."""
    kind = line.get("event")
    if kind not in EVENT_TYPES:
        raise ValueError(f"unknown run event kind {kind!r}")
    cls = EVENT_TYPES[kind]
    names = {f.name for f in fields(cls)}
    known = {k: v for k, v in line.items() if k in names}
    if cls is ExecutorStarted:
        known["details"] = {k: v for k, v in line.items() if k not in (*_BASE, "event", "time", "executor")}
    return cls(**known)


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

    def emit(self, event: RunEvent) -> None:
        """Hand ``event`` (stamped with this run's id and track) to every observer."""
        if not isinstance(event, RunEvent) or not event.kind:
            raise TypeError(f"observers receive RunEvent subclasses, got {type(event).__name__}")
        event = replace(event, run_id=self.run.run_id, track=self.run.track)
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
