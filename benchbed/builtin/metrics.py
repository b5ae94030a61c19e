"""Built-in accuracy metrics (percent, 0-100)."""
from __future__ import annotations

from ..hookspecs import hookimpl
from ..specs import Column, MetricResult, MetricSpec


def percent(flags) -> float:
    flags = flags.bool()
    return 100.0 * float(flags.sum()) / max(1, int(flags.numel()))


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


@hookimpl
def register_metrics(register):
    register(MetricSpec(
        name="clean_accuracy", compute=clean_accuracy,
        description="accuracy on the track's unperturbed test points",
        columns=(Column("clean_accuracy", "percent of test points classified correctly", True, "%"),),
    ))
    register(MetricSpec(
        name="robust_accuracy", compute=robust_accuracy, needs_attack=True,
        description="accuracy under the track's attack (AutoAttack by default), worst case per point",
        columns=(Column("robust_accuracy", "percent of test points still classified correctly under the "
                        "track's attack at its norm and eps", True, "%"),),
    ))
