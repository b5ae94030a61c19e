"""An outsider's plugin for the presentation tests: a metric whose per-point array asks for a histogram, a
study with its own figure, and an attack that explains its warning. It imports only benchbed.plugin."""
from __future__ import annotations

import numpy as np

from benchbed.plugin import (
    ArrayPlot,
    ArraySeries,
    AttackSpec,
    Column,
    Figure,
    FlagExplanation,
    MetricOutput,
    MetricSpec,
    Series,
    StudyArgument,
    StudySpec,
    hookimpl,
    mean,
    prepare_study,
    study_result,
)


def _margins(ctx) -> MetricOutput:
    top2 = ctx.clean_logits.topk(2, dim=1).values
    return MetricOutput(arrays={"outsider_margin": (top2[:, 0] - top2[:, 1]).numpy()})


@hookimpl
def register_metrics(register):
    register(MetricSpec(
        name="logit-margin", compute=_margins, description="gap between the two largest logits",
        columns=(Column("mean_logit_margin", "mean gap between the two largest logits", None, "logits",
                        reduce=mean("outsider_margin")),),
        unit_texts={"logits": "logit units"},
        figures=(ArrayPlot(name="margins", kind="histogram", section="Logit margins",
                           title="Top-1 minus top-2 logit", unit="logit units", x_label="f(x)[top] − f(x)[second]",
                           series=(ArraySeries("outsider_margin", "natural points", "nat"),),
                           caption="per test point."),),
    ))


def _never(request):
    raise NotImplementedError("only its flag explanation is used here")


@hookimpl
def register_attacks(register):
    register(AttackSpec(name="outsider-attack", norms=("Linf",), run=_never, flag_explanations=(
        FlagExplanation("wobbly", "The outsider attack saw the logits wobble.", match="wobble",
                        ref_url="https://example.org/flags#wobbly", ref_text="the outsider's flag notes"),)))


def _run_confidence(request):
    import torch

    setup = prepare_study(request)
    temperatures = request.options["temperatures"]
    with torch.no_grad():
        logits = setup.model(setup.points.images)
    rows = []
    for t in temperatures:
        p = torch.softmax(logits / t, dim=1).amax(dim=1)
        rows.append({"temperature": float(t), "mean_confidence": float(100 * p.mean())})
    study = study_result(setup, "confidence-curve", params={"temperatures": ",".join(map(str, temperatures))},
                         rows=rows, columns=(("temperature", "", "softmax temperature"),
                                             ("mean_confidence", "%", "mean top-class probability")),
                         summary={"points": len(setup.points)}, wall_time_s=0.0)
    return study, {"temperature": np.asarray(temperatures, dtype=float)}


def _confidence_figures(study, arrays):
    x = [r["temperature"] for r in study.rows]
    return [Figure(kind="line", title="Mean confidence vs temperature", caption="% of points",
                   series=(Series("mean confidence", "nat", x=x, y=[r["mean_confidence"] for r in study.rows]),),
                   x_label="temperature (no unit)", y_label="mean confidence (%)")]


@hookimpl
def register_studies(register):
    register(StudySpec(
        name="confidence-curve", title="confidence against softmax temperature", run=_run_confidence,
        description="mean top-class probability over a grid of softmax temperatures",
        arguments=(StudyArgument("temperatures", float, (0.5, 1.0, 2.0), many=True, help="temperatures"),),
        figures=_confidence_figures, note="An outsider's study, drawn from its own declaration."))
