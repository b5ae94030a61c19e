"""The stored documents: a model's :class:`Record` per (model, track, variant), the :class:`UnitResult` of
each unit of work, a :class:`Failure`, and a :class:`StudyResult` -- frozen dataclasses and their parts.

A model's units become its record through :func:`benchbed.results.builder.build_record`, the only place
a record is made. Each type serialises to plain JSON (``to_dict``) with a ``record_sha256`` over its
canonical content (:mod:`benchbed.results.canonical`), and is read back only through ``from_dict``,
which checks the schema version, every field's type and the checksum, and raises a one-line
:class:`~benchbed.contracts.errors.RecordError` naming what is wrong. The JSON form and those checks
follow from the dataclasses' fields and type hints (:mod:`benchbed.results.schema`): a field added here
is written, checked and read with nothing else to edit. A record that fails is never ranked or reused
(see :mod:`benchbed.results.store`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from benchbed.contracts.errors import RecordError
from benchbed.contracts.specs import AttackWarning
from benchbed.functional.uncertainty import Interval
from benchbed.results.canonical import content_sha256, dumps  # noqa: F401  (re-exported: their old home)
from benchbed.results.canonical import json_default as _json_default  # noqa: F401  (old private name)
from benchbed.results.schema import OMIT_IF_EMPTY, read_document, read_stored, stored_dict, to_json

SCHEMA_VERSION = 2
FULL = ""  # the variant of a record made with the track's own protocol
STATUSES = ("ok", "partial")


@dataclass(frozen=True, kw_only=True)
class Provenance:
    """What a document's numbers depend on besides its own parameters, written the same way in a unit
    result, a record and a study: which weights, which libraries, which plugins, the model and the track."""

    checkpoint_sha256: str  # what the plugin claims
    weights_sha256: str  # what benchbed computed from the weights it evaluated
    versions: dict[str, str]  # libraries
    plugins: dict[str, Any]  # role -> {plugin, distribution, version} of every plugin involved
    model_info: dict[str, Any]
    track_info: dict[str, Any]


# -- parts ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ColumnInfo:
    """How a record describes one of its columns (from :meth:`benchbed.contracts.specs.Column.info`)."""

    metric: str
    description: str
    higher_is_better: bool | None
    unit: str
    headline: bool = False
    rank: int = 0
    plot: str = ""
    group: str = ""
    protocol: str = ""
    reduce: str = ""
    order: int = 0  # position among the record's columns: the metrics' order, then each metric's declaration

    @classmethod
    def from_dict(cls, d: Any, name: str) -> ColumnInfo:
        return read_document(cls, d, f"column {name!r}")


@dataclass(frozen=True)
class Flag:
    """Something worth knowing about a result (an attack's warning, or benchbed's own observation)."""

    label: str
    detail: str
    source: str = "attack"  # "attack" | "benchbed"

    @classmethod
    def from_dict(cls, d: Any) -> Flag:
        return read_document(cls, d, "flag")


@dataclass(frozen=True)
class AttackProvenance:
    """Which attack made the adversarial points, and what it reported (summed over units)."""

    name: str
    library: str
    library_version: str
    version: str
    options: dict[str, Any]
    flipped_by: dict[str, int]
    warnings: tuple[AttackWarning, ...] = ()

    @classmethod
    def from_dict(cls, d: Any) -> AttackProvenance | None:
        return None if d is None else read_document(cls, d, "attack")

    def to_dict(self) -> dict[str, Any]:
        return to_json(self)


@dataclass(frozen=True)
class UnitInfo:
    """A unit of work as a document keeps it: which shard of which points, its metrics and its key
    (:class:`benchbed.engine.units.Unit` is this plus whose unit it is)."""

    id: str  # "all" | "shard-0002-of-0004" | "model"
    shard: int | None
    n_shards: int
    start: int
    stop: int
    metrics: tuple[str, ...]
    key: str

    @classmethod
    def from_dict(cls, d: Any) -> UnitInfo:
        return read_document(cls, d, "unit")

    def to_dict(self) -> dict[str, Any]:
        return to_json(self)


# -- a unit's result -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UnitResult(Provenance):
    """What one unit computed: each metric's info (or its error), the attack's provenance, flags, and
    the names of its per-point arrays (stored beside it, checksummed)."""

    model: str
    track: str
    variant: str
    unit: UnitInfo
    metric_info: dict[str, dict[str, Any]]
    metric_errors: dict[str, str]
    attack: AttackProvenance | None
    flags: tuple[Flag, ...]
    arrays: tuple[str, ...]
    whole_arrays: tuple[str, ...]  # arrays of scope-"model" metrics: not per point, kept whole
    device: str
    wall_time_s: float
    timings_s: dict[str, float]
    finished_at: str
    run_id: str = ""
    attempt: int = 1
    arrays_sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        return stored_dict(self, SCHEMA_VERSION)

    @classmethod
    def from_dict(cls, data: Any, what: str = "unit result") -> UnitResult:
        return read_stored(cls, data, what, SCHEMA_VERSION)

    def with_run(self, run_id: str, arrays_sha256: str) -> UnitResult:
        from dataclasses import replace

        return replace(self, run_id=run_id, arrays_sha256=arrays_sha256)


# -- the record ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Record(Provenance):
    """One model's numbers on one track, with everything they depend on."""

    status: str  # "ok" | "partial" (some of the track's metrics were not selected, or failed)
    model: str
    track: str
    dataset: str
    variant: str  # FULL ("") for the track's own protocol; else e.g. "n30" (quick) or "n449-m3f2a1c0d"
    metrics: dict[str, float]
    columns: dict[str, ColumnInfo]
    metrics_run: tuple[str, ...]  # the metrics this record was asked to compute, in the track's order
    metric_errors: dict[str, str]  # metric -> one-line error, for those that failed
    n_examples: int
    registered_n_examples: int  # the registered track's number of test points
    seed: int
    norm: str
    eps: float
    attack: AttackProvenance | None
    flags: tuple[Flag, ...]
    metric_info: dict[str, dict[str, Any]]
    arrays: tuple[str, ...]
    arrays_sha256: str
    result_key: str
    units: tuple[UnitInfo, ...]
    device: str
    wall_time_s: float
    timings_s: dict[str, float]
    finished_at: str
    run_id: str = ""
    # column -> its confidence interval (from the same per-point arrays; see benchbed.functional.uncertainty).
    # Optional in the file: records written before intervals existed read back with none.
    intervals: dict[str, Interval] = field(default_factory=dict, metadata=OMIT_IF_EMPTY)

    # -- derived ---------------------------------------------------------------------------------
    @property
    def quick(self) -> bool:
        """Fewer test points than the registered track asks for (not directly comparable)."""
        return self.n_examples < self.registered_n_examples

    @property
    def partial(self) -> bool:
        return self.status == "partial"

    @property
    def attack_mode(self) -> str:
        """"standard" (the track's own attack options) or the ``--attack-mode`` the run chose."""
        mode = self.track_info.get("attack_mode", "standard")
        return mode if isinstance(mode, str) else "standard"

    @property
    def fast(self) -> bool:
        """Attacked in a cheaper mode than the track's own (a labelled variant, never ranked)."""
        return self.attack_mode != "standard"

    @property
    def track_metrics(self) -> tuple[str, ...]:
        return tuple(m for m in self.track_info.get("metrics", ()) if isinstance(m, str))

    @property
    def missing_metrics(self) -> tuple[str, ...]:
        """The track's metrics this record has no numbers of (not selected, or failed)."""
        return tuple(m for m in self.track_metrics if m not in self.metrics_run or m in self.metric_errors)

    def value(self, column: str) -> float | None:
        v = self.metrics.get(column)
        return None if v is None or math.isnan(v) else v

    def interval(self, column: str) -> Interval | None:
        """The column's confidence interval, if the record has one."""
        return self.intervals.get(column)

    def columns_where(self, **wanted: Any) -> list[str]:
        """Column names whose info matches, e.g. ``columns_where(headline=True)``, in declaration order."""
        ordered = sorted(self.columns.items(), key=lambda kv: kv[1].order)
        return [n for n, c in ordered if all(getattr(c, k) == v for k, v in wanted.items())]

    # -- serialisation -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return stored_dict(self, SCHEMA_VERSION)

    @classmethod
    def from_dict(cls, data: Any, what: str = "record") -> Record:
        record = read_stored(cls, data, what, SCHEMA_VERSION)
        if record.status not in STATUSES:
            raise RecordError(f"{what}: status {record.status!r} is not one of {STATUSES}")
        return record


