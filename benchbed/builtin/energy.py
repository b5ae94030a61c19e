"""The ``energy`` metric: natural vs adversarial energy (docs/science.md, "Energies"), on every track.

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
explains the choice; a statistic over no points is NaN.

Beside them, the papers' protocol (columns ending ``_pgd``): the *final* iterate of Mirza et al.'s PGD
(torchattacks' settings scaled by eps: 10 steps of eps/4 (L2: eps/5) from a uniform random start;
:mod:`benchbed.functional.pgd`) on *all* test points, misclassified ones included, so every model is
scored on the same points. Untargeted: CE ascent (the paper's attack); targeted (benchbed's addition):
towards the best class other than the label and the prediction. Every column says
which protocol it used (``Column.protocol``). Alignment columns come in logit units and, with ``_rel``
in their name, divided by the std of the model's natural E(x) (joint: of E(x, y)) over all test
points -- scale-free, so a model with small logits does not look aligned for free. The TRADES
columns split KL(p(.|x) || p(.|x*)) into its joint-energy term and the marginal gap (docs/science.md,
"TRADES"). Every column is a declared reduction of the
per-point energy arrays, so shards, unsharded runs and ``benchbed.evaluate`` share one computation.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from benchbed.contracts.errors import BenchbedError
from benchbed.contracts.figures import ArrayPlot, ArraySeries
from benchbed.contracts.hookspecs import hookimpl
from benchbed.contracts.reductions import Reduction, finite_mean
from benchbed.contracts.specs import TARGETED, UNTARGETED, Column, MetricOutput, MetricSpec
from benchbed.engine.context import block_ids
from benchbed.functional.energy import (
    energy_statistics,
    joint_energy,
    marginal_energy,
    mean_std,
    normalised_statistics,
    trades_decomposition,
)
from benchbed.functional.pgd import NORMS as PGD_NORMS
from benchbed.functional.pgd import PGD_STEPS, STEP_FRACTION, pgd_final_iterate, runner_up

_KIND_TEXT = {
    UNTARGETED: "untargeted x* (the attack's untargeted iterate, e.g. APGD-CE's max-loss point, on the points it "
                "attacked)",
    TARGETED: "targeted x* (the attack's targeted iterate, e.g. APGD-T's max-loss point, on the points it attacked)",
}
_PGD_TEXT = {
    UNTARGETED: f"untargeted x* (final iterate of {PGD_STEPS}-step PGD on the cross-entropy, all test points)",
    TARGETED: f"targeted x* (final iterate of {PGD_STEPS}-step PGD towards the best class other than the label and "
              "the prediction, all test points)",
}
PGD_SETTINGS = (f"{PGD_STEPS} steps of alpha = eps/{1 / STEP_FRACTION['Linf']:g} "
                f"(L2: eps/{1 / STEP_FRACTION['L2']:g}), uniform random start in the eps ball, projection onto the "
                "ball and [0, 1] after each step (torchattacks PGD/PGDL2 defaults scaled by eps, as Mirza et al.'s "
                "energy notebook builds them)")
_PGD_TARGET = {UNTARGETED: "ascends CE on the label (the paper's attack)",
               TARGETED: "descends CE on t = the best class other than the label and the model's prediction (for a "
                         "correct point APGD-T's first target; benchbed's addition, the paper's PGD is untargeted)"}
KINDS = (UNTARGETED, TARGETED)
# protocol -> (suffix of its arrays and columns, description of its x*, Column.protocol text)
PROTOCOLS = {
    "attack": ("", _KIND_TEXT, "{kind} iterate of the track's attack (AutoAttack: max-loss APGD iterate), only the "
                               "points it attacked (still robust)"),
    "pgd": ("_pgd", _PGD_TEXT, "{kind} final iterate of PGD at the track's eps: " + PGD_SETTINGS + "; {target}; "
                               "all test points (misclassified included); E(x) = -logsumexp f(x), E(x, y) = -f(x)[y] "
                               "with the true label (the papers' protocol)"),
}

# every std here is the population std (ddof 0, numpy's default; mean_std), said so in each column's description
STD = "population std (ddof 0)"
# statistic key of benchbed.functional.energy.energy_statistics -> (column stem, description, higher_is_better, unit)
_STATS = (
    ("n", "energy_n_{kind}", "number of points with an {text}; the {kind} columns cover these", None,
     "points"),
    ("adv_mean", "energy_adv_mean_{kind}", "mean marginal energy E(x*) = -logsumexp f(x*) of the {text}",
     None, "energy"),
    ("adv_std", "energy_adv_std_{kind}", STD + " of the marginal energy E(x*) of the {text}", None, "energy"),
    ("gap_mean", "energy_gap_{kind}", "mean energy gap dE = E(x) - E(x*) for the {text} (> 0: x* has "
     "lower energy than x)", None, "energy"),
    ("gap_std", "energy_gap_std_{kind}", STD + " of the energy gap dE = E(x) - E(x*) for the {text}; lower = "
     "better aligned", False, "energy"),
    ("abs_gap_mean", "energy_abs_gap_{kind}", "mean |E(x) - E(x*)| for the {text}; lower = better aligned",
     False, "energy"),
    ("joint_gap_mean", "joint_energy_gap_{kind}", "mean joint energy gap E(x, y) - E(x*, y) = f(x*)[y] - "
     "f(x)[y] for the {text}", None, "energy"),
    ("joint_gap_std", "joint_energy_gap_std_{kind}", STD + " of the joint energy gap E(x, y) - E(x*, y) for "
     "the {text}; lower = better aligned", False, "energy"),
    ("w1", "energy_w1_{kind}", "1-Wasserstein distance between the natural and adversarial marginal "
     "energies of the points with an {text}; lower = better aligned", False, "energy"),
)
RELATIVE_UNIT = "std E(x)"  # a statistic divided by the (population) std of the model's natural energies
_NORMALISED = (
    ("w1_rel", "energy_w1_rel_{kind}", "W1 between natural and adversarial marginal energies for the {text}, "
     "divided by the std of E(x) over all natural test points (scale-free); lower = better aligned"),
    ("abs_gap_rel", "energy_abs_gap_rel_{kind}", "mean |E(x) - E(x*)| for the {text}, divided by the std of E(x) "
     "over all natural test points (scale-free); lower = better aligned"),
    ("gap_std_rel", "energy_gap_std_rel_{kind}", STD + " of dE = E(x) - E(x*) for the {text}, divided by the std "
     "of E(x) over all natural test points (scale-free); lower = better aligned"),
    ("joint_gap_std_rel", "joint_energy_gap_std_rel_{kind}", STD + " of the joint gap E(x, y) - E(x*, y) for the "
     "{text}, divided by the std of the natural joint energy E(x, y) over all test points (scale-free); lower = "
     "better aligned"),
)
_TRADES = (
    ("kl", "trades_kl_{kind}", "mean KL(p(.|x) || p(.|x*)) (TRADES' regulariser) for the {text}"),
    ("joint_term", "trades_joint_term_{kind}", "mean joint-energy term sum_k p(k|x) [E(x*, k) - E(x, k)] of the "
     "KL for the {text}; KL = this + the marginal term"),
    ("marginal_term", "trades_marginal_term_{kind}", "mean marginal term E(x) - E(x*) of the KL for the {text} "
     "(equals the mean energy gap); KL = joint term + this"),
)
# the compact board shows one alignment column (issue 15: clean, robust, alignment, IS/FID, flags at 1400 px)
HEADLINE = {("w1_rel", UNTARGETED, "attack")}
NATURAL, JOINT_NATURAL = "energy_nat", "joint_energy_nat"


def array_names(kind: str, suffix: str = "") -> tuple[str, str, str, str]:
    """The per-point arrays one kind's statistics are reduced from (NaN: no x* of that kind)."""
    return NATURAL, f"energy_adv_{kind}{suffix}", JOINT_NATURAL, f"joint_energy_adv_{kind}{suffix}"


