"""The recipes' training objectives: the classifiers' per-batch losses, their inner maximisations, and
the table :data:`OBJECTIVES` that :mod:`.training` builds each recipe's objective from.

Every objective has one interface: ``objective(model, x, y, generator) -> loss`` once per batch, then
``after_step(model)`` after the optimiser step, ``final_model(model)`` (what is saved) and ``stats()``.
The classifiers' losses are stateless and wrapped in :class:`StatelessObjective`; JEM and DAT keep state
(:mod:`.joint`).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .data import Batches
from .joint import DatObjective, JemObjective
from .maths import kl_per_sample, project_linf, weat_weights
from .recipes import BETA, DAT, EPS, JEM, PGD_STEP_SIZE, PGD_STEPS, TRADES_INIT_STD, Recipe


# -- inner maximisations ---------------------------------------------------------------------------
def pgd_linf(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int, step_size: float,
             generator: torch.Generator) -> torch.Tensor:
    """Madry's PGD: uniform random start in the eps ball, sign-gradient ascent steps on CE, projection."""
    noise = torch.rand(x.shape, generator=generator, dtype=x.dtype) * (2 * eps) - eps
    x_adv = project_linf(x + noise, x, eps)
    for _ in range(steps):
        x_adv.requires_grad_(True)
        loss = F.cross_entropy(model(x_adv), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, x_adv)
        x_adv = project_linf(x_adv.detach() + step_size * grad.sign(), x, eps)
    return x_adv.detach()


def trades_inner(model: nn.Module, x: torch.Tensor, eps: float, steps: int, step_size: float,
                 generator: torch.Generator) -> torch.Tensor:
    """TRADES' x*: start at x + 0.001 N(0, I), sign-gradient ascent on KL(p(.|x) || p(.|x*)), projection."""
    with torch.no_grad():
        logits_nat = model(x)
    noise = TRADES_INIT_STD * torch.randn(x.shape, generator=generator, dtype=x.dtype)
    x_adv = project_linf(x + noise, x, eps)
    for _ in range(steps):
        x_adv.requires_grad_(True)
        loss = kl_per_sample(logits_nat, model(x_adv)).sum()
        (grad,) = torch.autograd.grad(loss, x_adv)
        x_adv = project_linf(x_adv.detach() + step_size * grad.sign(), x, eps)
    return x_adv.detach()


def pgd_adversary(model, x, y, generator):
    """The zoo's Linf adversary (eps 0.2, 10 steps of 0.05, random start), for DAT's classifier term."""
    return pgd_linf(model, x, y, EPS, PGD_STEPS, PGD_STEP_SIZE, generator)


# -- the classifiers' losses -------------------------------------------------------------------------
def standard_loss(model, x, y, generator):
    return F.cross_entropy(model(x), y)


def pgd_at_loss(model, x, y, generator):
    return F.cross_entropy(model(pgd_adversary(model, x, y, generator)), y)


def trades_loss(model, x, y, generator):
    x_adv = trades_inner(model, x, EPS, PGD_STEPS, PGD_STEP_SIZE, generator)
    logits_nat, logits_adv = model(x), model(x_adv)
    return F.cross_entropy(logits_nat, y) + BETA * kl_per_sample(logits_nat, logits_adv).mean()


def _weat_loss(model, x, y, generator, ce_on_adversarial: bool):
    """(1/B) sum_i w_i [CE(f(x'_i), y_i) + beta KL(p(.|x_i) || p(.|x*_i))], w_i = 1/softplus(|E(x_i)|), x' = x* or x.
    Both terms weighted, weights not normalised (as in the official WEAT code)."""
    x_adv = trades_inner(model, x, EPS, PGD_STEPS, PGD_STEP_SIZE, generator)
    logits_nat, logits_adv = model(x), model(x_adv)
    ce_logits = logits_adv if ce_on_adversarial else logits_nat
    per_sample = F.cross_entropy(ce_logits, y, reduction="none") + BETA * kl_per_sample(logits_nat, logits_adv)
    return (weat_weights(logits_nat) * per_sample).mean()


def weat_loss(model, x, y, generator):
    """WEAT_adv: the CE at the adversarial x* (the zoo's ``digits-cnn-weat``)."""
    return _weat_loss(model, x, y, generator, ce_on_adversarial=True)


def weat_nat_loss(model, x, y, generator):
    """WEAT_nat: the CE at the natural x (the papers' default; ``digits-cnn-weat-nat``)."""
    return _weat_loss(model, x, y, generator, ce_on_adversarial=False)


LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]


class StatelessObjective:
    """A per-batch loss behind the objective interface (nothing to update, the model itself is saved)."""

    def __init__(self, loss: LossFn):
        self.loss = loss

    def __call__(self, model, x, y, generator):
        return self.loss(model, x, y, generator)

    def after_step(self, model: nn.Module) -> None:
        pass

    def final_model(self, model: nn.Module) -> nn.Module:
        return model

    def stats(self) -> dict[str, Any]:
        return {}


# -- the table the training loop reads ----------------------------------------------------------------
# Each factory gets (recipe, model at its start, generator, training images, training labels), once per run.
ObjectiveFactory = Callable[[Recipe, nn.Module, torch.Generator, torch.Tensor, torch.Tensor], Any]


def _stateless(loss: LossFn) -> ObjectiveFactory:
    return lambda recipe, model, generator, images, labels: StatelessObjective(loss)


def _jem(recipe, model, generator, images, labels):
    labelled = Batches(images, labels, recipe.batch_size, generator)  # JEM's second, labelled loader
    return JemObjective(JEM, tuple(images.shape[1:]), generator, labelled)


def _dat(recipe, model, generator, images, labels):
    classifier_batches = Batches(images, labels, recipe.batch_size, generator)  # DAT's classification loader
    return DatObjective(DAT, model, pgd_adversary, classifier_batches)


OBJECTIVES: dict[str, ObjectiveFactory] = {
    "standard": _stateless(standard_loss),
    "pgd-at": _stateless(pgd_at_loss),
    "trades": _stateless(trades_loss),
    "weat-adv": _stateless(weat_loss),
    "weat-nat": _stateless(weat_nat_loss),
    "jem": _jem,
    "dat": _dat,
}
