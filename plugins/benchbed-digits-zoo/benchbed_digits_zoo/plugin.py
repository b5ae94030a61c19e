"""benchbed plugin: registers the digits zoo's four models.

benchbed finds this module through the entry point in pyproject.toml::

    [project.entry-points.benchbed]
    digits-zoo = "benchbed_digits_zoo.plugin"

It stays cheap to import (no torch here): listing plugins must not pay for torch. The model is
built and its checkpoint checked and loaded only when ``ModelSpec.load(device)`` is called.
"""
from __future__ import annotations

import functools
from pathlib import Path

from benchbed.hookspecs import hookimpl
from benchbed.specs import ModelSpec

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
}

# model name -> (recipe, footnote)
MODELS = {
    "digits-cnn-standard": ("standard", "cross-entropy on natural images, no defence"),
    "digits-cnn-pgdat": ("PGD-AT", "CE on PGD-Linf examples (eps 0.2, 10 steps, random start)"),
    "digits-cnn-trades": ("TRADES", "beta 6, KL inner maximisation (eps 0.2, 10 steps)"),
    "digits-cnn-weat": ("WEAT", "TRADES terms (CE at x*), beta 6, weights 1/softplus(|E(x)|)"),
}


def load_checkpoint(name: str, device):
    """Build the architecture and load ``checkpoints/<name>.pt`` after checking its sha256."""
    from benchbed.checkpoints import load_state_dict

    from .architecture import build_model

    model = build_model()
    model.load_state_dict(load_state_dict(CHECKPOINT_DIR / f"{name}.pt", CHECKSUMS[name], device))
    return model.to(device).eval()


@hookimpl
def register_models(register):
    for name, (recipe, footnote) in MODELS.items():
        paper, venue, link = PAPERS[recipe]
        register(ModelSpec(
            name=name,
            dataset="digits",
            threat_models=("Linf",),
            architecture=ARCHITECTURE,
            recipe=recipe,
            loader=functools.partial(load_checkpoint, name),
            paper=paper,
            venue=venue,
            link=link,
            extra_data=False,
            checkpoint_sha256=CHECKSUMS[name],
            footnote=footnote,
        ))
