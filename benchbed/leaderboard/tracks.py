"""The track page's data: its columns, ranked rows, scatter plot, per-model panels and flag legend."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchbed.contracts.specs import eps_text
from benchbed.leaderboard import alignment, figures, plots, uncertainty
from benchbed.leaderboard.flags import flag_legend
from benchbed.leaderboard.presentation import Presentation
from benchbed.leaderboard.views import (
    NORM_LABELS,
    ColumnView,
    Row,
    best_per_column,
    column_groups,
    make_row,
    page_base,
    rank_rows,
    track_columns,
    track_page,
)
from benchbed.results.record import Record
from benchbed.results.store import file_stem


def track_meta(name: str, records: Sequence[Record]) -> dict[str, Any]:
    """Track settings: the record with the most test points speaks for the track."""
    full = max(records, key=lambda r: (r.n_examples, r.model))
    info = full.track_info
    generation = info.get("generation") if isinstance(info.get("generation"), dict) else {}
    versions = sorted({r.attack.version for r in records if r.attack})
    newest = sorted(r.finished_at for r in records if r.finished_at)
    return {
        "name": name, "page": track_page(name), "slug": file_stem(name), "download": page_base("tracks", name),
        "dataset": full.dataset,
        "norm": full.norm, "norm_label": NORM_LABELS.get(full.norm, full.norm),
        "eps": eps_text(full.eps, str(info.get("eps_label") or "")),
        "description": str(info.get("description") or ""), "n_examples": full.registered_n_examples,
        "attack": full.attack.name if full.attack else str(info.get("attack") or "–"),
        "attack_versions": ", ".join(versions) or "–", "seed": str(full.seed),
        "generation": [(str(k), str(v)) for k, v in sorted(generation.items())],
        "newest": newest[-1][:10] if newest else "–",
    }


@dataclass
class TrackView:
    name: str
    meta: dict[str, Any]
    records: list[Record]
    columns: list[ColumnView]
    groups: list[dict[str, Any]]
    rows: list[Row]
    best: dict[str, dict[str, Any]]
    recipes: list[str]
    recipe_colors: dict[str, int]
    scatter: dict[str, Any] | None = None
    scatter_missing: int = 0
    scatter_x: ColumnView | None = None
    scatter_y: ColumnView | None = None
    # per declared array plot (metric, plot name): one x-range shared by every model of the track
    ranges: dict[tuple[str, str], tuple[float, float] | None] = field(default_factory=dict)
    panels: list[dict[str, Any]] = field(default_factory=list)  # the track_panel plots, one small panel per model
    flags: list[dict[str, Any]] = field(default_factory=list)  # the flag legend (see flag_legend)
    # across the zoo: robust accuracy vs each energy-alignment column (benchbed.leaderboard.alignment)
    alignment: list[dict[str, Any]] = field(default_factory=list)
    alignment_x: ColumnView | None = None
    alignment_y: ColumnView | None = None
    alignment_scatter: dict[str, Any] | None = None
    alignment_rho: dict[str, Any] | None = None

    @property
    def rank_columns(self) -> list[ColumnView]:
        """The rank keys, first key first."""
        return sorted((c for c in self.columns if c.info.rank), key=lambda c: c.info.rank)

    @property
    def robustness_best(self) -> dict[str, Any] | None:
        """The best value of the track's robustness axis (the column declared ``plot="y"``), if any."""
        column = _axis(self.columns, "y")
        return self.best.get(column.name) if column is not None else None

    @property
    def n_quick(self) -> int:
        return sum(1 for r in self.rows if r.quick)

    @property
    def n_partial(self) -> int:
        return sum(1 for r in self.rows if r.partial)

    @property
    def n_ranked(self) -> int:
        return sum(1 for r in self.rows if r.rank is not None)

    @property
    def page(self) -> str:
        return self.meta["page"]

    @property
    def slug(self) -> str:
        return self.meta["slug"]


def _axis(columns: Sequence[ColumnView], axis: str) -> ColumnView | None:
    return next((c for c in columns if c.info.plot == axis), None)


def build_track(name: str, records: Sequence[Record], arrays: Mapping[str, Mapping[str, Any]],
                presentation: Presentation | None = None, resolve: Any = None) -> TrackView:
    """The track page's data. ``records``: one per model (see :func:`benchbed.results.tables.shown_records`);
    ``arrays``: each model's per-point arrays, by model name; ``presentation``: what the plugins declare;
    ``resolve``: finds a column's reduction for the paired tests (:func:`benchbed.results.paired.registry_resolver`;
    default: plain reductions only)."""
    presentation = presentation or Presentation()
    records = list(records)
    columns = track_columns(records, presentation)
    rows = rank_rows([make_row(r, columns, presentation) for r in records], columns)
    best = best_per_column(rows, columns)
    recipes = sorted({r.recipe for r in rows if r.recipe})
    colors = {rec: i % plots.N_COLORS for i, rec in enumerate(recipes)}
    view = TrackView(name, track_meta(name, records), records, columns, column_groups(columns), rows, best, recipes,
                     colors)
    ycol, xcol = _axis(columns, "y"), _axis(columns, "x")
    if ycol is not None and xcol is not None:
        points = []
        for r in rows:
            x, y = r.cells[xcol.name].value, r.cells[ycol.name].value
            points.append({
                "x": x, "y": y, "label": r.model, "href": r.page, "color": colors.get(r.recipe, 0),
                "title": f"{r.model} ({r.recipe or 'recipe unknown'}): {ycol.name} {r.cells[ycol.name].display}"
                         f"{ycol.unit and ' ' + ycol.unit}, {xcol.name} {r.cells[xcol.name].display}"
                         f"{xcol.unit and ' ' + xcol.unit}",
            })
        view.scatter_x, view.scatter_y = xcol, ycol
        view.scatter = plots.scatter(points, x_label=xcol.axis_label, y_label=ycol.axis_label,
                                     label_points=len(rows) <= 12)
        view.scatter_missing = sum(1 for p in points if p["x"] is None or p["y"] is None)
    _array_panels(view, arrays, presentation)
    view.flags = flag_legend(rows)
    uncertainty.annotate(view, arrays, resolve)
    alignment.build(view, presentation)
    return view


def _array_panels(view: TrackView, arrays: Mapping[str, Mapping[str, Any]], presentation: Presentation) -> None:
    """Shared x-ranges of the metrics' declared array plots, and one small panel per model for those that
    ask for it (``ArrayPlot.track_panel``)."""
    for metric, plot in presentation.array_plots(presentation.metrics):  # drawn wherever the arrays are
        key = (metric, plot.name)
        if plot.shared_range:
            view.ranges[key] = figures.union_range(figures.data_range(arrays.get(r.model, {}), plot) for r in view.rows)
        if not (plot.track_panel and plot.kind == "histogram"):
            continue
        items = []
        for r in view.rows:
            drawn = figures.draw(arrays.get(r.model, {}), plot, small=True, x_range=view.ranges.get(key))
            if drawn is not None:
                items.append({"model": r.model, "page": r.page, "plot": drawn, "row": r})
        if items:
            view.panels.append({"title": plot.section or plot.title, "explain": plot.track_explain,
                                "range": view.ranges.get(key), "unit": plot.unit, "items": items})