def trades_array_names(kind: str, suffix: str = "") -> tuple[str, str]:
    """Per-point KL and joint-energy term arrays of one kind (NaN: no x*)."""
    return f"trades_kl_{kind}{suffix}", f"trades_joint_term_{kind}{suffix}"


def _paired_stats(e_nat, e_adv, j_nat, j_adv) -> dict[str, float]:
    has = ~np.isnan(np.asarray(e_adv, dtype=np.float64))
    stats = energy_statistics(e_nat[has], e_adv[has], j_nat[has], j_adv[has])
    return {**stats, **normalised_statistics(stats, e_nat, j_nat)}


def paired_statistic(stat: str) -> Reduction:
    """A reduction to one statistic of :func:`benchbed.functional.energy.energy_statistics` (or of its normalised
    companions, :func:`benchbed.functional.energy.normalised_statistics`) over the points with an x*."""
    return Reduction(f"energy.{stat}", (), lambda *arrays: _paired_stats(*arrays)[stat],
                     "none" if stat == "n" else "bootstrap",  # a count of points: no interval
                     group=_paired_stats, key=stat)  # one kind's statistics resampled together


def _marginal_term(e_nat, e_adv) -> float:
    return finite_mean(np.asarray(e_nat, dtype=np.float64) - np.asarray(e_adv, dtype=np.float64))


