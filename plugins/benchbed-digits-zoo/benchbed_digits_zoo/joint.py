"""The joint (discriminative-generative) recipes' training objectives: JEM and DAT.

Each is a small stateful callable ``objective(model, x, y, generator) -> loss`` created once per training
run (JEM keeps a replay buffer, DAT a generation-length curriculum); :func:`train.train` calls it once
per batch and then ``objective.after_step(model)``. The maths are in :mod:`.maths`.

Re-derived from the papers (Grathwohl et al., ICLR 2020; Yin et al. 2025) and from reading their
public code for the protocol (wgrathwohl/JEM, xuwangyin/DAT); nothing is copied.
"""
from __future__ import annotations

import collections
import copy
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .maths import (
    auc,
    bce_energy_loss,
    draw_from_buffer,
    ema_update,
    energy_magnitude_penalty,
    jem_energy_loss,
    l2_ascent_step,
    marginal_energy,
    ood_seeds,
    sgld_step,
)


def _input_grad(model: nn.Module, x: torch.Tensor, objective) -> torch.Tensor:
    """grad_x of objective(model(x)).sum(), with no parameter gradients accumulated."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(objective(model(x)).sum(), x)
    return grad


class _Evaluating:
    """Run the model in eval mode inside the block (JEM and DAT sample with the model in eval mode; the
    DigitsCNN has no dropout or batch norm, so this only keeps the protocol explicit)."""

    def __init__(self, model: nn.Module):
        self.model, self.was_training = model, model.training

    def __enter__(self):
        self.model.eval()

    def __exit__(self, *exc):
        self.model.train(self.was_training)


# -- JEM --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class JemSettings:
    """JEM's protocol, rescaled from its [-1, 1] inputs to the zoo's [0, 1] pixels (x' = 2x - 1: a step
    alpha grad_x' in x' is alpha/4 grad_x in x, noise sigma in x' is sigma/2 in x)."""

    sgld_steps: int = 20
    sgld_step_size: float = 0.25  # JEM's alpha = 1 on [-1, 1]
    sgld_noise: float = 0.005  # JEM's sigma = 0.01 on [-1, 1]
    buffer_size: int = 1000  # JEM: 10,000 for 50,000 CIFAR images; the digits have 1,348
    reinit_fraction: float = 0.05
    data_noise: float = 0.015  # JEM adds N(0, 0.03^2) on [-1, 1] to the training images
    energy_weight: float = 1.0  # p(x) term, as JEM's p_x_weight
    magnitude_weight: float = 0.0  # energy-magnitude regulariser (0 = JEM as published)

    def describe(self) -> str:
        return (f"SGLD {self.sgld_steps} steps, alpha {self.sgld_step_size:g}, sigma {self.sgld_noise:g}, "
                f"replay buffer {self.buffer_size} ({self.reinit_fraction:.0%} re-initialised from U[0, 1] per "
                f"batch), data noise {self.data_noise:g}, energy-magnitude weight {self.magnitude_weight:g}")


class JemObjective:
    """CE(f(x~), y) + w [mean E(x~) - mean E(x_q)] + m [mean E(x~)^2 + mean E(x_q)^2], x~ = x + data
    noise, x_q drawn by SGLD on log p(x) = logsumexp f(x) from a persistent replay buffer."""

    def __init__(self, settings: JemSettings, image_shape: tuple[int, ...], generator: torch.Generator):
        self.settings = settings
        self.buffer = torch.rand((settings.buffer_size, *image_shape), generator=generator)
        self.last: dict[str, float] = {}

    def sample(self, model: nn.Module, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        s = self.settings
        x, idx = draw_from_buffer(self.buffer, batch_size, s.reinit_fraction, generator)
        with _Evaluating(model):
            for _ in range(s.sgld_steps):
                grad = _input_grad(model, x, lambda logits: torch.logsumexp(logits, dim=1))
                noise = s.sgld_noise * torch.randn(x.shape, generator=generator, dtype=x.dtype)
                x = sgld_step(x, grad, s.sgld_step_size, noise)
        self.buffer[idx] = x
        return x

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator):
        s = self.settings
        x_q = self.sample(model, x.shape[0], generator)
        x_d = x + s.data_noise * torch.randn(x.shape, generator=generator, dtype=x.dtype)
        logits_d, logits_q = model(x_d), model(x_q)
        loss = F.cross_entropy(logits_d, y) + s.energy_weight * jem_energy_loss(logits_d, logits_q)
        if s.magnitude_weight:
            loss = loss + s.magnitude_weight * energy_magnitude_penalty(logits_d, logits_q)
        self.last = {"E_data": marginal_energy(logits_d).mean().item(),
                     "E_sample": marginal_energy(logits_q).mean().item()}
        return loss

    def after_step(self, model: nn.Module) -> None:
        pass

    def final_model(self, model: nn.Module) -> nn.Module:
        return model

    def stats(self) -> dict[str, Any]:
        return dict(self.last)


# -- DAT --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatSettings:
    """DAT's stage 2 on the digits. The classifier's adversary is the zoo's Linf PGD (eps 0.2)."""

    gen_step_size: float = 0.1  # L2 length of one generation step (DAT: 0.1)
    start_steps: int = 0  # generation length at the start of the curriculum (DAT: 0)
    max_steps: int = 40  # longest generation (DAT's T)
    auc_threshold: float = 0.8  # lengthen the generation once the windowed real-vs-generated AUC reaches it
    auc_window: int = 16  # batches (DAT: ceil(1000 images / batch size))
    ema_decay: float = 0.99
    clf_weight: float = 1.0
    blur_passes: int = 3

    def describe(self) -> str:
        return (f"negatives: L2 ascent of f(x)[y] (step {self.gen_step_size:g}, unconstrained, clipped to [0, 1]) "
                f"from OOD seeds (uniform noise / pixel-shuffled / blurred digits), generation length "
                f"{self.start_steps} -> {self.max_steps} steps, +1 when the mean AUC over {self.auc_window} "
                f"batches reaches {self.auc_threshold:g}; EMA {self.ema_decay:g}")


class DatObjective:
    """BCE(logsumexp f(x) as logit; real = 1, generated = 0) + CE(f(x_adv), y), where the negatives are
    generated by ascending f(x)[y] from OOD seeds for a curriculum-controlled number of steps, and x_adv
    is the classifier's adversarial example. The final model is the EMA of the weights."""

    def __init__(self, settings: DatSettings, model: nn.Module, adversary):
        self.settings = settings
        self.adversary = adversary  # (model, x, y, generator) -> x_adv
        self.steps = settings.start_steps
        self.window: collections.deque[float] = collections.deque(maxlen=settings.auc_window)
        self.ema = copy.deepcopy(model)
        self.curriculum: list[tuple[int, int]] = []  # (batch index, new length)
        self.batches = 0
        self.last: dict[str, float] = {}

    def generate(self, model: nn.Module, seeds: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = seeds
        with _Evaluating(model):
            for _ in range(self.steps):
                grad = _input_grad(model, x, lambda logits: logits.gather(1, y[:, None]).squeeze(1))
                x = l2_ascent_step(x, grad, self.settings.gen_step_size)
        return x.detach()

    def _advance_curriculum(self, batch_auc: float) -> None:
        s = self.settings
        self.window.append(batch_auc)
        full = len(self.window) == self.window.maxlen
        if self.steps < s.max_steps and full and sum(self.window) / len(self.window) >= s.auc_threshold:
            self.steps += 1
            self.window.clear()
            self.curriculum.append((self.batches, self.steps))

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator):
        s = self.settings
        x_gen = self.generate(model, ood_seeds(x, generator, s.blur_passes), y)
        with _Evaluating(model), torch.no_grad():  # the AUC the curriculum reads, before this update
            batch_auc = auc(-marginal_energy(model(x)), -marginal_energy(model(x_gen)))
        x_adv = self.adversary(model, x, y, generator)
        logits_real, logits_gen = model(x), model(x_gen)
        loss = bce_energy_loss(logits_real, logits_gen) + s.clf_weight * F.cross_entropy(model(x_adv), y)
        self.batches += 1
        self._advance_curriculum(batch_auc)
        self.last = {"auc": batch_auc, "gen_steps": self.steps}
        return loss

    def after_step(self, model: nn.Module) -> None:
        ema_update(list(self.ema.parameters()), list(model.parameters()), self.settings.ema_decay)

    def final_model(self, model: nn.Module) -> nn.Module:
        return self.ema

    def stats(self) -> dict[str, Any]:
        return {**self.last, "curriculum": list(self.curriculum)}
