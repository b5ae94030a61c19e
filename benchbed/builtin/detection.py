"""The ``detection`` metrics: energy as an out-of-distribution detector, and calibration (issue 13).

Per test point i of a unit the metric scores three inputs with the energy score -E = logsumexp f and
with the maximum softmax probability (maths: :mod:`benchbed.functional.detection`):

- the natural test point x_i;
- its adversarial x*_i: the final iterate of Mirza et al.'s untargeted PGD (10 steps of eps/4, random start)
  on all test points, shared with
  the ``energy`` metric's papers'-protocol columns (computed once per context);
- OOD point i of the track's OOD set -- one OOD point per test index, so shards see the same points:
  ``detection``: digits -> the embedded set of :mod:`benchbed.functional.ood` (photo patches and noise from
  scikit-learn's sample images); CIFAR-10 / CIFAR-100 -> SVHN's test split.
  ``detection_cifar100``: CIFAR-10 -> CIFAR-100's test split.

AUROCs (in = positive, in %) are reduced over the whole track; ECE (15 bins, in %) over the natural
points (``detection`` only). Not on the CIFAR tracks by default (they need SVHN / CIFAR-100 on disk):
add them to a run with ``benchbed run --metrics ...,detection``.
"""
from __future__ import annotations

import torch

from benchbed.builtin.energy import PGD_SETTINGS, pgd_final_iterates
from benchbed.contracts.errors import BenchbedError
from benchbed.contracts.hookspecs import hookimpl
from benchbed.contracts.reductions import Reduction
from benchbed.contracts.specs import UNTARGETED, Column, MetricOutput, MetricSpec
from benchbed.functional.detection import ECE_BINS, auroc, energy_score, expected_calibration_error, max_softmax
from benchbed.functional.ood import digits_ood_images

EMBEDDED_DIGITS_OOD = "digits-ood"
PGD_TEXT = "final iterate of PGD (" + PGD_SETTINGS + ")"
SCORES = {"energy": ("energy score -E(x) = logsumexp f(x)", energy_score),
          "msp": ("maximum softmax probability", max_softmax)}
OOD_TEXT = {EMBEDDED_DIGITS_OOD: "the embedded digits OOD set (8x8 patches of scikit-learn's sample photos, and "
                                 "uniform noise; benchbed.ood)",
            "svhn": "SVHN's test split", "cifar100": "CIFAR-100's test split"}


def _percent_auroc(a, b) -> float:
    return 100.0 * auroc(a, b)


def _percent_ece(confidence, correct) -> float:
    return 100.0 * expected_calibration_error(confidence, correct, ECE_BINS)


def _ood_images(ctx, source: str) -> torch.Tensor:
    if source == EMBEDDED_DIGITS_OOD:
        return digits_ood_images(ctx.indices)
    ood = ctx.cached(f"ood:{source}", lambda: ctx.registry.datasets.get(source).load("test", ctx.data_dir))
    if int(ctx.indices.max(initial=-1)) >= len(ood):
        raise BenchbedError(f"the OOD set {source!r} has {len(ood)} test points, fewer than this track's: run "
                            f"the detection metric on at most {len(ood)} test points (--n-examples)")
    if tuple(ood.images.shape[1:]) != tuple(ctx.images.shape[1:]):
        raise BenchbedError(f"the OOD set {source!r} has images shaped {tuple(ood.images.shape[1:])}, the track's "
                            f"are {tuple(ctx.images.shape[1:])}: use an OOD set of the track's image shape")
    return ood.images[torch.as_tensor(ctx.indices)]