def protocol_columns(protocol: str) -> list[Column]:
    suffix, texts, protocol_text = PROTOCOLS[protocol]
    out = []
    for kind in KINDS:
        common = {"protocol": protocol_text.format(kind=kind, target=_PGD_TARGET[kind]), "group": "energy"}
        text = texts[kind]
        inputs = array_names(kind, suffix)
        for stat, stem, description, higher, unit in _STATS:
            out.append(Column(stem.format(kind=kind) + suffix, description.format(kind=kind, text=text), higher,
                              unit, reduce=dataclasses.replace(paired_statistic(stat), inputs=inputs),
                              headline=(stat, kind, protocol) in HEADLINE, **common))
        for stat, stem, description in _NORMALISED:
            out.append(Column(stem.format(kind=kind) + suffix, description.format(kind=kind, text=text), False,
                              RELATIVE_UNIT, reduce=dataclasses.replace(paired_statistic(stat), inputs=inputs),
                              headline=(stat, kind, protocol) in HEADLINE, **common))
        kl, joint = trades_array_names(kind, suffix)
        reductions = {"kl": Reduction("mean", (kl,), finite_mean),
                      "joint_term": Reduction("mean", (joint,), finite_mean),
                      "marginal_term": Reduction("energy.marginal_term", (NATURAL, inputs[1]), _marginal_term)}
        for stat, stem, description in _TRADES:
            out.append(Column(stem.format(kind=kind) + suffix, description.format(kind=kind, text=text), None,
                              "nats" if stat == "kl" else "energy", reduce=reductions[stat], **common))
    return out


def columns() -> tuple[Column, ...]:
    out = [
        Column("energy_nat_mean", "mean marginal energy E(x) = -logsumexp f(x) of all natural test points",
               None, "energy", reduce=Reduction("energy.nat_mean", (NATURAL,), lambda e: mean_std(e)[0])),
        Column("energy_nat_std", STD + " of the marginal energy E(x) of all natural test points (the scale of "
               "the _rel columns)", None, "energy",
               reduce=Reduction("energy.nat_std", (NATURAL,), lambda e: mean_std(e)[1])),
        Column("joint_energy_nat_std", STD + " of the joint energy E(x, y) = -f(x)[y] of all natural test points "
               "(the scale of joint_energy_gap_std_rel)", None, "energy",
               reduce=Reduction("energy.joint_nat_std", (JOINT_NATURAL,), lambda e: mean_std(e)[1])),
    ]
    for protocol in PROTOCOLS:
        out.extend(protocol_columns(protocol))
    return tuple(out)


def column_name(key: str, kind: str, protocol: str = "attack") -> str:
    suffix = PROTOCOLS[protocol][0]
    for stat, stem, *_ in (*_STATS, *_NORMALISED, *_TRADES):
        if stat == key:
            return stem.format(kind=kind) + suffix
    raise KeyError(key)


