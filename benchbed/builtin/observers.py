"""Built-in run observers: the progress display and the run log (``<results>/runlog.jsonl``).

The progress display draws tqdm bars when stderr is a terminal (one bar for the run's units, one per
unit in flight whose text follows the unit's progress: attack component and batch, sampler steps,
feature extraction) and prints plain, timestamped lines otherwise -- no cursor codes in a piped log.
``BENCHBED_PROGRESS=plain|bars|off`` overrides the choice.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any

from benchbed.contracts.events import (
    MetricDone,
    ModelFailed,
    Note,
    RunEnd,
    RunEvent,
    RunInterrupted,
    UnitDone,
    UnitFailed,
    UnitProgress,
    UnitRetry,
    UnitStart,
)
from benchbed.contracts.hookspecs import hookimpl
from benchbed.contracts.specs import ObserverSpec
from benchbed.results.runlog import RunLog

ENV_PROGRESS = "BENCHBED_PROGRESS"
PLAIN_EVERY_S = 5.0  # plain mode: at most one progress line per unit this often (state changes always)


def progress_mode(stream=None) -> str:
    """"bars" on a terminal, "plain" otherwise; ``BENCHBED_PROGRESS`` wins."""
    chosen = os.environ.get(ENV_PROGRESS, "").strip().lower()
    if chosen in ("plain", "bars", "off"):
        return chosen
    stream = stream or sys.stderr
    return "bars" if getattr(stream, "isatty", lambda: False)() else "plain"


class PlainProgress:
    """One timestamped line per event that matters, on stderr."""

    def __init__(self, run, stream=None):
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self._last: dict[str, float] = {}
        self._unit_errors: dict[str, str] = {}  # model -> its last unit's error (a model failing with it says it once)
        self._inflight: set[str] = set()  # units started and not yet done or failed (side by side: several)
        self._planned, self._finished = run.planned, 0
        self._line(f"run {run.run_id}: track {run.track}, {len(run.models)} model(s), {run.planned} unit(s) to "
                   f"compute" + "".join(f", {k} {v}" for k, v in run.header.items()))

    def _line(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        self.stream.write(f"[{int(elapsed // 60):3d}:{int(elapsed % 60):02d}] {text}\n")
        self.stream.flush()

    def __call__(self, event: RunEvent) -> None:
        who = event.model + (f" [{event.unit}]" if event.unit and event.unit != "all" else "")
        if isinstance(event, UnitProgress):
            now = time.monotonic()
            key = f"{event.model}/{event.unit}"
            if not event.milestone and now - self._last.get(key, 0.0) < PLAIN_EVERY_S:
                return
            self._last[key] = now
            self._line(f"{who}: {event.message}")
        elif isinstance(event, UnitStart):
            self._inflight.add(f"{event.model}/{event.unit}")
            self._line(f"{who}: started" + (f" (attempt {event.attempt})" if event.attempt > 1 else "")
                       + (f" ({len(self._inflight)} units in flight)" if len(self._inflight) > 1 else ""))
        elif isinstance(event, MetricDone):
            self._line(f"{who}: {event.metric} done")
        elif isinstance(event, ModelFailed) and self._unit_errors.get(event.model) == event.message:
            return  # the unit's FAILED line just said it
        elif isinstance(event, (UnitDone, UnitFailed, UnitRetry, ModelFailed, Note, RunInterrupted)):
            if isinstance(event, UnitFailed):
                self._unit_errors[event.model] = event.message
            if isinstance(event, (UnitDone, UnitFailed)):
                self._inflight.discard(f"{event.model}/{event.unit}")
                self._finished += 1
            text = (f"done in {event.seconds:.1f}s ({self._finished} of {self._planned} units)"
                    if isinstance(event, UnitDone) else _PREFIX[event.kind])
            self._line(f"{who + ': ' if who else ''}{text}{event.message}")
        elif isinstance(event, RunEnd):
            self._line(f"run finished in {event.seconds:.1f}s")


_PREFIX = {"unit_failed": "FAILED: ", "unit_retry": "failed, retrying: ", "model_failed": "FAILED: ", "note": "",
           "run_interrupted": "run interrupted: "}


class BarProgress:
    """tqdm bars: the run's units, and one bar per unit in flight (its metrics; text = its progress)."""

    def __init__(self, run):
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        self.overall = tqdm(total=run.planned, desc=run.track, unit="unit", position=0, dynamic_ncols=True)
        self.bars: dict[str, Any] = {}
        self._positions: dict[str, int] = {}

    def _bar(self, key: str, desc: str, total: int):
        bar = self.bars.get(key)
        if bar is None:
            used = set(self._positions.values())
            position = next(p for p in range(1, len(used) + 2) if p not in used)
            self._positions[key] = position
            bar = self.bars[key] = self._tqdm(total=total, desc=desc, unit="metric", leave=False,
                                              position=position, dynamic_ncols=True)
        return bar

    def __call__(self, event: RunEvent) -> None:
        key = f"{event.model}/{event.unit}"
        if isinstance(event, UnitStart):
            bar = self._bar(key, event.describe or event.model, len(event.metrics))
            if event.attempt > 1:
                bar.reset()
                bar.set_postfix_str(f"attempt {event.attempt}")
        elif isinstance(event, UnitProgress) and key in self.bars:
            self.bars[key].set_postfix_str(event.message[:70])
        elif isinstance(event, MetricDone) and key in self.bars:
            self.bars[key].update(1)
        elif isinstance(event, (UnitDone, UnitFailed)):
            bar = self.bars.pop(key, None)
            self._positions.pop(key, None)
            if bar is not None:
                bar.close()
            self.overall.update(1)
        elif isinstance(event, (Note, UnitRetry, ModelFailed)):
            self._tqdm.write(f"benchbed: {event.model + ': ' if event.model else ''}{event.message}", file=sys.stderr)
        elif isinstance(event, (RunEnd, RunInterrupted)):
            for bar in self.bars.values():
                bar.close()
            self.overall.close()


def start_progress(run):
    mode = progress_mode()
    if not run.show_progress or mode == "off":
        return None
    return BarProgress(run) if mode == "bars" else PlainProgress(run)


def start_runlog(run):
    return RunLog(run.results_dir, run.run_id) if run.run_log else None


@hookimpl
def register_observers(register):
    register(ObserverSpec(name="progress", start=start_progress,
                          description="progress bars on a terminal, plain timestamped lines otherwise"))
    register(ObserverSpec(name="runlog", start=start_runlog,
                          description="appends every run event to <results>/runlog.jsonl"))
