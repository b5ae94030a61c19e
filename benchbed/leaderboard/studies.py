"""View models of studies (``benchbed study NAME``): a titled table of the study's rows (columns described
by the study itself), and the figures its :class:`benchbed.plugin.StudySpec` declares from the stored result.
A study whose plugin is not installed at render time still shows its table."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchbed.contracts.figures import Figure
from benchbed.leaderboard import plots
from benchbed.leaderboard.presentation import Presentation
from benchbed.leaderboard.safety import fmt_number, sort_key
from benchbed.results.record import StudyResult

HISTOGRAM_SIZE = {True: (300, 180), False: (620, 270)}  # small, large
LINE_SIZE = (420, 240)


def geometry(figure: Figure) -> dict[str, Any] | None:
    """A declared study figure as plot geometry (None when it has nothing finite to draw)."""
    if figure.kind == "histogram":
        width, height = HISTOGRAM_SIZE[figure.small]
        return plots.histogram([{"values": s.values, "label": s.label, "kind": s.style} for s in figure.series],
                               x_label=figure.x_label, y_label=figure.y_label, x_range=figure.x_range,
                               zero_line=figure.zero_line, width=figure.width or width, height=height)
    width, height = LINE_SIZE
    return plots.lines([{"x": list(s.x), "y": list(s.y), "label": s.label, "kind": s.style, "dashed": s.dashed}
                        for s in figure.series], x_label=figure.x_label, y_label=figure.y_label,
                       width=figure.width or width, height=height, y_clamp=figure.y_clamp,
                       zero_line=figure.zero_line, x_ticks=figure.x_ticks)


def figure_groups(spec: Any, study: StudyResult, arrays: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The study's declared figures, drawn, in groups (one heading and one row each)."""
    if spec is None or spec.figures is None:
        return []
    groups: dict[str, list[dict[str, Any]]] = {}
    for figure in spec.figures(study, arrays):
        plot = geometry(figure)
        if plot is not None:
            groups.setdefault(figure.group, []).append({
                "kind": figure.kind, "plot": plot, "title": figure.title, "caption": figure.caption,
                "small": figure.small, "label": f"{figure.title}: {figure.y_label} against {figure.x_label}"})
    return [{"title": title, "figures": figs} for title, figs in groups.items()]


def _cell(value: Any, unit: str) -> dict[str, str]:
    if isinstance(value, int) and not isinstance(value, bool):  # counts, steps: as integers
        return {"display": str(value), "sort": sort_key(float(value))}
    if isinstance(value, float):
        return {"display": fmt_number(value, unit), "sort": sort_key(value)}
    return {"display": "–" if value is None else str(value), "sort": str(value or "")}


def study_view(study: StudyResult, arrays: Mapping[str, Any], presentation: Presentation | None = None,
               ) -> dict[str, Any]:
    from benchbed.leaderboard.views import ColumnView

    presentation = presentation or Presentation()
    spec = presentation.study(study.kind)
    columns = [ColumnView(name, info) for name, info in sorted(study.columns.items(), key=lambda kv: kv[1].order)]
    rows = [[_cell(row.get(c.name), c.unit) for c in columns] for row in study.rows]
    return {
        "kind": study.kind, "title": spec.title if spec is not None else study.kind,
        "anchor": f"study-{study.kind}", "note": spec.note if spec is not None else "",
        "params": sorted((str(k), str(v)) for k, v in study.params.items()),
        "summary": sorted((str(k), fmt_number(v) if isinstance(v, (int, float)) and not isinstance(v, bool)
                           else str(v)) for k, v in study.summary.items()),
        "columns": columns, "rows": rows, "groups": figure_groups(spec, study, arrays),
        "finished_at": study.finished_at, "device": study.device,
    }
