"""A run's records beside the published ones: which numbers it reproduced, which it did not.

``benchbed run`` writes into a scratch folder by default (:data:`benchbed.store.DEFAULT_RESULTS`) and
then compares each record with the published record of the same (track, model, variant) in
:data:`benchbed.store.PUBLISHED_RESULTS`, column by column, exactly (the numbers are deterministic on
the same torch build; a difference is a real difference, not noise to be tolerated).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Comparison:
    model: str
    variant: str
    published: bool  # a published record of this (track, model, variant) exists
    same_key: bool = False  # ... computed from the same weights, track, metrics, versions and plugins
    differ: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)  # column -> (ours, theirs)

    @property
    def identical(self) -> bool:
        return self.published and not self.differ


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (math.isnan(a) and math.isnan(b))


def compare_records(records: Sequence, published_store) -> list[Comparison]:
    """Each record against its published twin, column by column (exact equality; NaN equals NaN)."""
    out = []
    for record in records:
        theirs = published_store.record(record.track, record.model, record.variant)
        if theirs is None:
            out.append(Comparison(record.model, record.variant, False))
            continue
        columns = sorted(set(record.metrics) | set(theirs.metrics))
        differ = {c: (record.metrics.get(c), theirs.metrics.get(c)) for c in columns
                  if not _same(record.metrics.get(c), theirs.metrics.get(c))}
        out.append(Comparison(record.model, record.variant, True, record.result_key == theirs.result_key, differ))
    return out


def describe(comparisons: Sequence[Comparison], published_root) -> list[str]:
    """Lines for the end of a run: a summary, then one line per model that differs."""
    if not comparisons:
        return []
    found = [c for c in comparisons if c.published]
    if not found:
        return [f"no published record of these models in {published_root} to compare with"]
    same = [c for c in found if c.identical]
    lines = [f"compared with the published results in {published_root}: {len(same)} of {len(found)} model(s) "
             f"identical in every column" + (f" ({len(comparisons) - len(found)} not published)"
                                             if len(found) < len(comparisons) else "")]
    for c in found:
        if c.differ:
            shown = "; ".join(f"{k} {_fmt(a)} vs {_fmt(b)}" for k, (a, b) in list(c.differ.items())[:4])
            more = f" (+{len(c.differ) - 4} more)" if len(c.differ) > 4 else ""
            why = "" if c.same_key else " (computed under other versions, weights or settings)"
            lines.append(f"  {c.model}: {len(c.differ)} column(s) differ{why}: {shown}{more} (this run vs published)")
    return lines


def _fmt(value: float | None) -> str:
    return "missing" if value is None else f"{value:.6g}"