def make_detection_metric(name: str, prefix: str, sources: dict[str, str], *, with_calibration: bool) -> MetricSpec:
    """A detection metric; ``sources``: track dataset -> its OOD set; columns named ``{prefix}...``."""
    def source_for(ctx) -> str:
        source = sources.get(ctx.track.dataset)
        if source is None:
            raise BenchbedError(f"metric {name!r} has no OOD set for dataset {ctx.track.dataset!r} (it knows "
                                f"{', '.join(sorted(sources))}): leave it out of this track's metrics")
        return source

    def compute(ctx) -> MetricOutput:
        source = source_for(ctx)
        adversarial = pgd_final_iterates(ctx)[UNTARGETED]
        logits = {"nat": ctx.clean_logits,
                  "adv": ctx.cached("energy:logits:untargeted_pgd", lambda: ctx.logits(
                      adversarial, "untargeted adversarial inputs")),
                  "ood": ctx.logits(_ood_images(ctx, source), f"out-of-distribution inputs ({source})")}
        arrays = {f"{prefix}{score}_{which}": fn(z) for score, (_, fn) in SCORES.items() for which, z in logits.items()}
        if with_calibration:
            arrays[f"{prefix}correct"] = (ctx.clean_logits.argmax(1) == ctx.labels).numpy()
        return MetricOutput(arrays=arrays, info={"ood_set": source})

    by_set: dict[str, list[str]] = {}
    for dataset, source in sources.items():
        by_set.setdefault(source, []).append(dataset)
    what = "OOD points (" + "; ".join(f"{', '.join(d)}: {OOD_TEXT[s]}" for s, d in by_set.items()) + ")"
    cols = []
    for score, (text, _) in SCORES.items():
        nat, adv, ood = (f"{prefix}{score}_{w}" for w in ("nat", "adv", "ood"))
        cols += [
            Column(f"{prefix}auroc_{score}", f"AUROC (%) of telling natural test points from {what} by the {text}; "
                   "higher = better detector", True, "%", reduce=Reduction("auroc", (nat, ood), _percent_auroc),
                   group="detection",
                   protocol="natural test points vs one OOD point per test index"),
            Column(f"{prefix}auroc_{score}_adv", f"AUROC (%) of telling adversarial test points (untargeted PGD "
                   f"final iterate, the _pgd protocol) from {what} by the {text}; higher = adversarial points still "
                   "read as in-distribution", True, "%", reduce=Reduction("auroc", (adv, ood), _percent_auroc),
                   group="detection", protocol=f"{PGD_TEXT} (untargeted) on all test points vs OOD"),
        ]
        if with_calibration:
            cols.append(Column(
                f"adv_detect_auroc_{score}", f"AUROC (%) of telling natural test points from their untargeted "
                f"PGD final iterates (the _pgd protocol) by the {text} (50 = no signal; below 50 = x* scores "
                "higher)", None, "%",
                reduce=Reduction("auroc", (nat, adv), _percent_auroc), group="detection",
                protocol=f"natural vs {PGD_TEXT} (untargeted), all test points"))
    if with_calibration:
        cols.append(Column(
            "ece", f"expected calibration error (%) of the max-softmax confidence on natural test points, "
            f"{ECE_BINS} equal-width bins; lower = better calibrated", False, "%",
            reduce=Reduction("ece", (f"{prefix}msp_nat", f"{prefix}correct"), _percent_ece), group="detection",
            protocol="all natural test points"))
    return MetricSpec(
        name=name, compute=compute, columns=tuple(cols), info_reduce={"ood_set": "same"},
        description="energy as an OOD detector (energy score and max-softmax AUROC, natural and PGD final-iterate "
                    "adversarial test points vs " + ", ".join(f"{k}: {OOD_TEXT[v]}" for k, v in sources.items()) + ")"
                    + (" and expected calibration error" if with_calibration else ""))


DETECTION = make_detection_metric("detection", "ood_", {"digits": EMBEDDED_DIGITS_OOD, "cifar10": "svhn",
                                                        "cifar100": "svhn"}, with_calibration=True)
DETECTION_CIFAR100 = make_detection_metric("detection_cifar100", "ood_c100_", {"cifar10": "cifar100"},
                                           with_calibration=False)


@hookimpl
def register_metrics(register):
    register(DETECTION)
    register(DETECTION_CIFAR100)
