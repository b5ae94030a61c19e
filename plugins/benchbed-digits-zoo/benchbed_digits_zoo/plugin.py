"""benchbed plugin: registers the digits zoo's seven models.

benchbed finds this module through the entry point in pyproject.toml::

    [project.entry-points.benchbed]
    digits-zoo = "benchbed_digits_zoo.plugin"

It stays cheap to import (no torch here): listing plugins must not pay for torch. The model is
built and its checkpoint checked and loaded only when ``ModelSpec.load(device)`` is called; a
training series is built (or found in the cache) only when ``ModelSpec.training_series()`` is called.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchbed.plugin import ModelSpec, hookimpl

from . import series
from .checksums import CHECKSUMS

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
ARCHITECTURE = "DigitsCNN (conv16-conv32/2-fc128)"  # == architecture.ARCHITECTURE (kept here: no torch import)

# recipe -> (paper, venue, link)
PAPERS = {
    "standard": ("benchbed digits zoo", "", ""),
    "PGD-AT": ("Towards Deep Learning Models Resistant to Adversarial Attacks (Madry et al.)", "ICLR 2018",
               "https://arxiv.org/abs/1706.06083"),
    "TRADES": ("Theoretically Principled Trade-off between Robustness and Accuracy (Zhang et al.)", "ICML 2019",
               "https://arxiv.org/abs/1901.08573"),
    "WEAT": ("Shedding More Light on Robust Classifiers under the lens of Energy-based Models (Mirza et al.)",
             "ECCV 2024", "https://arxiv.org/abs/2407.06315"),
    "JEM": ("Your Classifier is Secretly an Energy Based Model and You Should Treat it Like One (Grathwohl et al.)",
            "ICLR 2020", "https://arxiv.org/abs/1912.03263"),
    "DAT": ("Joint Discriminative-Generative Modeling via Dual Adversarial Training (Yin et al.)", "arXiv 2025",
            "https://arxiv.org/abs/2510.13872"),
}

ONE_CYCLE = "40 epochs, SGD Nesterov, one-cycle lr 0.05, batch 64, seed 0"


@dataclass(frozen=True)
class ZooModel:
    recipe: str
    footnote: str
    family: str = "classifier"  # "joint": trained as a discriminative-generative model
    sampler: str = "sgld"  # the sampler its authors use (benchbed's registered sampler name)
    extra: dict[str, Any] = field(default_factory=dict)


MODELS: dict[str, ZooModel] = {
    "digits-cnn-standard": ZooModel("standard", f"cross-entropy on natural images, no defence; {ONE_CYCLE}"),
    "digits-cnn-pgdat": ZooModel(
        "PGD-AT", f"CE on PGD-Linf examples (eps 0.2, 10 steps, random start); {ONE_CYCLE}"),
    "digits-cnn-trades": ZooModel("TRADES", f"beta 6, KL inner maximisation (eps 0.2, 10 steps); {ONE_CYCLE}"),
    "digits-cnn-weat": ZooModel(
        "WEAT", f"WEAT_adv: w [CE(f(x*), y) + 6 KL(p(x) || p(x*))], w = 1/softplus(|E(x)|), x* by 10 KL-ascent "
                f"steps in Linf eps 0.2; {ONE_CYCLE}", extra={"weat_variant": "adv"}),
    "digits-cnn-weat-nat": ZooModel(
        "WEAT", f"WEAT_nat (the papers' default): w [CE(f(x), y) + 6 KL(p(x) || p(x*))], w = 1/softplus(|E(x)|), "
                f"x* by 10 KL-ascent steps in Linf eps 0.2; {ONE_CYCLE}", extra={"weat_variant": "nat"}),
    "digits-cnn-jem": ZooModel(
        "JEM", "CE + maximum likelihood of log p(x) = logsumexp f(x) (loss mean E(x_data) - mean E(x_sgld)); "
               "SGLD 20 steps, alpha 0.25, sigma 0.005 (JEM's 1 and 0.01 rescaled from [-1, 1] to [0, 1] pixels), "
               "clipped to [0, 1], replay buffer 1000 (5% re-initialised from U[0, 1] per batch), data noise 0.015, "
               "no energy regulariser; Adam lr 0.001 (x0.3 at epochs 32 and 36), 40 epochs, batch 64, seed 0; "
               "no adversarial training",
        family="joint", sampler="jem-sgld"),
    "digits-cnn-dat": ZooModel(
        "DAT", "stage 1: the zoo's PGD-AT checkpoint; stage 2 (30 epochs, SGD Nesterov lr 0.005 constant, batch 64): "
               "BCE with logsumexp f(x) as the logit, real digits vs negatives made by L2 ascent of f(x)[y] (step "
               "0.1, clipped to [0, 1]) from noise / pixel-shuffled / blurred digits, generation length 0 -> 40 steps "
               "(+1 when the mean AUC over 16 batches reaches 0.8), + CE on PGD-Linf examples (eps 0.2, 10 steps; "
               "DAT uses L2 0.5); the checkpoint is the EMA of the weights (decay 0.99)",
        family="joint", sampler="dat-pgd"),
}

SERIES_NOTE = (f"training_series: a separate run, {series.describe()}; built on first use into "
               f"$BENCHBED_CACHE/digits-zoo-series")


def load_checkpoint(name: str, device):
    """Build the architecture and load ``checkpoints/<name>.pt`` after checking its sha256."""
    from benchbed.plugin import load_state_dict

    from .architecture import build_model

    model = build_model()
    model.load_state_dict(load_state_dict(CHECKPOINT_DIR / f"{name}.pt", CHECKSUMS[name], device))
    return model.to(device).eval()


def model_spec(name: str) -> ModelSpec:
    zoo = MODELS[name]
    paper, venue, link = PAPERS[zoo.recipe]
    has_series = name in series.SERIES_MODELS
    extra = {**zoo.extra, **({"training_series": SERIES_NOTE} if has_series else {})}
    return ModelSpec(
        name=name,
        dataset="digits",
        threat_models=("Linf",),
        architecture=ARCHITECTURE,
        recipe=zoo.recipe,
        loader=functools.partial(load_checkpoint, name),
        paper=paper,
        venue=venue,
        link=link,
        extra_data=False,
        checkpoint_sha256=CHECKSUMS[name],
        footnote=zoo.footnote,
        family=zoo.family,
        sampler=zoo.sampler,
        training_series=functools.partial(series.training_series, name) if has_series else None,
        extra=extra,
    )


@hookimpl
def register_models(register):
    for name in MODELS:
        register(model_spec(name))
