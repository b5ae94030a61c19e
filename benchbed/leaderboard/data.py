"""Result records -> the plain data the page templates show (tracks, rows, columns, plots).

Everything here is deterministic: records are visited in sorted order, ties are broken by model
name, and numbers are formatted by :func:`benchbed.leaderboard.safety.fmt_number`. Record fields
are read defensively -- a record written by an older tool, or by a metric plugin that skipped a
column, must still render (a missing value is a dash, never 0).
"""
from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..store import ResultsStore, slug
from ..tables import reported_numbers
from . import plots
from .safety import fmt_number, integer, number, safe_url, sort_key, text

ACCURACY_COLUMNS = ("clean_accuracy", "robust_accuracy")
BUILTIN_COLUMNS = {
    "clean_accuracy": {"metric": "clean_accuracy", "description": "percent of test points classified correctly",
                       "higher_is_better": True, "unit": "%"},
    "robust_accuracy": {"metric": "robust_accuracy", "description": "percent of test points still classified "
                        "correctly under the track's attack at its norm and eps", "higher_is_better": True,
                        "unit": "%"},
}
NORM_LABELS = {"Linf": "ℓ∞", "L2": "ℓ2", "L1": "ℓ1"}
NATURAL_ENERGY_KEYS = ("energy_nat", "energy_natural", "energy_clean")
ADV_ENERGY_PREFIX = "energy_adv"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Where a track's sample grid may lie, next to the record (<track>/<model-slug><suffix>).
GRID_SUFFIXES = (".samples.png", ".grid.png", "_samples.png", "-samples.png", ".png")
MAX_GRID_BYTES = 8 << 20
GRID_ARRAYS = ("generative_grid_png", "samples_grid_png", "grid_png")


def track_page(track: str) -> str:
    return f"track-{slug(track)}.html"


def model_page(model: str) -> str:
    return f"model-{slug(model)}.html"


def direction_label(higher: Any) -> str:
    if higher is True:
        return "higher is better"
    if higher is False:
        return "lower is better"
    return "no direction (informational)"


def direction_arrow(higher: Any) -> str:
    return "↑" if higher is True else ("↓" if higher is False else "")


def norm_label(norm: Any) -> str:
    return NORM_LABELS.get(text(norm), text(norm))


def eps_label(info: dict[str, Any], record: dict[str, Any] | None = None) -> str:
    label = text(info.get("eps_label"))
    if label:
        return label
    eps = number(info.get("eps"))
    if eps is None and record is not None:
        eps = number(record.get("eps"))
    return "–" if eps is None else f"{eps:.4g}"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# -- columns ----------------------------------------------------------------------------------------

@dataclass
class ColumnView:
    name: str
    metric: str
    description: str
    higher_is_better: bool | None
    unit: str
    group: int = 0  # index into the track's column groups (for the show/hide toggles)
    group_label: str = ""

    @property
    def arrow(self) -> str:
        return direction_arrow(self.higher_is_better)

    @property
    def direction(self) -> str:
        return direction_label(self.higher_is_better)

    @property
    def tooltip(self) -> str:
        unit = f"unit: {self.unit}" if self.unit else "no unit"
        desc = self.description or "(no description given by the metric)"
        return f"{self.name}: {desc} ({unit}; {self.direction}; metric: {self.metric or 'unknown'})"

    @property
    def name_parts(self) -> list[str]:
        return self.name.split("_")

    @property
    def first_sort(self) -> str:
        return "ascending" if self.higher_is_better is False else "descending"


