"""The ``energy`` metric: natural vs adversarial energy (science.md section 2), on every track.

It reuses the robust-accuracy attack: the adversarial points x* are the per-point records that
:func:`benchbed.attacks.run_autoattack` keeps of its APGD components (``AttackResult.components``),
read through the evaluation context, so no second attack runs. Only two extra forward passes are
made, on the points that have an x*.

- untargeted x* = APGD-CE's highest-cross-entropy iterate, for every point APGD-CE attacked;
- targeted x*   = APGD-T's highest targeted-DLR-loss iterate over the target classes it tried, for
  every point APGD-T attacked.

AutoAttack attacks a point only while it is still robust, so points misclassified to begin with have
no x* of either kind, and points APGD-CE flipped have no targeted x*. Those points are left out of
that kind's statistics (never replaced by the natural point, which would fake a zero gap); the
columns ``energy_n_untargeted`` / ``energy_n_targeted`` say how many points each kind covers, and the
per-point arrays hold NaN for them. The natural-energy columns cover all points. docs/energy.md
explains the choice; a statistic over no points is NaN.
"""
from __future__ import annotations

import numpy as np
import torch

from ..energy import energy_statistics, joint_energy, marginal_energy, mean_std
from ..hookspecs import hookimpl
from ..specs import Column, MetricResult, MetricSpec

# attack kind -> the AutoAttack component whose x* it uses
KINDS = {"untargeted": "apgd-ce", "targeted": "apgd-t"}

_KIND_TEXT = {
    "untargeted": "untargeted x* (APGD-CE's max-loss iterate, points APGD-CE attacked)",
    "targeted": "targeted x* (APGD-T's max-loss iterate, points APGD-T attacked)",
}

# statistic key of benchbed.energy.gap_statistics -> (column stem, description, higher_is_better, unit)
_STATS = (
    ("n", "energy_n_{kind}", "number of points with an {text}; the {kind} columns cover these", None,
     "points"),
    ("adv_mean", "energy_adv_mean_{kind}", "mean marginal energy E(x*) = -logsumexp f(x*) of the {text}",
     None, "energy"),
    ("adv_std", "energy_adv_std_{kind}", "std of the marginal energy E(x*) of the {text}", None, "energy"),
    ("gap_mean", "energy_gap_{kind}", "mean energy gap dE = E(x) - E(x*) for the {text} (> 0: x* has "
     "lower energy than x)", None, "energy"),
    ("gap_std", "energy_gap_std_{kind}", "std of the energy gap dE = E(x) - E(x*) for the {text}; lower = "
     "better aligned", False, "energy"),
    ("abs_gap_mean", "energy_abs_gap_{kind}", "mean |E(x) - E(x*)| for the {text}; lower = better aligned",
     False, "energy"),
    ("joint_gap_mean", "joint_energy_gap_{kind}", "mean joint energy gap E(x, y) - E(x*, y) = f(x*)[y] - "
     "f(x)[y] for the {text}", None, "energy"),
    ("joint_gap_std", "joint_energy_gap_std_{kind}", "std of the joint energy gap E(x, y) - E(x*, y) for "
     "the {text}; lower = better aligned", False, "energy"),
    ("w1", "energy_w1_{kind}", "1-Wasserstein distance between the natural and adversarial marginal "
     "energies of the points with an {text}; lower = better aligned", False, "energy"),
)

NATURAL_COLUMNS = (
    Column("energy_nat_mean", "mean marginal energy E(x) = -logsumexp f(x) of all natural test points",
           None, "energy"),
    Column("energy_nat_std", "std of the marginal energy E(x) of all natural test points", None, "energy"),
)


def column_name(key: str, kind: str) -> str:
    for stat, stem, *_ in _STATS:
        if stat == key:
            return stem.format(kind=kind)
    raise KeyError(key)


def columns() -> tuple[Column, ...]:
    out = list(NATURAL_COLUMNS)
    for kind in KINDS:
        for _, stem, description, higher, unit in _STATS:
            out.append(Column(stem.format(kind=kind), description.format(kind=kind, text=_KIND_TEXT[kind]),
                              higher, unit))
    return tuple(out)


def _with_nan(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.full(mask.shape[0], np.nan, dtype=np.float64)
    out[mask] = values
    return out


def compute_energy(ctx) -> MetricResult:
    labels = ctx.labels
    natural_logits = ctx.clean_logits
    arrays = {"energy_nat": marginal_energy(natural_logits),
              "joint_energy_nat": joint_energy(natural_logits, labels)}
    result = ctx.attack_result  # the robust-accuracy attack, run once per context
    info = {"x_star": {}, "missing_components": []}
    for kind, component in KINDS.items():
        x_star = result.components.get(component)
        mask = result.component_masks.get(component)
        if x_star is None or mask is None:
            info["missing_components"].append(component)
            mask = torch.zeros(len(labels), dtype=torch.bool)
        mask = mask.bool()
        where = torch.nonzero(mask).flatten()
        adv_logits = ctx.cached(f"energy:logits:{component}",
                                lambda x=x_star, w=where: ctx.logits(x[w]) if len(w) else
                                torch.empty((0, natural_logits.shape[1])))
        mask_np = mask.numpy()
        arrays[f"energy_adv_{kind}"] = _with_nan(marginal_energy(adv_logits), mask_np)
        arrays[f"joint_energy_adv_{kind}"] = _with_nan(joint_energy(adv_logits, labels[where]), mask_np)
        info["x_star"][kind] = {"component": component, "n": int(mask.sum()),
                                "n_without": int((~mask).sum())}
    if not info["missing_components"]:
        del info["missing_components"]
    return MetricResult(values=energy_values(arrays), arrays=arrays, info=info)


def energy_values(arrays) -> dict[str, float]:
    """Every energy column from the per-point arrays (NaN marks a point without that kind of x*)."""
    values: dict[str, float] = {}
    stats = mean_std(arrays["energy_nat"])
    values["energy_nat_mean"], values["energy_nat_std"] = stats
    for kind in KINDS:
        e_adv = np.asarray(arrays[f"energy_adv_{kind}"], dtype=np.float64)
        has = ~np.isnan(e_adv)
        stats = energy_statistics(arrays["energy_nat"][has], e_adv[has], arrays["joint_energy_nat"][has],
                                  np.asarray(arrays[f"joint_energy_adv_{kind}"])[has])
        for key, value in stats.items():
            values[column_name(key, kind)] = float(value)
    return values


def merge_energy(arrays, infos) -> MetricResult:
    """Shards merged: the same statistics over the concatenated per-point arrays; counts summed."""
    info: dict = {"x_star": {}}
    for kind, component in KINDS.items():
        parts = [i.get("x_star", {}).get(kind, {}) for i in infos]
        info["x_star"][kind] = {"component": component, "n": sum(p.get("n", 0) for p in parts),
                                "n_without": sum(p.get("n_without", 0) for p in parts)}
    missing = sorted({c for i in infos for c in i.get("missing_components", [])})
    if missing:
        info["missing_components"] = missing
    return MetricResult(values=energy_values(arrays), info=info)


@hookimpl
def register_metrics(register):
    register(MetricSpec(
        name="energy", compute=compute_energy, merge=merge_energy, columns=columns(), needs_attack=True,
        description="natural vs adversarial energy E(x) = -logsumexp f(x) (JEM reading of the "
                    "classifier), for the untargeted (APGD-CE) and targeted (APGD-T) examples of "
                    "the robust-accuracy attack; no second attack",
    ))
