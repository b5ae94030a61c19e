"""Records -> tables: which columns, in which order (by meaning, from the columns' declarations).

Shared by the CLI (``benchbed run`` / ``results``), the exports and the leaderboard pages, so they
agree on the headline columns, the column order and the ranking.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from benchbed.functional.uncertainty import LEVEL
from benchbed.results.record import ColumnInfo, Record

LEADING = ["model", "track", "n_examples"]


def column_catalogue(records: Sequence[Record]) -> dict[str, ColumnInfo]:
    """Every column any record has, with its declaration (first seen), ordered by meaning: the rank
    keys first, then each metric's columns -- both in the track's metric order, headline columns before
    the others -- each in the order its metric declares them."""
    found: dict[str, ColumnInfo] = {}
    metric_order: list[str] = []
    for rec in records:
        for m in rec.track_metrics + rec.metrics_run:
            if m not in metric_order:
                metric_order.append(m)
        for name, info in sorted(rec.columns.items(), key=lambda kv: kv[1].order):
            found.setdefault(name, info)

    def key(item: tuple[str, ColumnInfo]):
        name, c = item
        pos = metric_order.index(c.metric) if c.metric in metric_order else len(metric_order)
        if c.rank:  # the rank keys lead, in the track's order (clean before robust accuracy)
            return (0, pos, 0, c.order, name)
        return (1, pos, 0 if c.headline else 1, c.order, name)

    return dict(sorted(found.items(), key=key))


def headline_columns(catalogue: dict[str, ColumnInfo]) -> list[str]:
    return [n for n, c in catalogue.items() if c.rank or c.headline]


def rank_columns(catalogue: dict[str, ColumnInfo]) -> list[str]:
    return [n for n, c in sorted(catalogue.items(), key=lambda kv: kv[1].rank) if c.rank]


def sort_records(records: Sequence[Record], catalogue: dict[str, ColumnInfo]) -> list[Record]:
    """Best first by the rank columns (each in its own direction); records without a value last; then name."""
    keys = rank_columns(catalogue)

    def key(rec: Record):
        out: list[Any] = []
        for name in keys:
            v = rec.value(name)
            higher = catalogue[name].higher_is_better is not False
            out.append((1, 0.0) if v is None else (0, -v if higher else v))
        return (*out, rec.model)

    return sorted(records, key=key)


COUNT_UNITS = ("points", "count")


LOW, HIGH = "_low", "_high"


def bounded_columns(records: Sequence[Record], names: Sequence[str]) -> set[str]:
    """The columns some record gives an interval (in tables each is followed by its ``_low`` / ``_high`` ends)."""
    return {n for n in names if any(rec.interval(n) is not None for rec in records)}


def interval_ends(rec: Record, name: str, missing: Any) -> dict[str, Any]:
    """``{<name>_low: ..., <name>_high: ...}`` of the record's interval (``missing`` where it has none)."""
    iv = rec.interval(name)
    return {name + LOW: iv.low if iv is not None else missing, name + HIGH: iv.high if iv is not None else missing}


