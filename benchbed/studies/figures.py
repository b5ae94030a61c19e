"""What the model page draws from each built-in study's stored result (:class:`benchbed.plugin.Figure`).

Plain data: the series and their labels, axis labels with units, captions. The pages turn them into
geometry (:mod:`benchbed.leaderboard.plots`), so a study plugin draws the same way as these.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from benchbed.contracts.figures import Figure, Series

ENERGY_AXIS = "energy (logit units)"
FRACTION_AXIS = "fraction of points"


def _column(study, name: str) -> list[Any]:
    return [row.get(name) for row in study.rows]


def _finite(values: Any) -> np.ndarray | None:
    if values is None:
        return None
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    arr = arr[np.isfinite(arr)]
    return arr if arr.size else None


def attacks_figures(study, arrays: Mapping[str, Any]) -> list[Figure]:
    """One panel per attack, natural vs adversarial energies, on a range shared by all panels (the
    0.5th to 99.5th percentile of every energy shown; values outside are piled into the end bins)."""
    out = []
    for which, symbol, group in (("marginal", ("E(x)", "E(x*)"), "Marginal energy E(x) vs E(x*)"),
                                 ("joint", ("E(x, y)", "E(x*, y)"),
                                  "Joint energy E(x, y) vs E(x*, y) (y: the true label)")):
        natural = _finite(arrays.get(f"natural.{which}"))
        if natural is None:
            continue
        pooled = [natural] + [a for row in study.rows if (a := _finite(arrays.get(f"{row['attack']}.{which}")))
                              is not None]
        lo = min(float(np.percentile(a, 0.5)) for a in pooled)
        hi = max(float(np.percentile(a, 99.5)) for a in pooled)
        for row in study.rows:
            adversarial = _finite(arrays.get(f"{row['attack']}.{which}"))
            if adversarial is None:
                continue
            style = "adv-t" if row.get("kind") == "targeted" else "adv-u"
            out.append(Figure(
                kind="histogram", title=f"{row['attack']} ({row.get('kind', '')})", group=group, small=True,
                series=(Series(f"natural {symbol[0]}", "nat", values=np.clip(natural, lo, hi)),
                        Series(f"{row['attack']} {symbol[1]}", style, values=np.clip(adversarial, lo, hi))),
                x_label=ENERGY_AXIS, y_label=FRACTION_AXIS, x_range=(lo, hi)))
    return out


def eps_figures(study, arrays: Mapping[str, Any]) -> list[Figure]:
    track_eps = float(study.params.get("track_eps", 1.0))
    eps = [float(v) * track_eps for v in _column(study, "eps / track eps")]
    gap = Figure(kind="line", title="Mean energy gap vs eps",
                 caption="logit units; above 0: x* has the lower energy", zero_line=True,
                 series=(Series("mean ΔE = E(x) − E(x*)", "adv-u", x=eps, y=_column(study, "ΔE mean")),
                         Series("mean ΔE(x, y)", "adv-o", x=eps, y=_column(study, "ΔE(x,y) mean"), dashed=True)),
                 x_label="eps", y_label="energy gap (logit units)")
    accuracy = Figure(kind="line", title="Robust accuracy, flipped predictions and raised top logits vs eps",
                      caption="% of points", y_clamp=(0.0, 100.0),
                      series=(Series("robust accuracy (PGD)", "nat", x=eps, y=_column(study, "robust_accuracy")),
                              Series("prediction flipped", "adv-t", x=eps, y=_column(study, "flipped"), dashed=True),
                              Series("adversarial top logit > natural", "adv-u", x=eps,
                                     y=_column(study, "top logit raised"), dashed=True)),
                      x_label="eps", y_label="% of points")
    return [gap, accuracy]


def dynamics_figures(study, arrays: Mapping[str, Any]) -> list[Figure]:
    from benchbed.leaderboard.safety import fmt_number  # the pages' number format (no site import at listing)

    step = _column(study, "step")
    eps = fmt_number(float(study.params.get("eps", float("nan"))))
    accuracy = Figure(kind="line", title="Clean and robust accuracy vs epoch", caption="%", width=520,
                      y_clamp=(0.0, 100.0), x_label="epoch", y_label="accuracy (%)",
                      series=(Series("clean accuracy", "nat", x=step, y=_column(study, "clean_accuracy")),
                              Series(f"robust accuracy (PGD-10, eps {eps})", "adv-u", x=step,
                                     y=_column(study, "robust_accuracy"))))
    energy = Figure(kind="line", title="Mean E(x), mean E(x*) and their gap vs epoch", caption="logit units",
                    width=520, zero_line=True, x_label="epoch", y_label="energy (logit units)",
                    series=(Series("mean E(x)", "nat", x=step, y=_column(study, "E(x) mean")),
                            Series("mean E(x*)", "adv-u", x=step, y=_column(study, "E(x*) mean")),
                            Series("mean gap E(x) − E(x*)", "adv-o", x=step, y=_column(study, "ΔE mean"),
                                   dashed=True)))
    return [accuracy, energy]


def generation_figures(study, arrays: Mapping[str, Any]) -> list[Figure]:
    """One line per (sampler, seed kind) against sampler steps, per quantity."""
    generation = study.track_info.get("generation")
    prefix = str(generation.get("column_prefix", "")) if isinstance(generation, dict) else ""
    cells = list(dict.fromkeys((r.get("sampler"), r.get("seed_kind")) for r in study.rows))

    def series(column: str) -> tuple[Series, ...]:
        out = []
        for i, cell in enumerate(cells):
            rows = sorted((r for r in study.rows if (r.get("sampler"), r.get("seed_kind")) == cell
                           and isinstance(r.get(column), (int, float))), key=lambda r: r.get("steps"))
            out.append(Series(f"{cell[0]} from {cell[1]} seeds", f"c{i % 8}", x=[r.get("steps") for r in rows],
                              y=[r.get(column) for r in rows]))
        return tuple(out)

    label = prefix.rstrip("_") + "-" if prefix else ""
    panels = [(f"{label}FID (lower is better)", f"{prefix}fid", f"{label}FID (no unit)"),
              (f"{label}IS (higher is better)", f"{prefix}is", f"{label}IS (no unit)"),
              ("Mean joint energy of the samples", "mean_joint_energy", "E(x, y) = -f(x)[y] (energy)")]
    if any(f"{prefix}class_acc" in r for r in study.rows):
        panels.append(("Independent-classifier accuracy", f"{prefix}class_acc", "accuracy (%)"))
    return [Figure(kind="line", title=title, series=series(column), x_label="sampler steps per sample (steps)",
                   y_label=y_label, width=360) for title, column, y_label in panels]