def _with_nan(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.full(mask.shape[0], np.nan, dtype=np.float64)
    out[mask] = values
    return out


def pgd_final_iterates(ctx) -> dict[str, torch.Tensor]:
    """The papers' x*: final PGD iterates of every test point of the unit, by kind (shared work, cached).

    Block by block like the track's attack (block b seeds its random starts with track.seed + b), so a
    sharded run draws exactly what an unsharded one does.
    """
    def compute() -> dict[str, torch.Tensor]:
        track = ctx.track
        out = {kind: torch.empty_like(ctx.images, dtype=torch.float32) for kind in KINDS}
        blocks = block_ids(ctx.indices, track.block_size)
        targets = runner_up(ctx.clean_logits, ctx.labels)
        for block in np.unique(blocks):
            where = torch.as_tensor(np.flatnonzero(blocks == block))
            for kind in KINDS:
                ctx.progress(f"PGD-{PGD_STEPS} final iterate ({kind}), block {int(block)} ({len(where)} points)")
                generator = torch.Generator().manual_seed(track.seed + int(block))
                with ctx.model.phase(f"inputs evaluated by the {kind} PGD final-iterate attack"):
                    out[kind][where] = pgd_final_iterate(
                        ctx.model, ctx.images[where], ctx.labels[where], norm=track.norm, eps=track.eps,
                        generator=generator, targets=None if kind == UNTARGETED else targets[where],
                        device=ctx.device, batch_size=track.batch_size)
        return out

    return ctx.cached("energy:pgd_final_iterates", compute)


def _kind_arrays(ctx, kind: str, suffix: str, images: torch.Tensor, mask: torch.Tensor) -> dict[str, np.ndarray]:
    labels, natural_logits = ctx.labels, ctx.clean_logits
    where = torch.nonzero(mask).flatten()
    adv_logits = ctx.cached(f"energy:logits:{kind}{suffix}", lambda: ctx.logits(
        images[where], f"{kind} adversarial inputs") if len(where) else torch.empty((0, natural_logits.shape[1])))
    mask_np = mask.numpy()
    kl, joint_term, _ = trades_decomposition(natural_logits[where], adv_logits)
    kl_name, joint_name = trades_array_names(kind, suffix)
    return {
        f"energy_adv_{kind}{suffix}": _with_nan(marginal_energy(adv_logits), mask_np),
        f"joint_energy_adv_{kind}{suffix}": _with_nan(joint_energy(adv_logits, labels[where]), mask_np),
        kl_name: _with_nan(kl, mask_np),
        joint_name: _with_nan(joint_term, mask_np),
    }


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
        arrays.update(_kind_arrays(ctx, kind, "", iterate.images, iterate.mask.bool()))
        sources[kind] = iterate.source
    if ctx.track.norm in PGD_NORMS:
        finals = pgd_final_iterates(ctx)
        everywhere = torch.ones(len(labels), dtype=torch.bool)
        pgd_sources = {kind: f"pgd-{PGD_STEPS} final iterate (alpha = {STEP_FRACTION[ctx.track.norm]:g} eps, random "
                             f"start)" for kind in KINDS}
    else:  # e.g. L1: the papers' protocol is not run (no x*, n = 0, NaN statistics); the AA columns stay
        finals = {kind: ctx.images for kind in KINDS}
        everywhere = torch.zeros(len(labels), dtype=torch.bool)
        pgd_sources = {kind: f"not run: the PGD protocol supports {', '.join(PGD_NORMS)}, not {ctx.track.norm}"
                       for kind in KINDS}
    for kind in KINDS:
        arrays.update(_kind_arrays(ctx, kind, "_pgd", finals[kind], everywhere))
    return MetricOutput(arrays=arrays, info={"x_star": sources, "x_star_pgd": pgd_sources})


# what the pages draw from the per-point arrays (the leaderboard knows none of these names)
_ADVERSARIAL = (("untargeted", "adv-u"), ("targeted", "adv-t"))
FIGURES = (
    ArrayPlot(
        name="energy", kind="histogram", section="Energy: natural vs adversarial",
        title="Marginal energy E(x) and E(x*)", unit="energy units",
        series=(ArraySeries(NATURAL, "natural", "nat"),
                *(ArraySeries(f"energy_adv_{kind}", f"{kind} adv.", style) for kind, style in _ADVERSARIAL)),
        x_label="marginal energy E(x) = −logsumexp f(x)", short_x_label="E(x) = −logsumexp f(x)",
        caption="of the natural points and their adversarial examples. x: energy (energy units), the range shared by "
                "every model on {track}; y: fraction of points per bin; dashed: means.",
        shared_range=True, zoom=True, track_panel=True,
        track_explain="Histograms of the marginal energy E(x) = −logsumexp_k f(x)[k] on the natural test points and "
                      "on their adversarial examples, one panel per model. x: energy (energy units), the same range "
                      "in every panel, so models compare by eye; y: fraction of the points per bin; dashed lines mark "
                      "the means. Targeted attacks push E(x*) above E(x); untargeted ones push it below when the "
                      "budget is far beyond what flipping a point needs (standard CIFAR models), and above at tighter "
                      "budgets. For a robust, energy-aligned model the distributions overlap."),
    ArrayPlot(
        name="energy-gap", kind="histogram", section="Energy: natural vs adversarial",
        title="Energy gap ΔE(x) = E(x) − E(x*)", unit="energy units; 0 = aligned",
        series=tuple(ArraySeries(NATURAL, f"ΔE, {kind}", style, minus=f"energy_adv_{kind}")
                     for kind, style in _ADVERSARIAL),
        x_label="ΔE(x) = E(x) − E(x*)", zero_line=True, shared_range=True,
        caption="point by point, per attack kind. x: energy units, the range shared by every model on {track} "
                "(0 = aligned); y: fraction of points per bin."),
)
UNIT_TEXTS = {"energy": "energy units", RELATIVE_UNIT: "multiples of the natural std E(x)", "nats": "nats"}


@hookimpl
def register_metrics(register):
    register(MetricSpec(
        name="energy", compute=compute_energy, columns=columns(), figures=FIGURES, unit_texts=UNIT_TEXTS,
        alignment=True,
        requires=("attack", f"iterates:{UNTARGETED}", f"iterates:{TARGETED}"),
        description="natural vs adversarial energy E(x) = -logsumexp f(x) (JEM reading of the classifier), for the "
                    "untargeted and targeted iterates of the robust-accuracy attack (AutoAttack: APGD-CE, APGD-T), "
                    f"and for the final iterates of Mirza et al.'s PGD ({PGD_SETTINGS}) on all test points (the "
                    "papers' protocol); raw and scale-free (/ std E(x)) alignment, and the TRADES KL decomposition",
    ))
