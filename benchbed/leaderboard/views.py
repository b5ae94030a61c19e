"""View models of the pages: records (and their arrays) in, plain data for the templates out.

Pure and deterministic: no file I/O (the site writer reads the store and hands arrays in), records
visited in sorted order, ties broken by model name, numbers formatted by
:func:`benchbed.leaderboard.safety.fmt_number`. Which columns lead, rank and get plotted comes from
the columns' own declarations (:class:`benchbed.results.record.ColumnInfo`), never from their names.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchbed.leaderboard.flags import FlagView, record_flags, status_flags
from benchbed.leaderboard.pages import model_page, page_base, page_names, page_root, track_page  # noqa: F401
from benchbed.leaderboard.presentation import BASE_UNIT_TEXTS, Presentation
from benchbed.leaderboard.safety import fmt_number, safe_url, sort_key
from benchbed.results.record import ColumnInfo, Record
from benchbed.results.tables import REPORTED_COLUMNS as REPORTED
from benchbed.results.tables import column_catalogue, reported_numbers, sort_records

NORM_LABELS = {"Linf": "ℓ∞", "L2": "ℓ2", "L1": "ℓ1"}


def direction_label(higher: bool | None) -> str:
    return {True: "higher is better", False: "lower is better"}.get(higher, "no direction (informational)")


def direction_arrow(higher: bool | None) -> str:
    return {True: "↑", False: "↓"}.get(higher, "")


# -- columns ----------------------------------------------------------------------------------------------
@dataclass
class ColumnView:
    name: str
    info: ColumnInfo
    group: int = 0  # index into the track's column groups (for the show/hide toggles)
    group_label: str = ""
    unit_texts: Mapping[str, str] = field(default_factory=lambda: BASE_UNIT_TEXTS)  # declared by the metrics

    @property
    def metric(self) -> str:
        return self.info.metric

    @property
    def description(self) -> str:
        return self.info.description

    @property
    def higher_is_better(self) -> bool | None:
        return self.info.higher_is_better

    @property
    def unit(self) -> str:
        return self.info.unit

    @property
    def headline(self) -> bool:
        return bool(self.info.rank or self.info.headline)

    @property
    def arrow(self) -> str:
        return direction_arrow(self.higher_is_better)

    @property
    def direction(self) -> str:
        return direction_label(self.higher_is_better)

    @property
    def tooltip(self) -> str:
        unit = f"unit: {self.unit}" if self.unit else "no unit"
        protocol = f"; {self.info.protocol}" if self.info.protocol else ""
        return (f"{self.name}: {self.description or '(no description given by the metric)'} ({unit}; "
                f"{self.direction}; metric: {self.metric}{protocol})")

    @property
    def compact(self) -> bool:
        """Shown in the compact (default) view of the board: the rank keys and the headline columns."""
        return self.headline

    @property
    def unit_text(self) -> str:
        """The unit in words for captions, as its metric declares it (MetricSpec.unit_texts); else the unit."""
        return self.unit_texts.get(self.unit, self.unit)

    @property
    def first_sort(self) -> str:
        return "ascending" if self.higher_is_better is False else "descending"

    @property
    def axis_label(self) -> str:
        unit = f" ({self.unit})" if self.unit else ""
        arrow = f", {self.arrow} {self.direction}" if self.higher_is_better is not None else ""
        return f"{self.name}{unit}{arrow}"


def reported_column(key: str) -> ColumnInfo:
    return ColumnInfo(metric="reported", unit="%", higher_is_better=True, group="reported",
                      description=f"{key.replace('_', ' ')} published by the model's source (e.g. RobustBench's own "
                                  f"AutoAttack evaluation on the full test set); not computed by benchbed")


def track_columns(records: Sequence[Record], presentation: Presentation | None = None) -> list[ColumnView]:
    """The track's columns in order of meaning; published numbers right after the rank columns."""
    catalogue = column_catalogue(records)
    reported = [(col, reported_column(key)) for key, col in REPORTED
                if any(key in reported_numbers(r) for r in records)]
    names = list(catalogue.items())
    n_rank = sum(1 for _, c in names if c.rank)
    ordered = names[:n_rank] + reported + names[n_rank:]
    groups: list[str] = []
    out = []
    words = (presentation or Presentation()).unit_texts
    for name, info in ordered:
        label = info.group or info.metric or "other"
        if label not in groups:
            groups.append(label)
        out.append(ColumnView(name, info, groups.index(label) + 1, label, words))  # group 0: model information
    return out


def column_groups(columns: Sequence[ColumnView]) -> list[dict[str, Any]]:
    """The column groups of the board's toggles: ``n`` columns, ``more`` of them outside the compact view."""
    out: dict[int, dict[str, Any]] = {}
    for c in columns:
        out.setdefault(c.group, {"id": c.group, "label": c.group_label, "n": 0, "more": 0, "headline": False})
        out[c.group]["n"] += 1
        out[c.group]["more"] += 0 if c.compact else 1
        out[c.group]["headline"] |= c.headline
    return [out[k] for k in sorted(out)]


# -- rows -------------------------------------------------------------------------------------------------
@dataclass
class Cell:
    value: float | None
    display: str
    sort: str
    best: bool = False
    state: str = ""  # "" (a value, or no value: a dash), "not-run" (metric not selected), "failed"
    note: str = ""  # why there is no value (the cell's tooltip)
    interval: str = ""  # its confidence interval, in words (the cell's tooltip; leaderboard.uncertainty)
    tie: str = ""  # "tied at 95 % with the next model ..." (leaderboard.uncertainty)


