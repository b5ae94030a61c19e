"""The results store: one JSON record (+ an ``.npz`` of per-point arrays) per (track, model).

Layout::

    <root>/<track>/<model-slug>.json          the record: numbers, provenance
    <root>/<track>/<model-slug>.npz           per-point arrays (robust flags, energies, ...)
    <root>/<track>/<model-slug>.failed.json   the last failure, if the newest attempt failed
    <root>/<track>/units/<model-slug>/<unit>.json|.npz   one finished unit (model, track, shard)
    <root>/<track>/units/<model-slug>/<unit>.lock        held while a run computes that unit
    <root>/runlog.jsonl                       the machine-readable run log (benchbed.runlog)

Every file is written atomically (temporary file in the same folder, fsync, rename), so a killed
run never leaves a half-written record behind; the ``.npz`` is written before the JSON that names
its sha256, so the JSON is the commit marker of a unit. Unreadable or corrupt files (JSON that does
not parse, a checksum that does not match) are reported with a :class:`ResultFileWarning` and
treated as missing: the runner recomputes them, they are never silently read.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ENV_RESULTS = "BENCHBED_RESULTS"
DEFAULT_RESULTS = Path("leaderboards") / "results"
SCHEMA_VERSION = 1


class ResultFileWarning(UserWarning):
    """A result file is unreadable or fails its checksum; it is ignored (and recomputed by a run)."""


def default_results_dir() -> Path:
    return Path(os.environ.get(ENV_RESULTS) or DEFAULT_RESULTS)


def slug(name: str) -> str:
    """A file-name-safe form of a model or track name ("rb/Foo" -> "rb__Foo")."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name.replace("/", "__"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A unique temporary name created exclusively ("xb"): unlike mkstemp (always 0600), open() gives
    # the file the user's umask, so published records and pages are readable like any other file.
    tmp = path.parent / f".{path.name}.{os.getpid()}-{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def load_npz_bytes(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def record_checksum(record: dict[str, Any]) -> str:
    """sha256 of a record's canonical JSON, without its own ``record_sha256`` field."""
    body = {k: v for k, v in record.items() if k != "record_sha256"}
    return sha256_bytes(json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True,
                                   default=_json_default).encode())


def sweep_temporaries(folder: Path, stem: str) -> None:
    """Delete temporary files a killed writer left for ``stem`` (call while holding its lock)."""
    if folder.is_dir():
        for tmp in folder.glob(f".{stem}.*.tmp"):
            tmp.unlink(missing_ok=True)


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
            data = npz_bytes(arrays)
            record = {**record, "arrays_sha256": sha256_bytes(data)}
            atomic_write_bytes(self.record_path(track, model, ".npz"), data)
        else:
            self.record_path(track, model, ".npz").unlink(missing_ok=True)
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
            warnings.warn(f"ignoring unreadable result file {path}: {exc}", ResultFileWarning, stacklevel=2)
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
        """The per-point arrays of the merged record; ``{}`` (with a warning) when corrupt."""
        path = self.record_path(track, model, ".npz")
        if not path.exists():
            return {}
        record = self.record(track, model) or {}
        try:
            data = path.read_bytes()
            expected = record.get("arrays_sha256")
            if expected and sha256_bytes(data) != expected:
                raise ValueError(f"sha256 does not match the one in {path.with_suffix('.json').name}")
            return load_npz_bytes(data)
        except Exception as exc:  # truncated zip, bad checksum, unreadable file
            warnings.warn(f"ignoring corrupt result file {path}: {exc}", ResultFileWarning, stacklevel=2)
            return {}

    def valid_record(self, track: str, model: str) -> dict[str, Any] | None:
        """The merged record if it and its arrays are intact (checksum verified), else None."""
        path = self.record_path(track, model)
        if not path.exists():
            return None
        record = self.record(track, model)
        if record is None:
            return None
        expected = record.get("arrays_sha256")
        npz = self.record_path(track, model, ".npz")
        if expected:
            try:
                ok = sha256_bytes(npz.read_bytes()) == expected
            except OSError:
                ok = False
            if not ok:
                warnings.warn(f"ignoring corrupt result file {npz}: missing, or its sha256 does not match "
                              f"{path.name}", ResultFileWarning, stacklevel=2)
                return None
        return record

    # -- units: one (model, track, shard) each ---------------------------------------------------
    def unit_dir(self, track: str, model: str) -> Path:
        return self.root / slug(track) / "units" / slug(model)

    def unit_path(self, track: str, model: str, unit: str, suffix: str = ".json") -> Path:
        return self.unit_dir(track, model) / f"{unit}{suffix}"

    def lock_path(self, track: str, model: str, unit: str) -> Path:
        return self.unit_path(track, model, unit, ".lock")

    def write_unit(self, record: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
        """Write one finished unit: its arrays first, then the JSON naming their sha256."""
        track, model, unit = record["track"], record["model"], record["unit"]["id"]
        folder = self.unit_dir(track, model)
        sweep_temporaries(folder, f"{unit}.json")
        sweep_temporaries(folder, f"{unit}.npz")
        data = npz_bytes(arrays)
        record = {**record, "arrays_sha256": sha256_bytes(data)}
        record["record_sha256"] = record_checksum(record)
        atomic_write_bytes(self.unit_path(track, model, unit, ".npz"), data)
        path = self.unit_path(track, model, unit)
        atomic_write_bytes(path, dumps(record).encode())
        return path

    def read_unit(self, track: str, model: str, unit: str, *, with_arrays: bool = True,
                  ) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
        """A finished unit, verified; None if absent; None with a ResultFileWarning if corrupt."""
        path = self.unit_path(track, model, unit)
        if not path.exists():
            return None
        npz = self.unit_path(track, model, unit, ".npz")
        try:
            record = json.loads(path.read_text())
            if not isinstance(record, dict) or record.get("record_sha256") != record_checksum(record):
                raise ValueError("its record_sha256 does not match its content")
            data = npz.read_bytes()
            if sha256_bytes(data) != record.get("arrays_sha256"):
                raise ValueError(f"{npz.name} does not match the sha256 recorded in {path.name}")
            arrays = load_npz_bytes(data) if with_arrays else {}
        except Exception as exc:
            warnings.warn(f"corrupt unit result {path} ({exc}): it will be recomputed", ResultFileWarning,
                          stacklevel=2)
            return None
        return record, arrays

    def unit_ids(self, track: str, model: str) -> list[str]:
        folder = self.unit_dir(track, model)
        return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
