"""The track page's "across the zoo" section: robust accuracy against energy alignment (issue 13, item 8).

Alignment columns are the lower-is-better columns of the metrics that declare ``MetricSpec.alignment``
(e.g. the spread of the natural-vs-adversarial energy gap); the headline one is the first of them the
metric marks headline. For
each, Spearman's rho (with n) between the track's robust-accuracy column (the scatter plot's y axis)
and the column, over the models with both, with its p-value (exact permutation test for n <= 8) and
a 95 % Fisher-z interval; and a scatter of robust accuracy against the headline one. A negative rho
says: the more robust the model, the better its natural and adversarial energies align -- a claim the
page makes only where the interval excludes 0 ("supported").
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from benchbed.functional.correlation import spearman_test
from benchbed.leaderboard import plots
from benchbed.leaderboard.presentation import Presentation


def alignment_columns(columns: Sequence[Any], presentation: Presentation) -> list[Any]:
    return [c for c in columns if presentation.is_alignment(c.metric) and c.higher_is_better is False]


def correlations(rows: Sequence[Any], robust: Any, columns: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    ys = [r.cells[robust.name].value for r in rows]
    for c in columns:
        test = spearman_test([r.cells[c.name].value for r in rows], ys)
        rho, n = test.rho, test.n
        out.append({"column": c, "rho": rho, "n": n, "display": "–" if math.isnan(rho) else f"{rho:+.2f}",
                    "p": "–" if math.isnan(test.p_value) else f"{test.p_value:.3f}",
                    "interval": "–" if math.isnan(test.low) else f"[{test.low:+.2f}, {test.high:+.2f}]",
                    "supported": test.supported, "p_method": test.p_method, "protocol": c.info.protocol})
    return out


def build(view: Any, presentation: Presentation | None = None) -> None:
    """Fill ``view.alignment`` (correlations), ``view.alignment_x`` and ``view.alignment_scatter``; the
    robustness axis is the track's scatter plot's y column (``Column.plot="y"``)."""
    robust = view.scatter_y
    columns = alignment_columns(view.columns, presentation or Presentation())
    if robust is None or not columns:
        return
    view.alignment_y = robust
    view.alignment = correlations(view.rows, robust, columns)
    headline = next((c for c in columns if c.info.headline), columns[0])
    view.alignment_x = headline
    points = [{"x": r.cells[headline.name].value, "y": r.cells[robust.name].value, "label": r.model, "href": r.page,
               "color": view.recipe_colors.get(r.recipe, 0),
               "title": f"{r.model} ({r.recipe or 'recipe unknown'}): {robust.name} {r.cells[robust.name].display}"
                        f"{robust.unit and ' ' + robust.unit}, {headline.name} {r.cells[headline.name].display} "
                        f"{headline.unit}"} for r in view.rows]
    view.alignment_scatter = plots.scatter(points, x_label=headline.axis_label, y_label=robust.axis_label,
                                           label_points=len(view.rows) <= 12)
    view.alignment_rho = next(a for a in view.alignment if a["column"] is headline)
