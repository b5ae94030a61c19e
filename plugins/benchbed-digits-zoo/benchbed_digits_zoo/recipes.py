"""What each zoo model is trained with: recipes and settings as plain data (no torch, cheap to import).

Every recipe trains the same :class:`~.architecture.DigitsCNN` on the 1,348 digits training images
(batch 64, seed 0); the five classifiers share one optimiser and schedule (SGD Nesterov, one-cycle lr
0.05, 40 epochs) and differ only in the loss:

- ``standard``: cross-entropy on natural images.
- ``PGD-AT`` (Madry et al. 2018): cross-entropy on PGD-Linf examples (random start).
- ``TRADES`` (Zhang et al. 2019): CE(f(x), y) + beta KL(p(.|x) || p(.|x*)), x* maximising the KL.
- ``WEAT`` (Mirza et al. 2024), two variants, each sample weighted by w(x) = 1 / softplus(|E(x)|):
  ``adv`` = w [CE(f(x*), y) + beta KL] (``digits-cnn-weat``), ``nat`` = w [CE(f(x), y) + beta KL]
  (``digits-cnn-weat-nat``, the papers' default).

and two joint (discriminative-generative) recipes, each following its official code (see the README's
"Official recipes" table for the line each setting matches):

- ``JEM`` (Grathwohl et al. 2020): CE + maximum likelihood of log p(x) = logsumexp f(x), with SGLD
  samples from a replay buffer; Adam; two data streams (p(x) and labelled p(y|x)).
- ``DAT`` (Yin et al. 2025): stage 1 = the shipped PGD-AT checkpoint; stage 2 = BCE on the energy
  (real vs generated negatives, generation-length curriculum) + adversarial CE, EMA of the weights.

The training loop is :mod:`.training`, the losses :mod:`.losses` and :mod:`.joint`; this module is
what they read, what the plugin's footnotes are written from, and what the training series extends.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

EPS = 0.2  # Linf radius used for training (twice the digits-linf track's eval eps 0.1)
PGD_STEPS = 10
PGD_STEP_SIZE = 2.5 * EPS / PGD_STEPS
BETA = 6.0  # TRADES / WEAT trade-off
TRADES_INIT_STD = 0.001


# -- the joint recipes' settings -------------------------------------------------------------------
@dataclass(frozen=True)
class JemSettings:
    """JEM's protocol, rescaled from its [-1, 1] inputs to the zoo's [0, 1] pixels (x' = 2x - 1: a step
    alpha grad_x' in x' is alpha/4 grad_x in x, noise sigma in x' is sigma/2 in x)."""

    sgld_steps: int = 20
    sgld_step_size: float = 0.25  # JEM's alpha = 1 on [-1, 1]
    sgld_noise: float = 0.005  # JEM's sigma = 0.01 on [-1, 1]
    buffer_size: int = 1000  # JEM: 10,000 for 50,000 CIFAR images; the digits have 1,348
    reinit_probability: float = 0.05  # each drawn buffer entry restarts from U[0, 1] with this probability
    data_noise: float = 0.015  # JEM adds N(0, 0.03^2) on [-1, 1] to the training images
    energy_weight: float = 1.0  # p(x) term, as JEM's p_x_weight
    magnitude_weight: float = 0.0  # energy-magnitude regulariser (0 = JEM as published)

    def describe(self) -> str:
        return (f"SGLD {self.sgld_steps} steps, alpha {self.sgld_step_size:g}, sigma {self.sgld_noise:g}, "
                f"replay buffer {self.buffer_size} (each draw re-initialised from U[0, 1] with probability "
                f"{self.reinit_probability:g}), data noise {self.data_noise:g}, p(x) and p(y|x) terms on two "
                f"independently shuffled batches, " + (f"energy-magnitude weight {self.magnitude_weight:g}"
                                                       if self.magnitude_weight else "no energy regulariser"))


@dataclass(frozen=True)
class DatSettings:
    """DAT's stage 2 on the digits. The classifier's adversary is the zoo's Linf PGD (eps 0.2)."""

    gen_step_size: float = 0.1  # L2 length of one generation step (DAT: 0.1)
    start_steps: int = 0  # generation length at the start of the curriculum (DAT: 0)
    max_steps: int = 40  # longest generation (DAT's T)
    auc_threshold: float = 0.8  # lengthen the generation once the windowed real-vs-generated AUC reaches it
    auc_window: int = 16  # batches (DAT: ceil(1000 images / batch size))
    ema_decay: float = 0.999  # DAT's; warmed up as min(decay, (1 + n) / (10 + n)) after n updates
    clf_weight: float = 1.0
    blur_passes: int = 3

    def describe(self) -> str:
        return (f"negatives: L2 ascent of f(x)[y] (step {self.gen_step_size:g}, unconstrained, clipped to [0, 1]) "
                f"from OOD seeds (uniform noise / pixel-shuffled / blurred digits), generation length "
                f"{self.start_steps} -> {self.max_steps} steps, +1 when the mean AUC of f(x)[y] (real vs generated) "
                f"over {self.auc_window} batches reaches {self.auc_threshold:g}; EMA decay "
                f"min({self.ema_decay:g}, (1 + n)/(10 + n)) after n updates")


JEM = JemSettings()
DAT = DatSettings()


# -- recipes ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Recipe:
    name: str  # the registered model name (and checkpoint file stem)
    recipe: str  # standard / PGD-AT / TRADES / WEAT / JEM / DAT
    loss: str  # key of :data:`.losses.OBJECTIVES`: a per-batch loss or a stateful joint objective
    epochs: int = 40
    batch_size: int = 64
    drop_last: bool = False  # drop the last incomplete batch of each epoch (as a DataLoader with drop_last)
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    seed: int = 0
    optimizer: str = "sgd"  # "sgd" (Nesterov) or "adam"
    schedule: str = "onecycle"  # "onecycle" (peak lr, 25% warm-up, cosine) or "piecewise" (see maths)
    milestones: tuple[int, ...] = ()  # piecewise: epochs at which the lr is multiplied by gamma
    gamma: float = 0.1
    warmup_steps: int = 0  # piecewise: linear warm-up over this many optimiser steps
    init_from: str | None = None  # start from this shipped checkpoint (sha256-checked) instead of the seed's init

    def steps_per_epoch(self, n_images: int) -> int:
        return n_images // self.batch_size if self.drop_last else -(-n_images // self.batch_size)

    def describe(self) -> str:
        """The optimiser and schedule in words (for footnotes and manifests)."""
        opt = (f"SGD Nesterov momentum {self.momentum:g}" if self.optimizer == "sgd" else "Adam") + \
            f", weight decay {self.weight_decay:g}"
        if self.schedule == "onecycle":
            sched = f"one-cycle lr {self.lr:g}"
        else:
            decays = ", ".join(f"x{self.gamma:g} at epoch {m}" for m in self.milestones)
            sched = f"lr {self.lr:g}" + (f" ({decays})" if decays else " constant")
            if self.warmup_steps:
                sched += f", {self.warmup_steps}-step linear warm-up"
        start = f", from {self.init_from}" if self.init_from else ""
        batch = f"batch {self.batch_size}" + (" (last incomplete batch dropped)" if self.drop_last else "")
        return f"{self.epochs} epochs, {batch}, {opt}, {sched}, seed {self.seed}{start}"


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe("digits-cnn-standard", "standard", "standard"),
        Recipe("digits-cnn-pgdat", "PGD-AT", "pgd-at"),
        Recipe("digits-cnn-trades", "TRADES", "trades"),
        Recipe("digits-cnn-weat", "WEAT", "weat-adv"),
        Recipe("digits-cnn-weat-nat", "WEAT", "weat-nat"),
        # JEM: Adam, JEM's schedule shape (lr x0.3 at 80% and 90% of training, warm-up), lr 1e-3 instead of
        # 1e-4 because the digits run has 840 steps where JEM's CIFAR run has ~150,000; drop_last as JEM's loaders
        Recipe("digits-cnn-jem", "JEM", "jem", drop_last=True, optimizer="adam", lr=1e-3, weight_decay=0.0,
               schedule="piecewise", milestones=(32, 36), gamma=0.3, warmup_steps=22),
        # DAT stage 2: SGD at a constant lr (DAT: 0.001 for ~100k CIFAR steps; 0.005 here for 630 steps),
        # starting from the shipped PGD-AT checkpoint (stage 1); drop_last as DAT's training loaders
        Recipe("digits-cnn-dat", "DAT", "dat", epochs=30, drop_last=True, lr=0.005, schedule="piecewise",
               init_from="digits-cnn-pgdat"),
    )
}