def records_frame(records: Sequence[Record], *, all_columns: bool = False, intervals: bool = False) -> pd.DataFrame:
    """One row per (track, model, variant), best first: the leading columns, then the headline metric
    columns (every metric column with ``all_columns``), then the ``quick`` / ``partial`` markers and the
    ``flags`` (the attack's warnings and benchbed's observations, by label). Counts are integers.

    With ``intervals``, each metric column that any record gives an interval is followed by
    ``<column>_low`` and ``<column>_high``: the ends of its confidence interval (NaN where none)."""
    catalogue = column_catalogue(records)
    names = list(catalogue) if all_columns else headline_columns(catalogue)
    bounded = bounded_columns(records, names) if intervals else set()
    rows = []
    for rec in sort_records(records, catalogue):
        row: dict[str, Any] = {"model": rec.model, "track": rec.track, "n_examples": rec.n_examples}
        for n in names:
            row[n] = rec.metrics.get(n, math.nan)
            if n in bounded:
                row.update(interval_ends(rec, n, math.nan))
        row["quick"] = rec.quick
        row["partial"] = rec.partial
        row["flags"] = "; ".join(dict.fromkeys(f.label for f in rec.flags))
        rows.append(row)
    metric_columns = [c for n in names for c in ((n, n + LOW, n + HIGH) if n in bounded else (n,))]
    columns = LEADING + metric_columns + ["quick", "partial", "flags"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["n_examples"] = frame["n_examples"].astype("Int64")
    for name in names:
        if catalogue[name].unit in COUNT_UNITS and _integral(frame[name]):
            frame[name] = frame[name].astype("Int64")
    return frame


def _integral(values: pd.Series) -> bool:
    present = pd.to_numeric(values, errors="coerce").dropna()
    return bool(len(present)) and bool((present == present.round()).all()) and bool((present.abs() < 2**53).all())


def hidden_columns(records: Sequence[Record]) -> int:
    """How many metric columns the compact view leaves out."""
    catalogue = column_catalogue(records)
    return len(catalogue) - len(headline_columns(catalogue))


# published numbers (ModelSpec.reported keys) -> the column they are shown in, beside the measured one
REPORTED_COLUMNS = (("clean_accuracy", "reported_clean_accuracy"), ("robust_accuracy", "reported_robust_accuracy"))


def reported_numbers(record: Record) -> dict[str, float]:
    """The finite numbers the model's source published (``ModelSpec.reported``), e.g. RobustBench's
    clean and AutoAttack accuracy, by column name."""
    reported = record.model_info.get("reported")
    if not isinstance(reported, dict):
        return {}
    return {k: float(v) for k, v in reported.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (a leading quote before =, +, -, @)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def format_frame(frame: pd.DataFrame, fmt: str) -> str:
    if fmt == "csv":  # a file people open in spreadsheets: no cell may run as a formula
        return frame.map(lambda v: neutralise_formula(v) if isinstance(v, str) else v).to_csv(index=False)
    if fmt == "json":
        # json.dumps, not DataFrame.to_json: pandas rounds floats to 10 decimals, and stored numbers
        # must come out to the last digit; a missing value is null.
        rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        return json.dumps(rows, indent=2) + "\n"
    if frame.empty:
        return "(no results)\n"
    shown, note = with_half_widths(frame.copy())
    for flag in ("quick", "partial", "flags"):
        if flag in shown and not shown[flag].astype(bool).any():
            shown = shown.drop(columns=[flag])
    return shown.to_string(index=False, float_format=lambda v: f"{v:.2f}") + "\n" + note


def with_half_widths(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The text table's form of intervals: "value ±h" (h: half the interval's width) in place of the
    ``_low`` / ``_high`` columns, and a note saying so ("" when there are none)."""
    bounded = [c for c in frame.columns if c + LOW in frame.columns and c + HIGH in frame.columns]
    if not bounded:
        return frame, ""
    for c in bounded:
        cells = []
        for v, low, high in zip(frame[c], frame[c + LOW], frame[c + HIGH]):
            text = "" if pd.isna(v) else f"{float(v):.2f}"
            if text and not (pd.isna(low) or pd.isna(high)):
                text += f" ±{(float(high) - float(low)) / 2:.2f}"
            cells.append(text)
        frame[c] = cells
        frame = frame.drop(columns=[c + LOW, c + HIGH])
    return frame, (f"±: half the width of the {round(100 * LEVEL)} % confidence interval (its ends: --format csv or "
                   f"json, columns <column>_low and <column>_high; methods: docs/science.md)\n")


def shown_records(records: Sequence[Record]) -> list[Record]:
    """One record per (track, model): the track's full protocol where there is one, else the most
    complete of the others (complete before partial, then the most test points). Quick and partial
    records are never shown in place of a full one."""
    best: dict[tuple[str, str], Record] = {}

    def preference(r: Record):
        return (r.variant == "", not r.partial, r.n_examples, r.variant)

    for rec in records:
        key = (rec.track, rec.model)
        if key not in best or preference(rec) > preference(best[key]):
            best[key] = rec
    return sorted(best.values(), key=lambda r: (r.track, r.model))
