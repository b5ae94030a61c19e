"""The ``energy`` metric: natural vs adversarial energy (science.md section 2), on every track.

It reuses the robust-accuracy attack: the adversarial points x* are the attack's semantic iterates
(``AttackResult.iterates``: any attack plugin may provide them; AutoAttack's are its APGD
components' max-loss iterates), read through the evaluation context, so no second attack runs.
Only two extra forward passes are made, on the points that have an x*.

- untargeted x* = ``iterates["untargeted"]`` (AutoAttack: APGD-CE's highest-cross-entropy iterate);
- targeted x*   = ``iterates["targeted"]`` (AutoAttack: APGD-T's highest targeted-DLR-loss iterate
  over the target classes it tried).

AutoAttack attacks a point only while it is still robust, so points misclassified to begin with have
no x* of either kind, and points APGD-CE flipped have no targeted x*. Those points are left out of
that kind's statistics (never replaced by the natural point, which would fake a zero gap); the
columns ``energy_n_untargeted`` / ``energy_n_targeted`` say how many points each kind covers, and the
per-point arrays hold NaN for them. The natural-energy columns cover all points. docs/energy.md
explains the choice; a statistic over no points is NaN. Every column is a declared reduction of the
per-point energy arrays, so shards, unsharded runs and ``benchbed.evaluate`` share one computation.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ..energy import energy_statistics, joint_energy, marginal_energy, mean_std
from ..errors import BenchbedError
from ..hookspecs import hookimpl
from ..reductions import Reduction
from ..specs import TARGETED, UNTARGETED, Column, MetricOutput, MetricSpec

_KIND_TEXT = {
    UNTARGETED: "untargeted x* (the attack's untargeted iterate, e.g. APGD-CE's max-loss point, on the points it "
                "attacked)",
    TARGETED: "targeted x* (the attack's targeted iterate, e.g. APGD-T's max-loss point, on the points it attacked)",
}
KINDS = (UNTARGETED, TARGETED)

# statistic key of benchbed.energy.energy_statistics -> (column stem, description, higher_is_better, unit)
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
HEADLINE = {("gap_mean", UNTARGETED), ("w1", UNTARGETED)}
NATURAL, JOINT_NATURAL = "energy_nat", "joint_energy_nat"


def array_names(kind: str) -> tuple[str, str, str, str]:
    """The per-point arrays one kind's statistics are reduced from (NaN: no x* of that kind)."""
    return NATURAL, f"energy_adv_{kind}", JOINT_NATURAL, f"joint_energy_adv_{kind}"


def paired_statistic(stat: str) -> Reduction:
    """A reduction to one statistic of :func:`benchbed.energy.energy_statistics` over the points with an x*."""
    def reduce(e_nat, e_adv, j_nat, j_adv) -> float:
        has = ~np.isnan(np.asarray(e_adv, dtype=np.float64))
        return energy_statistics(e_nat[has], e_adv[has], j_nat[has], j_adv[has])[stat]

    return Reduction(f"energy.{stat}", (), reduce)


def columns() -> tuple[Column, ...]:
    out = [
        Column("energy_nat_mean", "mean marginal energy E(x) = -logsumexp f(x) of all natural test points",
               None, "energy", reduce=Reduction("energy.nat_mean", (NATURAL,), lambda e: mean_std(e)[0])),
        Column("energy_nat_std", "std of the marginal energy E(x) of all natural test points", None, "energy",
               reduce=Reduction("energy.nat_std", (NATURAL,), lambda e: mean_std(e)[1])),
    ]
    for kind in KINDS:
        for stat, stem, description, higher, unit in _STATS:
            reduction = dataclasses.replace(paired_statistic(stat), inputs=array_names(kind))
            out.append(Column(stem.format(kind=kind), description.format(kind=kind, text=_KIND_TEXT[kind]),
                              higher, unit, reduce=reduction, headline=(stat, kind) in HEADLINE,
                              protocol=f"{kind} iterate of the track's attack, points it attacked"))
    return tuple(out)


def column_name(key: str, kind: str) -> str:
    for stat, stem, *_ in _STATS:
        if stat == key:
            return stem.format(kind=kind)
    raise KeyError(key)


def _with_nan(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.full(mask.shape[0], np.nan, dtype=np.float64)
    out[mask] = values
    return out


def compute_energy(ctx) -> MetricOutput:
    labels = ctx.labels
    natural_logits = ctx.clean_logits
    arrays = {NATURAL: marginal_energy(natural_logits), JOINT_NATURAL: joint_energy(natural_logits, labels)}
    result = ctx.attack_result  # the robust-accuracy attack, run once per context
    sources = {}
    for kind in KINDS:
        iterate = result.iterates.get(kind)
        if iterate is None:
            raise BenchbedError(f"the track's attack {ctx.attack_spec.name!r} gives no {kind} iterate, which the "
                                f"energy metric needs: use an attack whose AttackSpec.provides lists {kind!r}")
        mask = iterate.mask.bool()
        where = torch.nonzero(mask).flatten()
        adv_logits = ctx.cached(f"energy:logits:{kind}", lambda x=iterate.images, w=where, k=kind: ctx.logits(
            x[w], f"{k} adversarial inputs") if len(w) else torch.empty((0, natural_logits.shape[1])))
        mask_np = mask.numpy()
        arrays[f"energy_adv_{kind}"] = _with_nan(marginal_energy(adv_logits), mask_np)
        arrays[f"joint_energy_adv_{kind}"] = _with_nan(joint_energy(adv_logits, labels[where]), mask_np)
        sources[kind] = iterate.source
    return MetricOutput(arrays=arrays, info={"x_star": sources})


@hookimpl
def register_metrics(register):
    register(MetricSpec(
        name="energy", compute=compute_energy, columns=columns(),
        requires=("attack", f"iterates:{UNTARGETED}", f"iterates:{TARGETED}"),
        description="natural vs adversarial energy E(x) = -logsumexp f(x) (JEM reading of the classifier), for the "
                    "untargeted and targeted iterates of the robust-accuracy attack (AutoAttack: APGD-CE, APGD-T); "
                    "no second attack",
    ))
