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

    def __call__(self, event) -> None:
        who = event.model + (f" [{event.unit}]" if event.unit and event.unit != "all" else "")
        kind = event.kind
        if kind == "unit_progress":
            now = time.monotonic()
            key = f"{event.model}/{event.unit}"
            if not event.fields.get("milestone") and now - self._last.get(key, 0.0) < PLAIN_EVERY_S:
                return
            self._last[key] = now
            self._line(f"{who}: {event.message}")
        elif kind == "unit_start":
            self._inflight.add(f"{event.model}/{event.unit}")
            self._line(f"{who}: started" + (f" (attempt {event.fields.get('attempt')})"
                                            if event.fields.get("attempt", 1) > 1 else "")
                       + (f" ({len(self._inflight)} units in flight)" if len(self._inflight) > 1 else ""))
        elif kind == "metric_done":
            self._line(f"{who}: {event.fields.get('metric')} done")
        elif kind == "model_failed" and self._unit_errors.get(event.model) == event.message:
            return  # the unit's FAILED line just said it
        elif kind in ("unit_done", "unit_failed", "unit_retry", "model_failed", "note", "run_interrupted"):
            if kind == "unit_failed":
                self._unit_errors[event.model] = event.message
            if kind in ("unit_done", "unit_failed"):
                self._inflight.discard(f"{event.model}/{event.unit}")
                self._finished += 1
            text = {"unit_done": f"done in {event.fields.get('seconds', 0):.1f}s ({self._finished} of "
                                 f"{self._planned} units)", "unit_failed": "FAILED: ",
                    "unit_retry": "failed, retrying: ", "model_failed": "FAILED: ", "note": "",
                    "run_interrupted": "run interrupted: "}[kind]
            self._line(f"{who + ': ' if who else ''}{text}{event.message}")
        elif kind == "run_end":
            self._line(f"run finished in {event.fields.get('seconds', 0):.1f}s")


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

    def __call__(self, event) -> None:
        key = f"{event.model}/{event.unit}"
        kind = event.kind
        if kind == "unit_start":
            bar = self._bar(key, event.fields.get("describe", event.model), len(event.fields.get("metrics", ())))
            if event.fields.get("attempt", 1) > 1:
                bar.reset()
                bar.set_postfix_str(f"attempt {event.fields['attempt']}")
        elif kind == "unit_progress" and key in self.bars:
            self.bars[key].set_postfix_str(event.message[:70])
        elif kind == "metric_done" and key in self.bars:
            self.bars[key].update(1)
        elif kind in ("unit_done", "unit_failed"):
            bar = self.bars.pop(key, None)
            self._positions.pop(key, None)
            if bar is not None:
                bar.close()
            self.overall.update(1)
        elif kind in ("note", "unit_retry", "model_failed"):
            self._tqdm.write(f"benchbed: {event.model + ': ' if event.model else ''}{event.message}", file=sys.stderr)
        elif kind in ("run_end", "run_interrupted"):
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
