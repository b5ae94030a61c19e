"""The ``corruptions`` metric: accuracy under the 15 common corruptions at 5 severities, as RobustBench
reports it, and the energy lens on them (natural vs corrupted energy, the energy OOD score).

Test point i of a corruption track is the clean dataset's i-th test image; the metric reads its 75
corrupted copies (:mod:`benchbed.builtin.corruptions`) and keeps, per point, which were classified
correctly and their marginal energies E(x) = -logsumexp f(x). Every column is a reduction of those
arrays (:mod:`benchbed.functional.corruptions`), so shards merge exactly.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from benchbed.builtin.corruptions import CORRUPTIONS, SEVERITIES, corrupted_points, corruption_problems, source_for
from benchbed.contracts.errors import DatasetNotFoundError
from benchbed.contracts.hookspecs import hookimpl
from benchbed.contracts.reductions import Reduction, finite_mean
from benchbed.contracts.specs import Column, MetricOutput, MetricSpec, TrackSpec
from benchbed.functional import corruptions as fc
from benchbed.functional.energy import marginal_energy

NAME = "corruptions"
CORRECT, ENERGY, ENERGY_NAT = "corruption_correct", "corruption_energy", "corruption_energy_nat"
ACCURACY_GROUP, DETAIL_GROUP, ENERGY_GROUP = "corruption accuracy", "corruption x severity", "corruption energy"


def compute(ctx) -> MetricOutput:
    import torch

    dataset = ctx.dataset.name
    source = source_for(dataset)
    n, pairs = len(ctx), [(c, s) for c in CORRUPTIONS for s in SEVERITIES]
    correct = np.zeros((n, len(CORRUPTIONS), len(SEVERITIES)), dtype=bool)
    energy = np.zeros(correct.shape, dtype=np.float64)
    for k, (corruption, severity) in enumerate(pairs):
        ctx.progress(f"{source.folder}: {corruption}, severity {severity} ({k + 1}/{len(pairs)})")
        images, labels = corrupted_points(dataset, ctx.data_dir, corruption, severity, ctx.indices)
        if not torch.equal(labels.long(), ctx.labels.long()):
            raise DatasetNotFoundError(f"{source.folder}: the labels of {corruption} (severity {severity}) differ from "
                                       f"{dataset}'s test labels: these files are not corrupted copies of its test "
                                       f"points in order ({source.how_to_get(ctx.data_dir)})")
        logits = ctx.logits(images, f"{corruption} (severity {severity}) images")
        ci, si = CORRUPTIONS.index(corruption), SEVERITIES.index(severity)
        correct[:, ci, si] = (logits.argmax(1) == labels).numpy()
        energy[:, ci, si] = marginal_energy(logits)
    return MetricOutput(
        arrays={CORRECT: correct, ENERGY: energy, ENERGY_NAT: marginal_energy(ctx.clean_logits)},
        info={"source": source.folder, "preprocessing": source.preprocessing, "corruptions": list(CORRUPTIONS),
              "severities": list(SEVERITIES)})


def check(track: TrackSpec, data_dir: Path | None) -> list[str]:
    """Preflight: every corrupted file the run will read."""
    return corruption_problems(track.dataset, data_dir, track.n_examples)


def _reduction(label: str, inputs: tuple[str, ...], fn, **kwargs) -> Reduction:
    return Reduction(label, inputs, functools.partial(fn, **kwargs) if kwargs else fn)


def _accuracy_columns() -> list[Column]:
    out = [Column("corruption_accuracy", "percent of corrupted test points classified correctly, over the 15 "
                  "corruptions and 5 severities (RobustBench's corruption accuracy)", True, "%",
                  reduce=_reduction("percent_all", (CORRECT,), fc.accuracy), headline=True, rank=1, plot="y",
                  group=ACCURACY_GROUP, protocol="every test point under each corruption at each severity")]
    for si, s in enumerate(SEVERITIES):
        out.append(Column(f"corruption_accuracy_s{s}", f"accuracy at severity {s}, mean over the 15 corruptions",
                          True, "%", reduce=_reduction(f"percent_s{s}", (CORRECT,), fc.accuracy, severity=si),
                          group=ACCURACY_GROUP))
    for ci, c in enumerate(CORRUPTIONS):
        out.append(Column(f"corruption_accuracy_{c}", f"accuracy under {c.replace('_', ' ')}, mean over the 5 "
                          f"severities", True, "%", reduce=_reduction(f"percent_{c}", (CORRECT,), fc.accuracy,
                                                                       corruption=ci), group=ACCURACY_GROUP))
    for ci, c in enumerate(CORRUPTIONS):
        for si, s in enumerate(SEVERITIES):
            out.append(Column(f"corruption_accuracy_{c}_s{s}", f"accuracy under {c.replace('_', ' ')} at severity {s}",
                              True, "%", reduce=_reduction(f"percent_{c}_s{s}", (CORRECT,), fc.accuracy,
                                                           corruption=ci, severity=si), group=DETAIL_GROUP))
    return out


def _energy_columns() -> list[Column]:
    out = [Column("corruption_energy_nat", "mean marginal energy E(x) = -logsumexp f(x) of the clean test points",
                  None, "energy", reduce=_reduction("mean", (ENERGY_NAT,), finite_mean), group=ENERGY_GROUP)]
    for si, s in enumerate(SEVERITIES):
        both = (ENERGY_NAT, ENERGY)
        out += [
            Column(f"corruption_energy_s{s}", f"mean energy of the corrupted points at severity {s} (15 corruptions)",
                   None, "energy", reduce=_reduction(f"mean_s{s}", (ENERGY,), fc.mean_energy, severity=si),
                   group=ENERGY_GROUP),
            Column(f"corruption_delta_energy_s{s}", f"mean energy shift E(corrupted x) - E(x) at severity {s}: > 0 "
                   f"when corruption raises the energy (reads the point as less likely)", None, "energy",
                   reduce=_reduction(f"shift_s{s}", both, fc.mean_energy_shift, severity=si), group=ENERGY_GROUP),
            Column(f"corruption_energy_w1_s{s}", f"1-Wasserstein distance between the natural and the severity-{s} "
                   f"energy distributions", None, "energy",
                   reduce=_reduction(f"w1_s{s}", both, fc.energy_w1, severity=si), group=ENERGY_GROUP),
            Column(f"corruption_ood_auroc_s{s}", f"AUROC of the energy score -E telling natural points from their "
                   f"severity-{s} corrupted copies (50% = indistinguishable)", None, "%",
                   reduce=_reduction(f"auroc_s{s}", both, _percent_auroc, severity=si), plot="x" if s == 5 else "",
                   group=ENERGY_GROUP, protocol="natural test points positive, corrupted copies negative"),
        ]
    return out


def _percent_auroc(e_nat, e_cor, severity: int) -> float:
    return 100.0 * fc.energy_ood_auroc(e_nat, e_cor, severity)


COLUMNS = tuple(_accuracy_columns() + _energy_columns())


@hookimpl
def register_metrics(register):
    register(MetricSpec(
        name=NAME, compute=compute, columns=COLUMNS, check=check,
        description="accuracy under 15 common corruptions x 5 severities (CIFAR-10-C, CIFAR-100-C, ImageNet-C) and "
                    "the energy lens: natural vs corrupted energy and the energy OOD AUROC per severity",
    ))
