"""What a metric plugin registers: :class:`MetricSpec`, its :class:`Column` s and its :class:`MetricOutput`."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from benchbed.contracts.figures import ArrayPlot
from benchbed.contracts.reductions import Reduction
from benchbed.contracts.specs.names import _require

if TYPE_CHECKING:  # imported lazily: listing plugins must not pay for torch
    import numpy as np

    from benchbed.contracts.specs.tracks import TrackSpec
    from benchbed.engine.context import EvaluationContext


@dataclass(frozen=True)
class Column:
    """One number a metric produces, how it is computed from the per-point arrays, and how pages use it.

    ``reduce`` turns the merged per-point arrays into the number (:mod:`benchbed.contracts.reductions`), the
    same way for unsharded runs, sharded runs and ``benchbed.evaluate``. ``unit`` is shown in headers
    ("%", "energy", "points"). ``headline``: in the compact views (the run's table, the board's default
    columns). ``rank``: the track table's sort keys (1 first, then 2; 0 = not a key). ``plot``: the
    axis of the track's scatter plot ("x" or "y"). ``group``: the column group of the board's toggles
    (default: the metric's name). ``protocol``: which points/iterates the number uses, in words.
    """

    name: str
    description: str
    higher_is_better: bool | None = None  # None: informational, no direction
    unit: str = ""
    reduce: Reduction | None = None
    headline: bool = False
    rank: int = 0
    plot: str = ""
    group: str = ""
    protocol: str = ""

    def __post_init__(self):
        _require(self.plot in ("", "x", "y"), f"column {self.name!r}: plot must be '', 'x' or 'y'")
        _require(self.rank >= 0, f"column {self.name!r}: rank must be >= 0")

    def info(self, metric: str) -> dict[str, Any]:
        """How a record describes this column (``record.columns[name]``)."""
        return {"metric": metric, "description": self.description, "higher_is_better": self.higher_is_better,
                "unit": self.unit, "headline": self.headline, "rank": self.rank, "plot": self.plot,
                "group": self.group or metric, "protocol": self.protocol,
                "reduce": self.reduce.describe() if self.reduce is not None else ""}


@dataclass
class MetricOutput:
    """What a metric's ``compute`` returns: per-point arrays (one row per test point of the unit, or
    whole arrays for ``scope="model"``) and JSON-able ``info``. Numbers are never returned here: every
    column's value comes from its ``reduce`` over the (merged) arrays."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


INFO_REDUCTIONS = ("sum", "union", "same", "first")


@dataclass(frozen=True)
class MetricSpec:
    """A metric: ``compute(ctx)`` -> :class:`MetricOutput`; each column declares its reduction.

    ``scope``: "example" (per-point arrays, concatenated across shards) or "model" (computed once per
    model and track, e.g. FID of samples). ``info_reduce``: how each key of ``info`` combines across
    shards: "sum" (numbers, or dicts of numbers), "union" (lists), "same" (must agree; the default),
    "first". ``requires``: what the metric needs, checked before a run starts (benchbed.engine.preflight):
    "attack" (the track's attack), "iterates:<kind>", "generation" (generation settings, sampler and
    feature extractor), "train" (the training split). ``check(track, data_dir)``: files of its own the
    metric reads (e.g. corrupted copies of the test points), looked for before a run starts: None or
    a list of lines, each naming what is missing and where to put it.
    """

    name: str
    columns: tuple[Column, ...]
    compute: Callable[[EvaluationContext], MetricOutput]
    description: str = ""
    scope: str = "example"
    info_reduce: Mapping[str, str] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    # presentation: figures of its per-point arrays on the pages, how its columns' units read in words
    # ({"energy": "energy units"}), and whether its lower-is-better columns measure an alignment the
    # track page correlates with the track's robustness axis across models
    figures: tuple[ArrayPlot, ...] = ()
    unit_texts: Mapping[str, str] = field(default_factory=dict)
    alignment: bool = False
    # check(track, data_dir): the files this metric needs that are missing, in words (preflight)
    check: Callable[..., Sequence[str] | str | None] | None = None

    def __post_init__(self):
        _require(self.scope in ("example", "model"),
                 f"metric {self.name!r}: scope must be 'example' or 'model', got {self.scope!r}")
        for key, how in self.info_reduce.items():
            _require(how in INFO_REDUCTIONS, f"metric {self.name!r}: info_reduce[{key!r}] = {how!r} is not one "
                                             f"of {INFO_REDUCTIONS}")

    def columns_for(self, track: TrackSpec) -> tuple[Column, ...]:
        """The columns this metric produces on ``track``; subclasses may name them per track."""
        return self.columns
