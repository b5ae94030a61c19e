"""The results store: one record (JSON + an ``.npz`` of per-point arrays) per (track, model, variant).

Layout (``<t>`` / ``<m>``: :func:`file_stem` of the track / model name)::

    <root>/<t>/<m>.json                 the record of the track's own protocol
    <root>/<t>/<m>@<variant>.json       a record of another protocol (quick: fewer points; partial: some
                                        metrics), kept beside the full one, never replacing it
    <root>/<t>/<m>[@<variant>].npz      its per-point arrays (robust flags, energies, ...)
    <root>/<t>/<m>[@<variant>].failed.json   the last failure, while the newest attempt failed
    <root>/<t>/units/<m>/<variant|full>/<unit>.json|.npz|.lock   one finished unit (model, track, shard)
    <root>/<t>/studies/<m>/<kind>.json|.npz   a study of the model on the track (benchbed.results.record.StudyResult)
    <root>/runlog.jsonl                 the machine-readable run log (benchbed.results.runlog)

File names are a readable slug plus a hash of the exact name, so two names never share a file
(``x/y`` and ``x__y``, ``probe/ä`` and ``probe/ö``, names that differ only in case). Every file is
written atomically (temporary file in the same folder, fsync, rename), arrays before the JSON that
names their sha256. Every file read goes through the one validating reader of :mod:`benchbed.results.record`
(schema, types, checksum, and that it lies where its names say): a file that fails is skipped with
a :class:`ResultFileWarning` naming it and why -- never ranked, never reused, and recomputed by the
next ``benchbed run``.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import uuid
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchbed.contracts.errors import BenchbedError, ConfigError, RecordError
from benchbed.results.canonical import dumps
from benchbed.results.record import FULL, Failure, Record, StudyResult, UnitResult

ENV_RESULTS = "BENCHBED_RESULTS"
# Runs write into an ignored scratch folder by default, so running the README leaves a checkout clean;
# the committed, published records live in PUBLISHED_RESULTS (written only with --out, by whoever publishes).
DEFAULT_RESULTS = Path("leaderboards") / "local" / "results"
PUBLISHED_RESULTS = Path("leaderboards") / "results"
NAME_HASH_CHARS = 12


class ResultFileWarning(UserWarning):
    """A result file is unreadable, damaged, edited or foreign; it is ignored (and recomputed by a run)."""


def default_results_dir() -> Path:
    return Path(os.environ.get(ENV_RESULTS) or DEFAULT_RESULTS)


def file_stem(name: str) -> str:
    """The file-name form of a plugin name: a readable slug and a hash of the exact name.

    ``"rb/cifar10-linf/Standard"`` -> ``"rb__cifar10-linf__Standard.<12 hex>"``. The hash makes the
    mapping injective (the slug alone is lossy); the store also refuses to write over a file that
    holds a record of another name.
    """
    readable = re.sub(r"[^A-Za-z0-9._-]", "_", name.replace("/", "__")).strip(".") or "_"
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:NAME_HASH_CHARS]
    return f"{readable[:80]}.{digest}"


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


def sweep_temporaries(folder: Path, stem: str) -> None:
    """Delete temporary files a killed writer left for ``stem`` (call while holding its lock)."""
    if folder.is_dir():
        for tmp in folder.glob(f".{stem}.*.tmp"):
            tmp.unlink(missing_ok=True)


def _warn(path: Path, why: str) -> None:
    warnings.warn(f"ignoring result file {path}: {why}", ResultFileWarning, stacklevel=3)


class ResultsStore:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_results_dir()
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"results folder {self.root} is a file, not a folder: pass --out DIR with a folder "
                              f"(it is created if missing)")

    # -- paths -----------------------------------------------------------------------------------
    def track_dir(self, track: str) -> Path:
        return self.root / file_stem(track)

    def record_path(self, track: str, model: str, variant: str = FULL, suffix: str = ".json") -> Path:
        tail = f"@{variant}" if variant else ""
        return self.track_dir(track) / f"{file_stem(model)}{tail}{suffix}"

    def unit_dir(self, track: str, model: str, variant: str = FULL) -> Path:
        return self.track_dir(track) / "units" / file_stem(model) / (variant or "full")

    def unit_path(self, track: str, model: str, variant: str, unit: str, suffix: str = ".json") -> Path:
        return self.unit_dir(track, model, variant) / f"{unit}{suffix}"

    def lock_path(self, track: str, model: str, variant: str, unit: str) -> Path:
        return self.unit_path(track, model, variant, unit, ".lock")

    # -- records -----------------------------------------------------------------------------------
    def write(self, record: Record, arrays: dict[str, np.ndarray] | None = None) -> Record:
        """Store a record (and its arrays); returns it as stored (with the arrays' checksum)."""
        path = self.record_path(record.track, record.model, record.variant)
        self._refuse_collision(path, record)
        npz = path.with_suffix(".npz")
        if arrays:
            data = npz_bytes(arrays)
            record = replace(record, arrays_sha256=sha256_bytes(data))
            atomic_write_bytes(npz, data)
        else:
            record = replace(record, arrays_sha256="")
            npz.unlink(missing_ok=True)
        atomic_write_bytes(path, dumps(record.to_dict()).encode())
        self.failure_path(record.track, record.model, record.variant).unlink(missing_ok=True)
        return record

    def _refuse_collision(self, path: Path, record: Record) -> None:
        if not path.exists():
            return
        try:
            held = json.loads(path.read_text())
        except (OSError, ValueError):
            return  # damaged: replacing it is right
        if isinstance(held, dict) and isinstance(held.get("model"), str) and (
                held["model"], held.get("track")) != (record.model, record.track):
            raise BenchbedError(f"{path} holds the record of {held.get('model')!r} on {held.get('track')!r}, not "
                                f"{record.model!r}: two names map to one file; rename one of the models")

    def failure_path(self, track: str, model: str, variant: str = FULL) -> Path:
        return self.record_path(track, model, variant, ".failed.json")

    def write_failure(self, failure: Failure) -> Path:
        path = self.failure_path(failure.track, failure.model, failure.variant)
        atomic_write_bytes(path, dumps(failure.to_dict()).encode())
        return path

    def _read(self, path: Path) -> Record | None:
        """The record in ``path`` if it is valid and lies where its names say, else None (warned)."""
        try:
            record = Record.from_dict(json.loads(path.read_text()), f"record {path.name}")
        except (OSError, ValueError, RecordError) as exc:
            _warn(path, str(exc))
            return None
        if self.record_path(record.track, record.model, record.variant) != path:
            _warn(path, f"it holds {record.model!r} on {record.track!r}, which belongs in "
                        f"{self.record_path(record.track, record.model, record.variant).relative_to(self.root)}")
            return None
        npz = path.with_suffix(".npz")
        if record.arrays_sha256:
            try:
                ok = sha256_bytes(npz.read_bytes()) == record.arrays_sha256
            except OSError:
                ok = False
            if not ok:
                _warn(path, f"its arrays {npz.name} are missing or do not match the sha256 it records")
                return None
        return record

    def _track_folders(self, track: str | None) -> list[Path]:
        """The folder of ``track``, or of every track in the store."""
        if track:
            return [self.track_dir(track)]
        return sorted(p for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []

    def _record_files(self, track: str | None) -> list[Path]:
        if not self.root.is_dir():
            return []
        folders = self._track_folders(track)
        return [p for folder in folders if folder.is_dir() for p in sorted(folder.glob("*.json"))
                if not p.name.endswith(".failed.json")]

    def records(self, track: str | None = None) -> list[Record]:
        """Every valid record (all variants), sorted by (track, model, variant); invalid files are warned
        about and skipped."""
        out = [r for p in self._record_files(track) if (r := self._read(p)) is not None]
        return sorted(out, key=lambda r: (r.track, r.model, r.variant))

    def record(self, track: str, model: str, variant: str = FULL) -> Record | None:
        path = self.record_path(track, model, variant)
        return self._read(path) if path.exists() else None

    def arrays(self, record: Record) -> dict[str, np.ndarray]:
        """A record's per-point arrays, checked against its checksum; ``{}`` (warned) when damaged."""
        if not record.arrays_sha256:
            return {}
        path = self.record_path(record.track, record.model, record.variant, ".npz")
        try:
            data = path.read_bytes()
            if sha256_bytes(data) != record.arrays_sha256:
                raise ValueError("its sha256 does not match the record's")
            return load_npz_bytes(data)
        except Exception as exc:  # truncated zip, bad checksum, unreadable file
            _warn(path, str(exc))
            return {}

    def failures(self, track: str | None = None) -> list[Failure]:
        out = []
        if not self.root.is_dir():
            return out
        folders = self._track_folders(track)
        for folder in folders:
            for path in sorted(folder.glob("*.failed.json")) if folder.is_dir() else ():
                try:
                    out.append(Failure.from_dict(json.loads(path.read_text()), f"failure record {path.name}"))
                except (OSError, ValueError, RecordError) as exc:
                    _warn(path, str(exc))
        return out

    # -- units: one (model, track, shard) each -------------------------------------------------------
    def write_unit(self, result: UnitResult, arrays: dict[str, np.ndarray]) -> UnitResult:
        """Write one finished unit: its arrays first, then the JSON naming their sha256."""
        folder = self.unit_dir(result.track, result.model, result.variant)
        uid = result.unit.id
        sweep_temporaries(folder, f"{uid}.json")
        sweep_temporaries(folder, f"{uid}.npz")
        data = npz_bytes(arrays)
        result = replace(result, arrays_sha256=sha256_bytes(data))
        atomic_write_bytes(folder / f"{uid}.npz", data)
        atomic_write_bytes(folder / f"{uid}.json", dumps(result.to_dict()).encode())
        return result

    def read_unit(self, track: str, model: str, variant: str, unit: str, *, with_arrays: bool = True,
                  ) -> tuple[UnitResult, dict[str, np.ndarray]] | None:
        """A finished unit, verified; None if absent; None with a ResultFileWarning if damaged."""
        path = self.unit_path(track, model, variant, unit)
        if not path.exists():
            return None
        try:
            result = UnitResult.from_dict(json.loads(path.read_text()), f"unit {path.name}")
            if (result.model, result.track, result.variant, result.unit.id) != (model, track, variant, unit):
                raise RecordError(f"it holds unit {result.unit.id!r} of {result.model!r} on {result.track!r}")
            data = path.with_suffix(".npz").read_bytes()
            if sha256_bytes(data) != result.arrays_sha256:
                raise RecordError("its arrays do not match the sha256 it records")
            arrays = load_npz_bytes(data) if with_arrays else {}
        except Exception as exc:
            warnings.warn(f"corrupt unit result {path} ({exc}): it will be recomputed", ResultFileWarning,
                          stacklevel=2)
            return None
        return result, arrays

    # -- studies: one (model, track, kind) each ---------------------------------------------------
    def study_path(self, track: str, model: str, kind: str, suffix: str = ".json") -> Path:
        return self.track_dir(track) / "studies" / file_stem(model) / f"{file_stem(kind)}{suffix}"

    def write_study(self, study: StudyResult, arrays: dict[str, np.ndarray] | None = None) -> StudyResult:
        """Store a study (arrays first, then the JSON naming their sha256); returns it as stored."""
        path = self.study_path(study.track, study.model, study.kind)
        data = npz_bytes(arrays or {})
        study = replace(study, arrays_sha256=sha256_bytes(data), arrays=tuple(sorted(arrays or {})))
        atomic_write_bytes(path.with_suffix(".npz"), data)
        atomic_write_bytes(path, dumps(study.to_dict()).encode())
        return study

    def _read_study(self, path: Path) -> StudyResult | None:
        try:
            study = StudyResult.from_dict(json.loads(path.read_text()), f"study {path.name}")
            if self.study_path(study.track, study.model, study.kind) != path:
                raise RecordError(f"it holds the {study.kind!r} study of {study.model!r} on {study.track!r}")
            if sha256_bytes(path.with_suffix(".npz").read_bytes()) != study.arrays_sha256:
                raise RecordError("its arrays are missing or do not match the sha256 it records")
        except (OSError, ValueError, RecordError) as exc:
            _warn(path, str(exc))
            return None
        return study

    def study(self, track: str, model: str, kind: str) -> StudyResult | None:
        path = self.study_path(track, model, kind)
        return self._read_study(path) if path.exists() else None

    def studies(self, track: str | None = None) -> list[StudyResult]:
        """Every valid study (invalid files are warned about and skipped), sorted by (track, model, kind)."""
        if not self.root.is_dir():
            return []
        folders = self._track_folders(track)
        found = [s for folder in folders for p in sorted((folder / "studies").glob("*/*.json"))
                 if (s := self._read_study(p)) is not None]
        return sorted(found, key=lambda s: (s.track, s.model, s.kind))

    def study_arrays(self, study: StudyResult) -> dict[str, np.ndarray]:
        path = self.study_path(study.track, study.model, study.kind, ".npz")
        try:
            data = path.read_bytes()
            if sha256_bytes(data) != study.arrays_sha256:
                raise ValueError("its sha256 does not match the study's")
            return load_npz_bytes(data)
        except Exception as exc:
            _warn(path, str(exc))
            return {}