# -- a failed attempt ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Failure:
    """The last failed attempt of a model on a track (kept until a later attempt succeeds)."""

    model: str
    track: str
    variant: str
    error: str
    unit: str
    run_id: str
    versions: dict[str, str]
    finished_at: str

    def to_dict(self) -> dict[str, Any]:
        return stored_dict(self, SCHEMA_VERSION, status="failed")

    @classmethod
    def from_dict(cls, data: Any, what: str = "failure record") -> Failure:
        if isinstance(data, dict) and not isinstance(data.get("status"), str):
            raise RecordError(f"{what}: field 'status' must be a string")
        return read_stored(cls, data, what, SCHEMA_VERSION)


# -- a study (an experiment beyond a track's columns: per-attack energies, eps curves, dynamics, ...) -----
@dataclass(frozen=True)
class StudyResult(Provenance):
    """One study of one model on one track: a table of rows (one per attack, eps, checkpoint, ...),
    described column by column, summary numbers, and per-point arrays kept beside it (checksummed).

    ``kind`` names the study ("attacks", "eps-curve", "dynamics", "generation", ...); ``params`` what was
    run; ``key`` what its numbers depend on (it is reused only while the key is unchanged)."""

    kind: str
    model: str
    track: str
    params: dict[str, Any]
    rows: tuple[dict[str, Any], ...]
    columns: dict[str, ColumnInfo]
    summary: dict[str, Any]
    arrays: tuple[str, ...]
    key: str
    device: str
    wall_time_s: float
    finished_at: str
    run_id: str = ""
    arrays_sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        return stored_dict(self, SCHEMA_VERSION)

    @classmethod
    def from_dict(cls, data: Any, what: str = "study result") -> StudyResult:
        study = read_stored(cls, data, what, SCHEMA_VERSION)
        for i, row in enumerate(study.rows):
            if not isinstance(row, dict) or not all(isinstance(v, (str, int, float, bool)) or v is None
                                                    for v in row.values()):
                raise RecordError(f"{what}: row {i} must be an object of numbers, strings, booleans or nulls")
        return study