def track_columns(records: list[dict[str, Any]]) -> list[ColumnView]:
    """Every metric column any of a track's records has: accuracy first, then by metric, then by name."""
    meta: dict[str, dict[str, Any]] = {}
    present: set[str] = set()
    metric_order: list[str] = []
    for rec in records:
        for name, col in sorted(_dict(rec.get("columns")).items()):
            if isinstance(col, dict):
                meta.setdefault(str(name), col)
        present.update(str(k) for k in _dict(rec.get("metrics")))
        for m in _list(_dict(rec.get("track_info")).get("metrics")):
            if isinstance(m, str) and m not in metric_order:
                metric_order.append(m)
    names = set(present) | set(ACCURACY_COLUMNS)
    cols = []
    for name in names:
        col = {**BUILTIN_COLUMNS.get(name, {}), **meta.get(name, {})}
        higher = col.get("higher_is_better")
        cols.append(ColumnView(
            name=name, metric=text(col.get("metric")), description=text(col.get("description")),
            higher_is_better=higher if isinstance(higher, bool) else None, unit=text(col.get("unit")),
        ))

    def key(c: ColumnView):
        if c.name in ACCURACY_COLUMNS:
            return (0, ACCURACY_COLUMNS.index(c.name), "", c.name)
        if c.metric == "reported":  # published numbers right after benchbed's own accuracies
            return (0, len(ACCURACY_COLUMNS), "", c.name)
        pos = metric_order.index(c.metric) if c.metric in metric_order else len(metric_order)
        return (1, pos, c.metric, c.name)

    cols.sort(key=key)
    groups: list[str] = []
    for c in cols:
        g = "accuracy" if c.name in ACCURACY_COLUMNS else (c.metric or "other")
        if g not in groups:
            groups.append(g)
        c.group = groups.index(g) + 1  # group 0: model information
        c.group_label = g
    return cols


