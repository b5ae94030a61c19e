"""benchbed plugin: registers the digits zoo's seven models.

benchbed finds this module through the entry point in pyproject.toml::

    [project.entry-points.benchbed]
    digits-zoo = "benchbed_digits_zoo.plugin"

It stays cheap to import: listing plugins must not pay for torch. At import it reads only plain
data (:mod:`.recipes`, :mod:`.checksums`); the torch modules (:mod:`.architecture`, :mod:`.series`)
are imported by the loaders below when ``ModelSpec.load(device)`` or ``ModelSpec.training_series()``
is first called. Those two imports are inside functions for that cost only: nothing imports this
module back, so they close no import cycle.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from benchbed.plugin import ModelSpec, hookimpl, load_state_dict

from .checksums import CHECKPOINT_DIR, CHECKSUMS, checkpoint_path
from .recipes import DAT, EPS, JEM, PGD_STEPS, RECIPES, SERIES_MODELS, describe_series

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
        "JEM", f"CE + maximum likelihood of log p(x) = logsumexp f(x) (loss mean E(x_data) - mean E(x_sgld)); "
               f"{JEM.describe()} (JEM's alpha 1 and sigma 0.01 rescaled from [-1, 1] to [0, 1] pixels, clipped "
               f"to [0, 1]); "
               f"{RECIPES['digits-cnn-jem'].describe()}; no adversarial training",
        family="joint", sampler="jem-sgld"),
    "digits-cnn-dat": ZooModel(
        "DAT", f"stage 1: the zoo's PGD-AT checkpoint; stage 2 ({RECIPES['digits-cnn-dat'].describe()}): BCE with "
               f"logsumexp f(x) as the logit, real digits vs generated ones ({DAT.describe()}), + CE on "
               f"PGD-Linf examples (eps {EPS:g}, {PGD_STEPS} steps; DAT uses L2 0.5) of a separately shuffled "
               f"batch; the checkpoint is the EMA of the weights",
        family="joint", sampler="dat-pgd"),
}

SERIES_NOTE = (f"training_series: a separate run, {describe_series()}; built on first use into "
               f"$BENCHBED_CACHE/digits-zoo-series")


def load_checkpoint(name: str, device):
    """Build the architecture and load ``checkpoints/<name>.pt`` after checking its sha256."""
    from .architecture import build_model  # torch: only once a model is loaded

    model = build_model()
    model.load_state_dict(load_state_dict(checkpoint_path(name, CHECKPOINT_DIR), CHECKSUMS[name], device))
    return model.to(device).eval()


def training_series(name: str):
    """``ModelSpec.training_series``: the per-epoch checkpoints of ``name``'s long run (built on first use)."""
    from . import series  # torch: only once a series is asked for

    return series.training_series(name)


def model_spec(name: str) -> ModelSpec:
    zoo = MODELS[name]
    paper, venue, link = PAPERS[zoo.recipe]
    has_series = name in SERIES_MODELS
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
        training_series=functools.partial(training_series, name) if has_series else None,
        extra=extra,
    )


@hookimpl
def register_models(register):
    for name in MODELS:
        register(model_spec(name))
