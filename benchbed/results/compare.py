"""A run's records beside the published ones: which numbers it reproduced, which it did not.

``benchbed run`` writes into a scratch folder by default (:data:`benchbed.results.store.DEFAULT_RESULTS`) and
then compares each record with the published record of the same (track, model, variant) in
:data:`benchbed.results.store.PUBLISHED_RESULTS`, column by column, exactly (the numbers are deterministic on
the same torch build, CPU kind and per-unit thread count; how many units ran side by side does not matter).
Differences below :data:`ROUNDING` (relative) are reported as rounding: float sums are ordered differently
with another number of CPU threads per unit or another CPU kind, which moves energies and FIDs in their
4th-5th significant digit but no accuracy.
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

ROUNDING = 1e-3  # relative difference below which two numbers differ by float rounding order only
_THREADS = re.compile(r"(\d+) threads")


def threads_of(device: str) -> int | None:
    """The CPU thread count a record's device string names ("cpu (x86_64, 2 threads)"), if any."""
    found = _THREADS.search(device or "")
    return int(found.group(1)) if found else None


@dataclass
class Comparison:
    model: str
    variant: str
    published: bool  # a published record of this (track, model, variant) exists
    same_key: bool = False  # ... computed from the same weights, track, metrics, versions and plugins
    differ: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)  # column -> (ours, theirs)
    threads: tuple[int | None, int | None] = (None, None)  # CPU threads (ours, theirs)

    @property
    def largest_relative(self) -> float:
        return max((_relative(a, b) for a, b in self.differ.values()), default=0.0)

    @property
    def rounding_only(self) -> bool:
        return (bool(self.differ) and self.largest_relative < ROUNDING
                and not any("accuracy" in column for column in self.differ))  # a flipped point is never rounding

    @property
    def identical(self) -> bool:
        return self.published and not self.differ


def _relative(a: float | None, b: float | None) -> float:
    if a is None or b is None:
        return math.inf
    if math.isnan(a) or math.isnan(b):
        return 0.0 if math.isnan(a) and math.isnan(b) else math.inf
    return abs(a - b) / max(abs(a), abs(b), 1e-12)


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
        out.append(Comparison(record.model, record.variant, True, record.result_key == theirs.result_key, differ,
                              (threads_of(record.device), threads_of(theirs.device))))
    return out


def describe(comparisons: Sequence[Comparison], published_root) -> list[str]:
    """Lines for the end of a run: a summary, then one line per model that differs."""
    if not comparisons:
        return []
    found = [c for c in comparisons if c.published]
    if not found:
        return [f"no published record of these models in {published_root} to compare with"]
    same = [c for c in found if c.identical]
    rounding = [c for c in found if c.rounding_only]
    lines = [f"compared with the published results in {published_root}: {len(same)} of {len(found)} model(s) "
             f"identical in every column" + (f" ({len(comparisons) - len(found)} not published)"
                                             if len(found) < len(comparisons) else "")]
    if rounding:
        largest = max(c.largest_relative for c in rounding)
        ours = {c.threads[0] for c in rounding} - {None}
        theirs = {c.threads[1] for c in rounding} - {None}
        hint = ""
        if len(theirs) == 1 and ours != theirs:
            used = "/".join(map(str, sorted(ours))) or "?"
            n = next(iter(theirs))
            hint = (f"; published at {n} CPU thread(s) per unit, this run used {used}: --threads {n} reproduces "
                    f"the last digit on the same CPU kind, whatever its number of cores (the units then run "
                    f"side by side at {n} thread(s) each)")
        lines.append(f"  {len(rounding)} model(s) differ by float rounding only (largest relative difference "
                     f"{largest:.1e}, accuracies identical){hint}: {', '.join(c.model for c in rounding)}")
    for c in found:
        if c.differ and not c.rounding_only:
            real = {k: v for k, v in c.differ.items() if _relative(*v) >= ROUNDING or "accuracy" in k}
            shown = "; ".join(f"{k} {_fmt(a)} vs {_fmt(b)}" for k, (a, b) in list(real.items())[:4])
            more = f" (+{len(real) - 4} more)" if len(real) > 4 else ""
            why = "" if c.same_key else " (computed under other versions, weights or settings)"
            lines.append(f"  {c.model}: {len(real)} column(s) differ{why}: {shown}{more} (this run vs published)")
    return lines


def _fmt(value: float | None) -> str:
    return "missing" if value is None else f"{value:.6g}"
