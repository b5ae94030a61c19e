"""The results store: one JSON record (+ an ``.npz`` of per-point arrays) per (track, model).

Layout::

    <root>/<track>/<model-slug>.json          the record: numbers, provenance
    <root>/<track>/<model-slug>.npz           per-point arrays (robust flags, energies, ...)
    <root>/<track>/<model-slug>.failed.json   the last failure, if the newest attempt failed

Every file is written atomically (temporary file in the same folder, fsync, rename), so a killed
run never leaves a half-written record behind. Unreadable files are reported and ignored.
"""
from __future__ import annotations

import io
import json
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ENV_RESULTS = "BENCHBED_RESULTS"
DEFAULT_RESULTS = Path("leaderboards") / "results"
SCHEMA_VERSION = 1


def default_results_dir() -> Path:
    return Path(os.environ.get(ENV_RESULTS) or DEFAULT_RESULTS)


def slug(name: str) -> str:
    """A file-name-safe form of a model or track name ("rb/Foo" -> "rb__Foo")."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name.replace("/", "__"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, indent=2, sort_keys=True, allow_nan=True, default=_json_default) + "\n"


def _json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


class ResultsStore:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_results_dir()

    def record_path(self, track: str, model: str, suffix: str = ".json") -> Path:
        return self.root / slug(track) / f"{slug(model)}{suffix}"

    # -- writing ---------------------------------------------------------------------------------
    def write(self, record: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> Path:
        track, model = record["track"], record["model"]
        if arrays:
            buf = io.BytesIO()
            np.savez_compressed(buf, **arrays)
            atomic_write_bytes(self.record_path(track, model, ".npz"), buf.getvalue())
        path = self.record_path(track, model)
        atomic_write_bytes(path, dumps(record).encode())
        self.record_path(track, model, ".failed.json").unlink(missing_ok=True)
        return path

    def write_failure(self, record: dict[str, Any]) -> Path:
        path = self.record_path(record["track"], record["model"], ".failed.json")
        atomic_write_bytes(path, dumps(record).encode())
        return path

    # -- reading ---------------------------------------------------------------------------------
    def _read_json(self, path: Path) -> dict[str, Any] | None:
        try:
            record = json.loads(path.read_text())
            if not isinstance(record, dict) or "model" not in record or "track" not in record:
                raise ValueError("not a benchbed record")
            return record
        except (OSError, ValueError) as exc:
            warnings.warn(f"ignoring unreadable result file {path}: {exc}", stacklevel=2)
            return None

    def records(self, track: str | None = None) -> list[dict[str, Any]]:
        """Successful records, sorted by (track, model)."""
        if not self.root.is_dir():
            return []
        pattern = f"{slug(track)}/*.json" if track else "*/*.json"
        out = []
        for path in sorted(self.root.glob(pattern)):
            if path.name.endswith(".failed.json"):
                continue
            record = self._read_json(path)
            if record is not None:
                out.append(record)
        return sorted(out, key=lambda r: (r["track"], r["model"]))

    def failures(self, track: str | None = None) -> list[dict[str, Any]]:
        if not self.root.is_dir():
            return []
        pattern = f"{slug(track)}/*.failed.json" if track else "*/*.failed.json"
        return [r for p in sorted(self.root.glob(pattern)) if (r := self._read_json(p)) is not None]

    def record(self, track: str, model: str) -> dict[str, Any] | None:
        path = self.record_path(track, model)
        return self._read_json(path) if path.exists() else None

    def arrays(self, track: str, model: str) -> dict[str, np.ndarray]:
        path = self.record_path(track, model, ".npz")
        if not path.exists():
            return {}
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
