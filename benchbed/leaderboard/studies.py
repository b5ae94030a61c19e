"""View models of studies (per-attack energies, eps curves, training dynamics, generation sweeps, ...).

Every study renders as a titled table of its rows (columns described by the study itself). A study
kind may add figures: register ``FIGURES[kind] = function(study, arrays) -> {name: plot geometry}``
and a template ``templates/studies/<kind>.html.j2`` that draws them (it receives ``s``, this view).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from benchbed.leaderboard.safety import fmt_number, sort_key
from benchbed.leaderboard.study_figures import STUDY_FIGURES, STUDY_TITLES
from benchbed.results.record import StudyResult

# study kind -> builder of its figures (plot geometry from benchbed.leaderboard.plots)
FIGURES: dict[str, Callable[[StudyResult, Mapping[str, Any]], dict[str, Any]]] = {}
TITLES: dict[str, str] = {}
FIGURES.update(STUDY_FIGURES)  # the energy studies (benchbed study attacks|eps, benchbed dynamics)
TITLES.update(STUDY_TITLES)


def study_view(study: StudyResult, arrays: Mapping[str, Any]) -> dict[str, Any]:
    from benchbed.leaderboard.views import ColumnView

    columns = [ColumnView(name, info) for name, info in sorted(study.columns.items(), key=lambda kv: kv[1].order)]
    rows = []
    for row in study.rows:
        cells = []
        for c in columns:
            value = row.get(c.name)
            if isinstance(value, int) and not isinstance(value, bool):  # counts, steps: as integers
                cells.append({"display": str(value), "sort": sort_key(float(value))})
            elif isinstance(value, float):
                cells.append({"display": fmt_number(float(value), c.unit), "sort": sort_key(float(value))})
            else:
                cells.append({"display": "–" if value is None else str(value), "sort": str(value or "")})
        rows.append(cells)
    figures = FIGURES[study.kind](study, arrays) if study.kind in FIGURES else {}
    return {
        "kind": study.kind, "title": TITLES.get(study.kind, study.kind), "anchor": f"study-{study.kind}",
        "params": sorted((str(k), str(v)) for k, v in study.params.items()),
        "summary": sorted((str(k), fmt_number(v) if isinstance(v, (int, float)) and not isinstance(v, bool)
                           else str(v)) for k, v in study.summary.items()),
        "columns": columns, "rows": rows, "figures": figures, "template": f"studies/{study.kind}.html.j2",
        "finished_at": study.finished_at, "device": study.device,
    }


def _generation_figures(study: StudyResult, arrays: Mapping[str, Any]) -> dict[str, Any]:
    """Curves of the generation study: one line per (sampler, seed kind), x = sampler steps."""
    from benchbed.leaderboard.plots import lines

    prefix = str(study.track_info.get("generation", {}).get("column_prefix", "")) \
        if isinstance(study.track_info.get("generation"), dict) else ""
    cells = list(dict.fromkeys((r.get("sampler"), r.get("seed_kind")) for r in study.rows))
    legend = [{"label": f"{s} from {k} seeds", "color": i} for i, (s, k) in enumerate(cells)]

    def series(column: str) -> list[dict[str, Any]]:
        return [{"label": legend[i]["label"], "color": i,
                 "points": [(r.get("steps"), r.get(column)) for r in study.rows
                            if (r.get("sampler"), r.get("seed_kind")) == cell
                            and isinstance(r.get(column), (int, float))]}
                for i, cell in enumerate(cells)]

    label = prefix.rstrip("_") + "-" if prefix else ""
    x = "sampler steps per sample (steps)"
    panels = [
        (f"{label}FID (lower is better)", f"{prefix}fid", f"{label}FID (no unit)"),
        (f"{label}IS (higher is better)", f"{prefix}is", f"{label}IS (no unit)"),
        ("Mean joint energy of the samples", "mean_joint_energy", "E(x, y) = -f(x)[y] (energy)"),
    ]
    if any(f"{prefix}class_acc" in r for r in study.rows):
        panels.append(("Independent-classifier accuracy", f"{prefix}class_acc", "accuracy (%)"))
    return {"legend": legend,
            "panels": [{"title": t, "plot": lines(series(col), x_label=x, y_label=y)} for t, col, y in panels]}


FIGURES["generation"] = _generation_figures
TITLES["generation"] = "generation: sample quality and energy against sampler steps"
