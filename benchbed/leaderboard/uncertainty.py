"""Uncertainty on the track page: each cell's interval (its tooltip) and where a ranking is a tie.

For every column with a direction that the compact board shows, the ranked models are ordered by
that column and each is tested against the next one, paired over the common test points (exact
McNemar for accuracies, a paired bootstrap otherwise), or unpaired for columns over each model's own
generated samples (benchbed.results.paired). Where the test does
not reject "no difference" at the interval level, the better cell is marked "tied at 95 %" with the
next model; the rank cell shows the same mark for the first rank column.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from benchbed.functional.uncertainty import LEVEL
from benchbed.leaderboard.safety import fmt_number
from benchbed.results.paired import Resolver, paired_column, plain_reduction

TIE_MARK = "≈"


def interval_text(rec: Any, column: str, unit: str) -> str:
    iv = rec.interval(column)
    if iv is None:
        return ""
    return (f"{round(100 * iv.level)} % interval [{fmt_number(iv.low, unit)}, {fmt_number(iv.high, unit)}] "
            f"({iv.method})")


def _test_name(method: str) -> str:
    if "McNemar" in method:
        return "exact McNemar"
    if "Fisher" in method:
        return "Fisher exact (independent samples)"
    return "unpaired bootstrap (independent samples)" if "independent" in method else "paired bootstrap"


def _ordered(rows: Sequence[Any], column: Any) -> list[Any]:
    ranked = [r for r in rows if r.rank is not None and r.cells[column.name].value is not None]
    return sorted(ranked, key=lambda r: r.cells[column.name].value, reverse=column.higher_is_better is not False)


def tie_notes(rows: Sequence[Any], column: Any, arrays: Mapping[str, Mapping[str, Any]],
              resolve: Resolver) -> dict[str, str]:
    """model -> "tied at 95 % with <next> (...)" for each ranked model not distinguishable from the next
    one in this column's order."""
    notes = {}
    ordered = _ordered(rows, column)
    for better, worse in zip(ordered, ordered[1:]):
        reduction = resolve(better.record, column.name)
        if reduction is None:
            continue
        result = paired_column(reduction, arrays.get(better.model, {}), arrays.get(worse.model, {}))
        if result is not None and result.p_value >= 1 - LEVEL:
            unit = column.unit
            notes[better.model] = (f"tied at {round(100 * LEVEL)} % with the next model, {worse.model}: difference "
                                   f"{fmt_number(result.difference, unit)} [{fmt_number(result.low, unit)}, "
                                   f"{fmt_number(result.high, unit)}], {_test_name(result.method)} p = "
                                   f"{result.p_value:.2f}")
    return notes


def annotate(view: Any, arrays: Mapping[str, Mapping[str, Any]], resolve: Resolver | None = None) -> None:
    """Fill each cell's ``interval`` and ``tie`` and the rank cell's ``tie`` of a track view."""
    resolve = resolve or plain_reduction
    for row in view.rows:
        for c in view.columns:
            cell = row.cells.get(c.name)
            if cell is not None and cell.value is not None:
                cell.interval = interval_text(row.record, c.name, c.unit)
    primary = next(iter(view.rank_columns), None)
    for c in view.columns:
        if c.higher_is_better is None or not c.compact or c.metric == "reported":
            continue
        for model, note in tie_notes(view.rows, c, arrays, resolve).items():
            row = next(r for r in view.rows if r.model == model)
            row.cells[c.name].tie = note
            if c is primary:
                row.tie = note