# -- the training series (dynamics study) ------------------------------------------------------------
SERIES_MODELS = ("digits-cnn-pgdat", "digits-cnn-trades")
SERIES_EPOCHS = 200
SERIES_LR = 0.05
SERIES_MILESTONES = (100, 150)
SERIES_GAMMA = 0.1


def series_recipe(name: str, epochs: int = SERIES_EPOCHS) -> Recipe:
    """The long-run variant of the zoo's recipe ``name`` on Rice et al.'s schedule (same loss, optimiser,
    batch and seed); see :mod:`.series`."""
    return dataclasses.replace(RECIPES[name], epochs=epochs, lr=SERIES_LR, schedule="piecewise",
                               milestones=SERIES_MILESTONES, gamma=SERIES_GAMMA)


def series_lr_at(epoch: int) -> float:
    """The series' lr during ``epoch`` (from 1)."""
    return SERIES_LR * SERIES_GAMMA ** sum(epoch > m for m in SERIES_MILESTONES)


def describe_series(epochs: int = SERIES_EPOCHS) -> str:
    decays = ", ".join(f"x{SERIES_GAMMA:g} at epoch {m}" for m in SERIES_MILESTONES)
    return (f"{epochs} epochs, piecewise-constant lr {SERIES_LR:g} ({decays}; Rice et al. 2020), "
            f"a checkpoint per epoch")
