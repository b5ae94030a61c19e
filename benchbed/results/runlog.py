"""The machine-readable run log: one JSON object per line in ``<results>/runlog.jsonl``.

Every run appends a ``run_start`` line, one line per unit event (``unit_skipped``, ``unit_start``,
``metric_done``, ``unit_done``, ``unit_retry``, ``unit_failed``, ``unit_deferred``), one
``model_merged``, ``model_cached`` or ``model_failed`` line per model, and a ``run_end`` (or
``run_interrupted``) line with the totals. It is written by an observer of the run
(:mod:`benchbed.builtin.observers`); progress lines are left out. Each line carries the run's
id, so lines of runs that shared the folder at the same time can be told apart. Lines are appended
with a single ``write`` on a file opened with ``O_APPEND``, so concurrent runs do not interleave
within a line.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import socket
import uuid
from pathlib import Path
from typing import Any

from benchbed.contracts.events import EVENT_TYPES, RunEvent, event_from_log

RUNLOG_NAME = "runlog.jsonl"


def read_runlog(path: str | os.PathLike) -> list[RunEvent]:
    """The typed events of a run log (lines of unknown kinds, from another benchbed, are skipped)."""
    lines = [json.loads(text) for text in Path(path).read_text().splitlines() if text.strip()]
    return [event_from_log(line) for line in lines if line.get("event") in EVENT_TYPES]


def new_run_id() -> str:
    return f"{dt.datetime.now(dt.timezone.utc).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"


class RunLog:
    """Appends a run's events to ``<results>/runlog.jsonl`` (an observer: call it with each event)."""

    def __init__(self, root: str | os.PathLike, run_id: str):
        self.path = Path(root) / RUNLOG_NAME
        self.run_id = run_id

    def write(self, event: str, **fields: Any) -> None:
        line = {"time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
                "run_id": self.run_id, "event": event, **fields}
        data = (json.dumps(line, sort_keys=True, default=str) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def __call__(self, event: RunEvent) -> None:
        """Write a typed event (:mod:`benchbed.contracts.events`) as its kind plus its fields."""
        if event.kind == "unit_progress":
            return  # the display's business, not the log's
        fields = dict(event.fields)
        if event.kind == "run_start":
            fields.update(host=socket.gethostname(), pid=os.getpid())
        for key, value in (("model", event.model), ("unit", event.unit), ("message", event.message)):
            if value:
                fields[key] = value
        self.write(event.kind, track=event.track, **fields)