@dataclass
class Row:
    record: Record
    cells: dict[str, Cell]
    flags: list[FlagView]  # the attack's warnings and benchbed's observations
    rank: int | None = None
    status: list[FlagView] = field(default_factory=list)  # quick / partial: shown beside the model's name
    tie: str = ""  # not distinguishable from the next rank (leaderboard.uncertainty)

    @property
    def quick(self) -> bool:
        return self.record.quick

    @property
    def partial(self) -> bool:
        return self.record.partial

    @property
    def status_note(self) -> str:
        """One line on why this row's numbers are not directly comparable ("" for a full record)."""
        return "; ".join(f.detail for f in self.status)

    @property
    def status_class(self) -> str:
        return " ".join(f"is-{f.kind}" for f in self.status)

    @property
    def model(self) -> str:
        return self.record.model

    @property
    def page(self) -> str:
        return model_page(self.record.model)

    @property
    def info(self) -> Mapping[str, Any]:
        return self.record.model_info

    def text(self, key: str) -> str:
        value = self.info.get(key)
        return value if isinstance(value, str) else ""

    @property
    def paper(self) -> str:
        return self.text("paper")

    @property
    def paper_url(self) -> str | None:
        return safe_url(self.info.get("link"))

    @property
    def venue(self) -> str:
        return self.text("venue")

    @property
    def architecture(self) -> str:
        return self.text("architecture")

    @property
    def recipe(self) -> str:
        return self.text("recipe")

    @property
    def family(self) -> str:
        return self.text("family")

    @property
    def footnote(self) -> str:
        return self.text("footnote")

    @property
    def extra_data(self) -> str:
        value = self.info.get("extra_data")
        return {True: "yes", False: "no"}.get(value, "–") if isinstance(value, bool) else "–"

    @property
    def n_examples(self) -> int:
        return self.record.n_examples

    @property
    def search(self) -> str:
        return " ".join([self.model, self.paper, self.venue, self.architecture, self.recipe, self.footnote]).lower()

    @property
    def rank_display(self) -> str:
        return "–" if self.rank is None else str(self.rank)

    @property
    def rank_sort(self) -> str:
        return "" if self.rank is None else str(self.rank)


def missing_cell(rec: Record, c: ColumnView) -> Cell:
    """A cell without a value: a dash, or why -- the metric failed, or this run did not compute it."""
    if c.metric in rec.metric_errors:
        return Cell(None, "failed", "", state="failed", note=f"{c.metric} failed: {rec.metric_errors[c.metric]}")
    if c.metric != "reported" and c.metric not in rec.metrics_run:
        return Cell(None, "not run", "", state="not-run",
                    note=f"{c.metric} was not part of this run (a metric selection)")
    return Cell(None, fmt_number(None), "")


def make_row(rec: Record, columns: Sequence[ColumnView], presentation: Presentation | None = None) -> Row:
    reported = reported_numbers(rec)
    values = {**rec.metrics, **{col: reported[key] for key, col in REPORTED if key in reported}}
    cells = {}
    for c in columns:
        v = values.get(c.name)
        v = None if v is None or math.isnan(v) else v
        cells[c.name] = missing_cell(rec, c) if v is None else Cell(v, fmt_number(v, c.unit), sort_key(v))
    flags = [f for f in record_flags(rec, presentation) if f.kind not in ("quick", "partial")]
    return Row(rec, cells, flags, status=status_flags(rec))


def rank_rows(rows: list[Row], columns: Sequence[ColumnView]) -> list[Row]:
    """Best first by the rank columns; competition ranks on the first of them. A record that lacks the
    first rank column (or is quick or partial) is listed, unranked."""
    catalogue = {c.name: c.info for c in columns if c.info.rank}
    order = {id(r): i for i, r in enumerate(sort_records([row.record for row in rows], catalogue))}
    rows = sorted(rows, key=lambda r: order[id(r.record)])
    primary = min(catalogue, key=lambda n: catalogue[n].rank) if catalogue else None
    prev, rank, position = None, 0, 0
    for r in rows:
        v = r.cells[primary].value if primary else None
        if v is None or r.record.quick or r.record.partial or r.record.fast:
            r.rank = None
            continue
        position += 1
        if v != prev:
            rank, prev = position, v
        r.rank = rank
    return rows


def best_per_column(rows: Sequence[Row], columns: Sequence[ColumnView]) -> dict[str, dict[str, Any]]:
    """For each column with a direction: the best value among ranked rows and the models that reach it.

    A track with no ranked row at all (every record quick or partial) still names its best values,
    from those rows, marked ``unranked`` (the index shows them with their quick / partial marker)."""
    best: dict[str, dict[str, Any]] = {}
    ranked = [r for r in rows if r.rank is not None]
    pool = ranked or list(rows)
    for c in columns:
        if c.higher_is_better is None:
            continue
        vals = [r.cells[c.name].value for r in pool if r.cells[c.name].value is not None
                and math.isfinite(r.cells[c.name].value)]
        if not vals:
            continue
        target = max(vals) if c.higher_is_better else min(vals)
        winners = [r for r in pool if r.cells[c.name].value == target]
        for r in winners:
            r.cells[c.name].best = bool(ranked)
        best[c.name] = {"column": c, "value": fmt_number(target, c.unit), "unranked": not ranked,
                        "models": [(w.model, w.page) for w in winners], "rows": winners}
    return best

