"""What a run did: per model (:class:`ModelOutcome`), per unit (:class:`UnitReport`), and in all
(:class:`RunSummary`, what :func:`benchbed.engine.runner.run` returns; the CLI formats it)."""
from __future__ import annotations

from dataclasses import dataclass, field

from benchbed.results.record import Record


@dataclass
class ModelOutcome:
    """What a run did for one model (all its units together)."""

    model: str
    status: str  # "ok" | "failed" | "incomplete" (units of other shards are not stored yet)
    record: Record | None = None
    error: str | None = None
    seconds: float = 0.0
    cached: bool = False  # nothing was computed: every unit (or the record) was already stored


@dataclass
class UnitReport:
    """What a run did for one unit."""

    model: str
    unit: str
    status: str  # "done" | "skipped" | "failed" | "other-shard"
    seconds: float = 0.0
    attempts: int = 0
    error: str | None = None
    reason: str = ""  # why skipped: "stored" | "cached-model" | "finished by another run"


@dataclass
class RunSummary:
    track: str
    outcomes: list[ModelOutcome] = field(default_factory=list)
    units: list[UnitReport] = field(default_factory=list)
    run_id: str = ""
    seconds: float = 0.0
    executor: str = "local"
    n_shards: int = 1
    results_dir: str = ""

    @property
    def failed(self) -> list[ModelOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def incomplete(self) -> list[ModelOutcome]:
        return [o for o in self.outcomes if o.status == "incomplete"]

    @property
    def records(self) -> list[Record]:
        return [o.record for o in self.outcomes if o.record is not None]

    def counts(self) -> dict[str, int]:
        out = {"units": 0, "done": 0, "skipped": 0, "failed": 0}
        for report in self.units:
            if report.status == "other-shard":
                continue
            out["units"] += 1
            out[report.status] = out.get(report.status, 0) + 1
        return out
