"""The joint (discriminative-generative) recipes' training objectives: JEM and DAT.

Each is a small stateful callable ``objective(model, x, y, generator) -> loss`` created once per training
run (JEM keeps a replay buffer and a second, labelled batch stream; DAT a generation-length curriculum,
a classification batch stream and an EMA of the weights); :func:`.training.train` calls it once per
batch and then ``objective.after_step(model)``. The maths are in :mod:`.maths`, the settings in
:mod:`.recipes`.

Re-derived from the papers (Grathwohl et al., ICLR 2020; Yin et al. 2025) and from reading their
public code for the protocol (wgrathwohl/JEM, xuwangyin/DAT); nothing is copied.
"""
from __future__ import annotations

import collections
import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from .data import Batches
from .maths import (
    auc,
    bce_energy_loss,
    draw_from_buffer,
    ema_decay,
    ema_update,
    energy_magnitude_penalty,
    jem_energy_loss,
    joint_logit,
    l2_ascent_step,
    marginal_energy,
    ood_seeds,
    sgld_step,
)
from .recipes import DatSettings, JemSettings


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
class JemObjective:
    """CE(f(x_lab~), y_lab) + w [mean E(x~) - mean E(x_q)] + m [mean E(x~)^2 + mean E(x_q)^2]: x~ is the
    training loop's batch (labels unused, as JEM's p(x) loader), x_lab a batch of the separately
    shuffled labelled stream, ~ adds the data noise, x_q drawn by SGLD on log p(x) = logsumexp f(x) from
    a persistent replay buffer."""

    def __init__(self, settings: JemSettings, image_shape: tuple[int, ...], generator: torch.Generator,
                 labelled: Batches):
        self.settings = settings
        self.labelled = labelled
        self.buffer = torch.rand((settings.buffer_size, *image_shape), generator=generator)
        self.last: dict[str, float] = {}

    def sample(self, model: nn.Module, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        s = self.settings
        x, idx = draw_from_buffer(self.buffer, batch_size, s.reinit_probability, generator)
        with _Evaluating(model):
            for _ in range(s.sgld_steps):
                grad = _input_grad(model, x, lambda logits: torch.logsumexp(logits, dim=1))
                noise = s.sgld_noise * torch.randn(x.shape, generator=generator, dtype=x.dtype)
                x = sgld_step(x, grad, s.sgld_step_size, noise)
        self.buffer[idx] = x
        return x

    def _noisy(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return x + self.settings.data_noise * torch.randn(x.shape, generator=generator, dtype=x.dtype)

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator):
        s = self.settings
        x_lab, y_lab = next(self.labelled)
        x_q = self.sample(model, x.shape[0], generator)
        x_d, x_lab = self._noisy(x, generator), self._noisy(x_lab, generator)
        logits_d, logits_q = model(x_d), model(x_q)
        loss = F.cross_entropy(model(x_lab), y_lab) + s.energy_weight * jem_energy_loss(logits_d, logits_q)
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
def averaged_tensors(model: nn.Module) -> list[torch.Tensor]:
    """What DAT's EMA averages: every parameter, then each batch-norm layer's running mean and variance
    (its other buffers, and the batch counter, stay as they were when the average was made)."""
    stats = [t for m in model.modules() if isinstance(m, _BatchNorm) and m.running_mean is not None
             for t in (m.running_mean, m.running_var)]
    return list(model.parameters()) + stats


class ModelEma:
    """DAT's exponential moving average of a model: the first update copies the model, update n > 0
    averages with decay min(decay, (1 + n) / (10 + n)), batch-norm statistics included."""

    def __init__(self, model: nn.Module, decay: float):
        self.model = copy.deepcopy(model)
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        average, current = averaged_tensors(self.model), averaged_tensors(model)
        if self.updates == 0:
            for a, c in zip(average, current):
                a.copy_(c)
        else:
            ema_update(average, current, ema_decay(self.updates, self.decay))
        self.updates += 1


class DatObjective:
    """BCE(logsumexp f(x) as logit; real = 1, generated = 0) + CE(f(x_adv), y_clf): the negatives are
    generated by ascending f(x)[y] from OOD seeds for a curriculum-controlled number of steps, x_adv is
    the adversarial example of a batch of the separate classification stream (DAT's second loader). The
    curriculum reads the AUC of f(x)[y] (real vs generated); the final model is the EMA of the weights."""

    def __init__(self, settings: DatSettings, model: nn.Module, adversary, classifier_batches: Batches):
        self.settings = settings
        self.adversary = adversary  # (model, x, y, generator) -> x_adv
        self.classifier_batches = classifier_batches
        self.steps = settings.start_steps
        self.window: collections.deque[float] = collections.deque(maxlen=settings.auc_window)
        self.ema = ModelEma(model, settings.ema_decay)
        self.curriculum: list[tuple[int, int]] = []  # (batch index, new length)
        self.batches = 0
        self.last: dict[str, float] = {}

    def generate(self, model: nn.Module, seeds: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = seeds
        with _Evaluating(model):
            for _ in range(self.steps):
                grad = _input_grad(model, x, lambda logits: joint_logit(logits, y))
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
            batch_auc = auc(joint_logit(model(x), y), joint_logit(model(x_gen), y))
        x_clf, y_clf = next(self.classifier_batches)
        x_adv = self.adversary(model, x_clf, y_clf, generator)
        logits_real, logits_gen = model(x), model(x_gen)
        loss = bce_energy_loss(logits_real, logits_gen) + s.clf_weight * F.cross_entropy(model(x_adv), y_clf)
        self.batches += 1
        self._advance_curriculum(batch_auc)
        self.last = {"auc": batch_auc, "gen_steps": self.steps}
        return loss

    def after_step(self, model: nn.Module) -> None:
        self.ema.update(model)

    def final_model(self, model: nn.Module) -> nn.Module:
        return self.ema.model

    def stats(self) -> dict[str, Any]:
        return {**self.last, "curriculum": list(self.curriculum)}
