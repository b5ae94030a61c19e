"""Figures of the energy studies on the model page (kinds "attacks", "eps", "dynamics").

Registered into :data:`benchbed.leaderboard.studies.FIGURES` (by that module, from :data:`STUDY_FIGURES`);
drawn by ``templates/studies/<kind>.html.j2``.
Geometry only (coordinates as fixed-precision strings, labels as plain text), like :mod:`.plots`.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from benchbed.leaderboard.plots import _Axis, finite, histogram, num
from benchbed.leaderboard.safety import fmt_number
from benchbed.results.record import StudyResult

ENERGY_AXIS = "energy (logit units)"
FRACTION_AXIS = "fraction of points"


def lines(series: Sequence[dict[str, Any]], *, x_label: str, y_label: str, width: int = 420, height: int = 240,
          y_clamp: tuple[float, float] | None = None, zero_line: bool = False,
          x_ticks: Sequence[float] | None = None) -> dict[str, Any] | None:
    """Geometry of a line chart with markers. ``series``: dicts with ``x``, ``y`` (equal-length sequences),
    ``label`` and ``kind`` (a CSS class suffix: nat, adv-u, adv-t, adv-o). Non-finite points are skipped."""
    data = []
    for s in series:
        pts = [(float(x), float(y)) for x, y in zip(s["x"], s["y"], strict=True)
               if y is not None and math.isfinite(float(x)) and math.isfinite(float(y))]
        if pts:
            data.append((s, pts))
    if not data:
        return None
    xs = [x for _, pts in data for x, _ in pts]
    ys = [y for _, pts in data for _, y in pts] + ([0.0] if zero_line else [])
    left, right, top, bottom = 58, 24, 12, 44
    xa = _Axis(min(xs), max(xs), left, width - right, 6)
    y_lo, y_hi = min(ys), max(ys)
    clamp = y_clamp if y_clamp is not None and y_clamp[0] <= y_lo and y_hi <= y_clamp[1] else None
    ya = _Axis(y_lo, y_hi, height - bottom, top, 5, clamp=clamp)
    out = []
    for s, pts in data:
        path = "".join(f"{'M' if i == 0 else 'L'}{num(xa(x))} {num(ya(y))}" for i, (x, y) in enumerate(pts))
        markers = [{"cx": num(xa(x)), "cy": num(ya(y)), "title": f"{s['label']}: {fmt_number(y)} at {x_label} "
                    f"{fmt_number(x)}"} for x, y in pts] if len(pts) <= 40 else []
        out.append({"path": path, "kind": s.get("kind", "nat"), "label": s["label"], "markers": markers,
                    "dashed": bool(s.get("dashed"))})
    xticks = xa.tick_marks()
    if x_ticks is not None:  # the grid's own values (e.g. the eps multipliers)
        xticks = [{"pos": num(xa(t)), "label": fmt_number(t)} for t in x_ticks if xa.lo <= t <= xa.hi]
    return {
        "width": width, "height": height, "left": left, "right": width - right, "top": top, "bottom": height - bottom,
        "xticks": xticks, "yticks": ya.tick_marks(), "series": out,
        "x_label": x_label, "x_label_x": num((left + width - right) / 2), "x_label_y": num(height - 8),
        "y_label": y_label, "y_label_x": num(14), "y_label_y": num((top + height - bottom) / 2),
        "zero_y": num(ya(0.0)) if zero_line and ya.lo <= 0 <= ya.hi else None,
    }


def _column(study: StudyResult, name: str) -> list[Any]:
    return [row.get(name) for row in study.rows]


# -- per-attack histograms -----------------------------------------------------------------------------------
def attacks_figures(study: StudyResult, arrays: Mapping[str, Any]) -> dict[str, Any]:
    """One panel per attack, natural vs adversarial energies on a range shared by all panels."""
    panels: dict[str, list[dict[str, Any]]] = {"marginal": [], "joint": []}
    for which, symbol in (("marginal", ("E(x)", "E(x*)")), ("joint", ("E(x, y)", "E(x*, y)"))):
        natural = finite(arrays.get(f"natural.{which}"))
        if natural is None:
            continue
        pooled = [natural] + [a for row in study.rows if (a := finite(arrays.get(f"{row['attack']}.{which}")))
                              is not None]
        lo = min(float(np.percentile(a, 0.5)) for a in pooled)
        hi = max(float(np.percentile(a, 99.5)) for a in pooled)
        for row in study.rows:
            adversarial = arrays.get(f"{row['attack']}.{which}")
            if adversarial is None:
                continue
            kind = "adv-t" if row.get("kind") == "targeted" else "adv-u"
            plot = histogram([{"values": np.clip(natural, lo, hi), "label": f"natural {symbol[0]}", "kind": "nat"},
                              {"values": np.clip(finite(adversarial), lo, hi), "label": f"{row['attack']} {symbol[1]}",
                               "kind": kind}],
                             x_label=ENERGY_AXIS, y_label=FRACTION_AXIS, x_range=(lo, hi), width=300, height=180)
            if plot is not None:
                panels[which].append({"attack": row["attack"], "kind": row.get("kind", ""), "plot": plot,
                                      "range": f"{fmt_number(lo)} to {fmt_number(hi)}"})
    return panels


# -- eps curve ------------------------------------------------------------------------------------------------
def eps_figures(study: StudyResult, arrays: Mapping[str, Any]) -> dict[str, Any]:
    k = _column(study, "eps / track eps")
    track_eps = float(study.params.get("track_eps", 1.0))
    eps = [float(v) * track_eps for v in k]
    gap = lines([{"x": eps, "y": _column(study, "ΔE mean"), "label": "mean ΔE = E(x) − E(x*)", "kind": "adv-u"},
                 {"x": eps, "y": _column(study, "ΔE(x,y) mean"), "label": "mean ΔE(x, y)", "kind": "adv-o",
                  "dashed": True}],
                x_label="eps", y_label="energy gap (logit units)", zero_line=True)
    acc = lines([{"x": eps, "y": _column(study, "robust_accuracy"), "label": "robust accuracy (PGD)", "kind": "nat"},
                 {"x": eps, "y": _column(study, "flipped"), "label": "prediction flipped", "kind": "adv-t",
                  "dashed": True},
                 {"x": eps, "y": _column(study, "top logit raised"), "label": "adversarial top logit > natural",
                  "kind": "adv-u", "dashed": True}],
                x_label="eps", y_label="% of points", y_clamp=(0.0, 100.0))
    return {"gap": gap, "accuracy": acc}


# -- training dynamics ----------------------------------------------------------------------------------------
def dynamics_figures(study: StudyResult, arrays: Mapping[str, Any]) -> dict[str, Any]:
    step = _column(study, "step")
    eps = fmt_number(float(study.params.get("eps", float("nan"))))
    acc = lines([{"x": step, "y": _column(study, "clean_accuracy"), "label": "clean accuracy", "kind": "nat"},
                 {"x": step, "y": _column(study, "robust_accuracy"), "label": f"robust accuracy (PGD-10, eps {eps})",
                  "kind": "adv-u"}],
                x_label="epoch", y_label="accuracy (%)", y_clamp=(0.0, 100.0), width=520)
    energy = lines([{"x": step, "y": _column(study, "E(x) mean"), "label": "mean E(x)", "kind": "nat"},
                    {"x": step, "y": _column(study, "E(x*) mean"), "label": "mean E(x*)", "kind": "adv-u"},
                    {"x": step, "y": _column(study, "ΔE mean"), "label": "mean gap E(x) − E(x*)", "kind": "adv-o",
                     "dashed": True}],
                   x_label="epoch", y_label="energy (logit units)", zero_line=True, width=520)
    return {"accuracy": acc, "energy": energy}


STUDY_FIGURES = {"attacks": attacks_figures, "eps": eps_figures, "dynamics": dynamics_figures}
STUDY_TITLES = {"attacks": "energies per attack", "eps": "energy response over eps", "dynamics": "training dynamics"}
