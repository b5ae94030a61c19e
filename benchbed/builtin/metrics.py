"""Built-in accuracy metrics (percent, 0-100): per-point flags, reduced by ``percent``."""
from __future__ import annotations

from benchbed.contracts.hookspecs import hookimpl
from benchbed.contracts.reductions import percent
from benchbed.contracts.specs import Column, MetricOutput, MetricSpec


def clean_accuracy(ctx) -> MetricOutput:
    logits = ctx.clean_logits
    return MetricOutput(arrays={"clean_correct": ctx.clean_correct.numpy(),
                                "clean_prediction": logits.argmax(1).numpy()})


def robust_accuracy(ctx) -> MetricOutput:
    result = ctx.attack_result
    ctx.adversarial_logits  # noqa: B018 -- checks the model's logits on x_adv are finite
    return MetricOutput(arrays={"robust": result.robust.numpy()})


@hookimpl
def register_metrics(register):
    register(MetricSpec(
        name="clean_accuracy", compute=clean_accuracy,
        description="accuracy on the track's unperturbed test points",
        columns=(Column("clean_accuracy", "percent of test points classified correctly", True, "%",
                        reduce=percent("clean_correct"), headline=True, rank=2, group="accuracy"),),
    ))
    register(MetricSpec(
        name="robust_accuracy", compute=robust_accuracy, requires=("attack",),
        description="accuracy under the track's attack (AutoAttack by default), worst case per point",
        columns=(Column("robust_accuracy", "percent of test points still classified correctly under the "
                        "track's attack at its norm and eps", True, "%", reduce=percent("robust"), headline=True,
                        rank=1, plot="y", group="accuracy"),),
    ))
