"""Result records -> pandas tables (one row per model)."""
from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

LEADING = ["model", "track", "n_examples", "clean_accuracy", "robust_accuracy"]


def records_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (track, model): the leading columns, then every other metric column by name."""
    rows = []
    for rec in records:
        row = {"model": rec["model"], "track": rec["track"], "n_examples": rec.get("n_examples")}
        row.update(rec.get("metrics", {}))
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=LEADING)
    for col in LEADING:
        if col not in frame:
            frame[col] = float("nan")
    rest = sorted(c for c in frame.columns if c not in LEADING)
    frame = frame[LEADING + rest]
    sort_by = [c for c in ("track", "robust_accuracy", "clean_accuracy") if c in frame]
    order = [True] + [False] * (len(sort_by) - 1)
    return frame.sort_values(sort_by, ascending=order, na_position="last", kind="stable").reset_index(drop=True)


def reported_numbers(record: dict[str, Any]) -> dict[str, float]:
    """The finite numbers the model's source published (``ModelSpec.reported`` in the record), e.g.
    RobustBench's clean and AutoAttack accuracy, by column name."""
    info = record.get("model_info")
    reported = info.get("reported") if isinstance(info, dict) else None
    if not isinstance(reported, dict):  # records from other tools may lack or mangle the field
        return {}
    return {k: float(v) for k, v in reported.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


# Shown by `benchbed run`, which must fit a terminal; `benchbed results` shows every column.
HEADLINE = ("energy_gap_untargeted", "energy_w1_untargeted")
HEADLINE_SUFFIXES = ("fid", "is", "kid")


def headline_frame(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The leading columns, the headline energy columns and the generative scores; and how many
    columns were left out."""
    keep = [c for c in frame.columns
            if c in LEADING or c in HEADLINE or c.rsplit("_", 1)[-1] in HEADLINE_SUFFIXES]
    return frame[keep], len(frame.columns) - len(keep)


def column_meta(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    meta: dict[str, dict[str, Any]] = {}
    for rec in records:
        for name, col in rec.get("columns", {}).items():
            meta.setdefault(name, col)
    return meta


def format_frame(frame: pd.DataFrame, fmt: str) -> str:
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        # json.dumps, not DataFrame.to_json: pandas rounds floats to 10 decimals, and stored numbers
        # must come out to the last digit; a missing value is null.
        rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        return json.dumps(rows, indent=2) + "\n"
    if frame.empty:
        return "(no results)\n"
    return frame.to_string(index=False, float_format=lambda v: f"{v:.2f}") + "\n"