def column_groups(columns: list[ColumnView]) -> list[dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for c in columns:
        out.setdefault(c.group, {"id": c.group, "label": c.group_label, "n": 0})["n"] += 1
    return [out[k] for k in sorted(out)]


# -- rows -------------------------------------------------------------------------------------------

@dataclass
class Cell:
    value: float | None
    display: str
    sort: str
    best: bool = False


@dataclass
class Flag:
    label: str
    detail: str
    kind: str  # "warn" | "quick"


def flag_label(warning: str) -> str:
    w = warning.lower()
    if "random" in w or "stochastic" in w:
        return "randomness"
    if "mask" in w or "obfusc" in w or "gradient" in w:
        return "gradient masking"
    if "dlr" in w or "classes" in w:
        return "DLR / few classes"
    return "warning"


def record_flags(rec: dict[str, Any]) -> list[Flag]:
    flags = []
    seen = set()
    warnings = _list(rec.get("flags")) + _list(_dict(rec.get("attack")).get("warnings"))
    for w in warnings:
        w = text(w)
        if w and w not in seen:
            seen.add(w)
            flags.append(Flag(flag_label(w), w, "warn"))
    if rec.get("quick") is True:
        n = integer(rec.get("n_examples"))
        full = integer(_dict(rec.get("track_info")).get("registered_n_examples"))
        detail = (f"quick mode: evaluated on {n if n is not None else 'fewer'} test points"
                  + (f" of {full}" if full else "") + ", not the track's full set; not directly comparable")
        flags.append(Flag("quick", detail, "quick"))
    return flags


@dataclass
class Row:
    model: str
    page: str
    rank: int | None
    paper: str
    paper_url: str | None
    venue: str
    architecture: str
    recipe: str
    extra_data: str
    footnote: str
    cells: dict[str, Cell]
    n_examples: int | None
    flags: list[Flag]
    record: dict[str, Any]
    search: str = ""

    @property
    def rank_display(self) -> str:
        return "–" if self.rank is None else str(self.rank)

    @property
    def rank_sort(self) -> str:
        return "" if self.rank is None else str(self.rank)


def model_info(rec: dict[str, Any]) -> dict[str, Any]:
    return _dict(rec.get("model_info"))


def extra_data_label(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return text(value) or "–"


def make_row(rec: dict[str, Any], columns: list[ColumnView]) -> Row:
    info = model_info(rec)
    metrics = _dict(rec.get("metrics"))
    cells = {}
    for c in columns:
        v = number(metrics.get(c.name))
        cells[c.name] = Cell(v, fmt_number(v, c.unit), sort_key(v))
    name = text(rec.get("model"))
    row = Row(
        model=name, page=model_page(name), rank=None, paper=text(info.get("paper")),
        paper_url=safe_url(info.get("link")), venue=text(info.get("venue")),
        architecture=text(info.get("architecture")), recipe=text(info.get("recipe")),
        extra_data=extra_data_label(info.get("extra_data")), footnote=text(info.get("footnote")),
        cells=cells, n_examples=integer(rec.get("n_examples")), flags=record_flags(rec), record=rec,
    )
    row.search = " ".join([row.model, row.paper, row.venue, row.architecture, row.recipe,
                           row.footnote]).lower()
    return row


def _desc(v: float | None) -> tuple[int, float]:
    return (1, 0.0) if v is None else (0, -v)


def rank_rows(rows: list[Row]) -> list[Row]:
    """Default order: robust accuracy desc, then clean accuracy desc, then model name; competition ranks."""
    rows = sorted(rows, key=lambda r: (_desc(r.cells["robust_accuracy"].value),
                                       _desc(r.cells["clean_accuracy"].value), r.model))
    prev, rank = None, 0
    for i, r in enumerate(rows, start=1):
        v = r.cells["robust_accuracy"].value
        if v is None:
            r.rank = None
            continue
        if v != prev:
            rank, prev = i, v
        r.rank = rank
    return rows


def best_per_column(rows: list[Row], columns: list[ColumnView]) -> dict[str, dict[str, Any]]:
    """For each column with a direction: the best value and the models (in table order) that reach it."""
    best: dict[str, dict[str, Any]] = {}
    for c in columns:
        if c.higher_is_better is None:
            continue
        vals = [r.cells[c.name].value for r in rows if r.cells[c.name].value is not None
                and math.isfinite(r.cells[c.name].value)]
        if not vals:
            continue
        target = max(vals) if c.higher_is_better else min(vals)
        winners = [r for r in rows if r.cells[c.name].value == target]
        for r in winners:
            r.cells[c.name].best = True
        best[c.name] = {"column": c, "value": fmt_number(target, c.unit),
                        "models": [(w.model, w.page) for w in winners]}
    return best


# -- tracks -----------------------------------------------------------------------------------------

def fid_like_column(columns: list[ColumnView]) -> ColumnView | None:
    """The track's generative column to plot against robust accuracy: FID if it has one."""
    for c in columns:
        if "fid" in c.name.lower().split("_"):
            return c
    for c in columns:
        if "fid" in c.name.lower():
            return c
    for c in columns:
        if c.name not in ACCURACY_COLUMNS and c.higher_is_better is not None and any(
                k in (c.metric or "").lower() for k in ("gen", "fid", "kid", "inception")):
            return c
    return None


def newest_date(records: list[dict[str, Any]]) -> str:
    stamps = sorted(text(r.get("finished_at")) for r in records if text(r.get("finished_at")))
    return stamps[-1][:10] if stamps else "–"


def track_meta(name: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Track settings from its records: the record with the most test points speaks for the track."""
    full = max(records, key=lambda r: (integer(r.get("n_examples")) or 0, text(r.get("model"))))
    info = _dict(full.get("track_info"))
    generation = _dict(info.get("generation"))
    attack = _dict(full.get("attack"))
    versions = sorted({text(_dict(r.get("attack")).get("version")) for r in records} - {""})
    return {
        "name": name, "page": track_page(name), "slug": slug(name),
        "dataset": text(full.get("dataset") or info.get("dataset")) or "–",
        "norm": text(full.get("norm") or info.get("norm")) or "–",
        "norm_label": norm_label(full.get("norm") or info.get("norm")) or "–",
        "eps": eps_label(info, full), "description": text(info.get("description")),
        "n_examples": integer(full.get("n_examples")),
        "attack": text(attack.get("name") or info.get("attack")) or "–",
        "attack_versions": ", ".join(versions) or "–",
        "seed": text(full.get("seed") if full.get("seed") is not None else info.get("seed")) or "–",
        "generation": [(text(k), text(v)) for k, v in sorted(generation.items())],
        "newest": newest_date(records),
    }


@dataclass
class TrackView:
    name: str
    meta: dict[str, Any]
    records: list[dict[str, Any]]
    columns: list[ColumnView]
    groups: list[dict[str, Any]]
    rows: list[Row]
    best: dict[str, dict[str, Any]]
    recipes: list[str]
    scatter: dict[str, Any] | None = None
    scatter_missing: int = 0
    scatter_x: ColumnView | None = None
    histograms: list[dict[str, Any]] = field(default_factory=list)
    recipe_colors: dict[str, int] = field(default_factory=dict)

    @property
    def page(self) -> str:
        return self.meta["page"]

    @property
    def slug(self) -> str:
        return self.meta["slug"]


REPORTED = (
    ("clean_accuracy", "reported_clean_accuracy"),
    ("robust_accuracy", "reported_robust_accuracy"),
)


def with_reported(record: dict[str, Any]) -> dict[str, Any]:
    """The record plus columns for the numbers the model's source published (``ModelSpec.reported``,
    e.g. RobustBench's leaderboard), shown beside benchbed's own; the record itself is not changed."""
    reported = reported_numbers(record)
    extra = {col: reported[key] for key, col in REPORTED if key in reported}
    if not extra:
        return record
    columns = dict(_dict(record.get("columns")))
    for key, col in REPORTED:
        if col in extra:
            columns[col] = {"metric": "reported", "unit": "%", "higher_is_better": True,
                            "description": f"{key.replace('_', ' ')} published by the model's source (e.g. "
                                           f"RobustBench's own AutoAttack evaluation on the full test set); "
                                           f"not computed by benchbed"}
    return {**record, "metrics": {**_dict(record.get("metrics")), **extra}, "columns": columns}


def build_track(name: str, records: list[dict[str, Any]], store: ResultsStore) -> TrackView:
    shown = [with_reported(r) for r in records]
    columns = track_columns(shown)
    rows = rank_rows([make_row(r, columns) for r in shown])
    best = best_per_column(rows, columns)
    recipes = sorted({r.recipe for r in rows if r.recipe})
    colors = {rec: i % plots.N_COLORS for i, rec in enumerate(recipes)}
    view = TrackView(name=name, meta=track_meta(name, records), records=records, columns=columns,
                     groups=column_groups(columns), rows=rows, best=best, recipes=recipes, recipe_colors=colors)
    by_name = {c.name: c for c in columns}
    xcol = fid_like_column(columns) or by_name["clean_accuracy"]
    ycol = by_name["robust_accuracy"]
    points = []
    for r in rows:
        x, y = r.cells[xcol.name].value, r.cells[ycol.name].value
        points.append({
            "x": x, "y": y, "label": r.model, "href": r.page, "color": colors.get(r.recipe, 0),
            "title": f"{r.model} ({r.recipe or 'recipe unknown'}): {ycol.name} {r.cells[ycol.name].display}"
                     f"{ycol.unit and ' ' + ycol.unit}, {xcol.name} {r.cells[xcol.name].display}"
                     f"{xcol.unit and ' ' + xcol.unit}",
        })
    view.scatter_x = xcol
    view.scatter = plots.scatter(points, x_label=axis_label(xcol), y_label=axis_label(ycol),
                                 label_points=len(rows) <= 12)
    view.scatter_missing = sum(1 for p in points if p["x"] is None or p["y"] is None
                               or not (math.isfinite(p["x"]) and math.isfinite(p["y"])))
    for r in rows:
        hist = energy_histogram(store.arrays(name, r.model), small=True)
        if hist is not None:
            view.histograms.append({"model": r.model, "page": r.page, "plot": hist})
    return view


def axis_label(c: ColumnView) -> str:
    unit = f" ({c.unit})" if c.unit else ""
    arrow = f", {c.arrow} {c.direction}" if c.higher_is_better is not None else ""
    return f"{c.name}{unit}{arrow}"


# -- energies ---------------------------------------------------------------------------------------

def energy_series(arrays: dict[str, Any]) -> tuple[Any, list[tuple[str, Any]]]:
    natural = next((arrays[k] for k in NATURAL_ENERGY_KEYS if k in arrays), None)
    rank = {"untargeted": 0, "targeted": 1}
    adversarial = sorted(((k, v) for k, v in arrays.items() if k.startswith(ADV_ENERGY_PREFIX)),
                         key=lambda kv: (rank.get(_adv_kind(kv[0]), 2), kv[0]))
    return natural, adversarial


def _adv_kind(key: str) -> str:
    rest = key[len(ADV_ENERGY_PREFIX):].strip("_")
    return rest or "adversarial"


def _kind_class(kind: str) -> str:
    return {"untargeted": "adv-u", "targeted": "adv-t", "adversarial": "adv-u"}.get(kind, "adv-o")


def energy_histogram(arrays: dict[str, Any], *, small: bool) -> dict[str, Any] | None:
    natural, adversarial = energy_series(arrays)
    series = []
    if natural is not None:
        series.append({"values": natural, "label": "natural", "kind": "nat"})
    for key, values in adversarial:
        kind = _adv_kind(key)
        series.append({"values": values, "label": f"{kind} adv." if kind != "adversarial" else "adversarial",
                       "kind": _kind_class(kind)})
    if not series:
        return None
    size = {"width": 300, "height": 160} if small else {"width": 620, "height": 260, "bins": 40}
    return plots.histogram(series, x_label="marginal energy E(x) = −logsumexp f(x)", **size)


def delta_histogram(arrays: dict[str, Any]) -> dict[str, Any] | None:
    """ΔE(x) = E(x) − E(x*) per attack kind, where natural and adversarial energies align point by point."""
    natural, adversarial = energy_series(arrays)
    if natural is None:
        return None
    try:
        nat = np.asarray(natural, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        return None
    series = []
    for key, values in adversarial:
        try:
            adv = np.asarray(values, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            continue
        if adv.shape == nat.shape:
            kind = _adv_kind(key)
            series.append({"values": nat - adv, "label": f"ΔE, {kind}", "kind": _kind_class(kind)})
    if not series:
        return None
    return plots.histogram(series, x_label="ΔE(x) = E(x) − E(x*)  (0 = aligned)", width=620, height=220,
                           bins=40, zero_line=True)


# -- sample grids -----------------------------------------------------------------------------------

def _png_names_in(info: Any) -> list[str]:
    out: list[str] = []
    if isinstance(info, dict):
        for k in sorted(info, key=str):
            out += _png_names_in(info[k])
    elif isinstance(info, list):
        for v in info:
            out += _png_names_in(v)
    elif isinstance(info, str) and info.lower().endswith(".png"):
        out.append(info)
    return out


def _png_from_array(value: Any) -> bytes | None:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        return None
    if arr.dtype != np.uint8 or arr.ndim != 1 or arr.size > MAX_GRID_BYTES:
        return None
    data = arr.tobytes()
    return data if data.startswith(PNG_MAGIC) else None


def sample_grid(store: ResultsStore, rec: dict[str, Any], arrays: dict[str, Any] | None = None) -> str | None:
    """The track's grid of generated samples for this model as a ``data:image/png`` URI, if one was saved.

    Looked for in the record's arrays (``generative_grid_png``: the PNG's bytes as uint8, as the
    generative metrics keep it), then as a PNG file next to the record.
    """
    for key in GRID_ARRAYS:
        if arrays and key in arrays:
            data = _png_from_array(arrays[key])
            if data is not None:
                return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    track, model = text(rec.get("track")), text(rec.get("model"))
    folder = store.root / slug(track)
    candidates = [store.record_path(track, model, suffix) for suffix in GRID_SUFFIXES]
    # a metric may name its file in the record; only a bare file name in the track's folder is accepted
    candidates += [folder / Path(name.replace("\\", "/")).name for name in _png_names_in(rec.get("metric_info"))]
    for path in candidates:
        try:
            if not path.is_file() or path.stat().st_size > MAX_GRID_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if data.startswith(PNG_MAGIC):
            return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return None


# -- downloads --------------------------------------------------------------------------------------

def track_frame(view: TrackView) -> pd.DataFrame:
    """The track table as pandas (for the CSV download): one row per model, in the page's default order."""
    names = [c.name for c in view.columns]
    rows = []
    for r in view.rows:
        row: dict[str, Any] = {
            "rank": r.rank, "model": r.model, "paper": r.paper, "link": r.paper_url or "",
            "venue": r.venue, "architecture": r.architecture, "recipe": r.recipe, "extra_data": r.extra_data,
        }
        for n in names:
            row[n] = r.cells[n].value
        row["n_examples"] = r.n_examples
        row["quick"] = bool(r.record.get("quick") is True)
        row["flags"] = "; ".join(f.detail for f in r.flags if f.kind == "warn")
        row["finished_at"] = text(r.record.get("finished_at"))
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["rank"] = frame["rank"].astype("Int64")
    frame["n_examples"] = frame["n_examples"].astype("Int64")
    return frame


def track_json(view: TrackView) -> dict[str, Any]:
    def clean(v):
        return None if isinstance(v, float) and not math.isfinite(v) else v

    frame = track_frame(view)
    rows = []
    for rec in frame.to_dict(orient="records"):
        rows.append({k: (None if v is pd.NA else clean(v)) for k, v in rec.items()})
    return {
        "track": view.name,
        "dataset": view.meta["dataset"], "norm": view.meta["norm"], "eps": view.meta["eps"],
        "columns": {c.name: {"metric": c.metric, "description": c.description,
                             "higher_is_better": c.higher_is_better, "unit": c.unit} for c in view.columns},
        "rows": rows,
    }
