"""The machine-readable run log: one JSON object per line in ``<results>/runlog.jsonl``.

Every run appends a ``run_start`` line, one line per unit event (``unit_skipped``, ``unit_start``,
``unit_done``, ``unit_retry``, ``unit_failed``, ``unit_deferred``), one ``model_merged`` or
``model_cached`` line per model, and a ``run_end`` line with the totals. Each line carries the run's
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

RUNLOG_NAME = "runlog.jsonl"


def new_run_id() -> str:
    return f"{dt.datetime.now(dt.timezone.utc).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"


class RunLog:
    def __init__(self, root: str | os.PathLike | None, run_id: str | None = None, enabled: bool = True):
        self.path = Path(root) / RUNLOG_NAME if root is not None else None
        self.run_id = run_id or new_run_id()
        self.enabled = enabled and self.path is not None

    def event(self, event: str, **fields: Any) -> None:
        if not self.enabled:
            return
        line = {"time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
                "run_id": self.run_id, "event": event, **fields}
        data = (json.dumps(line, sort_keys=True, default=str) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def start(self, **fields: Any) -> None:
        self.event("run_start", host=socket.gethostname(), pid=os.getpid(), **fields)


def read_runlog(root: str | os.PathLike, run_id: str | None = None) -> list[dict[str, Any]]:
    """The log's events (optionally of one run); lines that do not parse are skipped."""
    path = Path(root) / RUNLOG_NAME
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and (run_id is None or item.get("run_id") == run_id):
            out.append(item)
    return out
