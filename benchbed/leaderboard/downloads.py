"""The track table as downloads (CSV and JSON), from the track's view (pure)."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from benchbed.leaderboard.tracks import TrackView
from benchbed.results.tables import bounded_columns, interval_ends, neutralise_formula


def _cell_text(value: Any) -> Any:
    return neutralise_formula(value) if isinstance(value, str) else value


def track_frame(view: TrackView) -> pd.DataFrame:
    """One row per model, in the page's default order; text cells cannot act as spreadsheet formulas."""
    names = [c.name for c in view.columns]
    # each column some record gives an interval is followed by the interval's ends (<col>_low, <col>_high)
    bounded = bounded_columns([r.record for r in view.rows], names)
    rows = []
    for r in view.rows:
        row: dict[str, Any] = {
            "rank": r.rank, "model": r.model, "paper": r.paper, "link": r.paper_url or "", "venue": r.venue,
            "architecture": r.architecture, "recipe": r.recipe, "family": r.family, "extra_data": r.extra_data,
        }
        for n in names:
            row[n] = r.cells[n].value
            if n in bounded:
                row.update(interval_ends(r.record, n, None))
        row["n_examples"] = r.n_examples
        row["quick"] = r.record.quick
        row["partial"] = r.record.partial
        row["flags"] = "; ".join(f"{f.label}: {f.detail}" for f in r.flags if f.kind in ("warn", "info"))
        rows.append({k: _cell_text(v) for k, v in row.items()})
    frame = pd.DataFrame(rows)
    frame["rank"] = frame["rank"].astype("Int64")
    frame["n_examples"] = frame["n_examples"].astype("Int64")
    for c in view.columns:  # counts are integers (423, not 423.0)
        if c.unit in COUNT_UNITS and is_integral(frame[c.name]):
            frame[c.name] = frame[c.name].astype("Int64")
    return frame


COUNT_UNITS = ("points", "count")


def is_integral(values: pd.Series) -> bool:
    present = pd.to_numeric(values, errors="coerce").dropna()
    return bool(len(present)) and bool((present == present.round()).all()) and bool((present.abs() < 2**53).all())


def track_json(view: TrackView) -> dict[str, Any]:
    def clean(v):
        if v is pd.NA or (isinstance(v, float) and not math.isfinite(v)):
            return None
        return v

    rows = [{k: clean(v) for k, v in rec.items()} for rec in track_frame(view).to_dict(orient="records")]
    return {
        "track": _cell_text(view.name), "dataset": view.meta["dataset"], "norm": view.meta["norm"],
        "eps": view.meta["eps"],
        "columns": {c.name: {"metric": c.metric, "description": c.description, "higher_is_better": c.higher_is_better,
                             "unit": c.unit, "protocol": c.info.protocol} for c in view.columns},
        "rows": rows,
    }
