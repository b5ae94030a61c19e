"""Built-in accuracy metrics (percent, 0-100)."""
from __future__ import annotations

from ..hookspecs import hookimpl
from ..specs import Column, MetricResult, MetricSpec
from ..units import percent_of, sum_counts, union_lists


def percent(flags) -> float:
    """Percent of true flags of a tensor: the same arithmetic as the shard merge (``percent_of``)."""
    return percent_of(flags.bool().cpu().numpy())


def clean_accuracy(ctx) -> MetricResult:
    correct = ctx.clean_correct
    return MetricResult(
        values={"clean_accuracy": percent(correct)},
        arrays={"clean_correct": correct.numpy(), "clean_prediction": ctx.clean_logits.argmax(1).numpy()},
    )


def robust_accuracy(ctx) -> MetricResult:
    result = ctx.attack_result
    return MetricResult(
        values={"robust_accuracy": percent(result.robust)},
        arrays={"robust": result.robust.numpy()},
        info={"attack": ctx.track.attack, "attack_version": result.version,
              "flipped_by": dict(result.flipped_by), "warnings": list(result.warnings)},
    )


def merge_clean_accuracy(arrays, infos) -> MetricResult:
    """clean_accuracy of several shards, recomputed from their concatenated per-point flags."""
    return MetricResult(values={"clean_accuracy": percent_of(arrays["clean_correct"])})


def merge_robust_accuracy(arrays, infos) -> MetricResult:
    """robust_accuracy from the merged per-point robust flags; attack counts summed over shards."""
    first = infos[0] if infos else {}
    return MetricResult(
        values={"robust_accuracy": percent_of(arrays["robust"])},
        info={"attack": first.get("attack"), "attack_version": first.get("attack_version"),
              "flipped_by": sum_counts(infos, "flipped_by"), "warnings": union_lists(infos, "warnings")},
    )


@hookimpl
def register_metrics(register):
    register(MetricSpec(
        name="clean_accuracy", compute=clean_accuracy, merge=merge_clean_accuracy,
        description="accuracy on the track's unperturbed test points",
        columns=(Column("clean_accuracy", "percent of test points classified correctly", True, "%"),),
    ))
    register(MetricSpec(
        name="robust_accuracy", compute=robust_accuracy, merge=merge_robust_accuracy, needs_attack=True,
        description="accuracy under the track's attack (AutoAttack by default), worst case per point",
        columns=(Column("robust_accuracy", "percent of test points still classified correctly under the "
                        "track's attack at its norm and eps", True, "%"),),
    ))
