"""The zoo's maths as small pure functions (no training state, no I/O), so each can be tested on tiny
tensors against a hand-written formula.

Energies as in benchbed's docs/science.md, temperature 1: E(x) = -logsumexp_k f(x)[k], E(x, y) = -f(x)[y].
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


# -- energies and classifier losses ----------------------------------------------------------------
def marginal_energy(logits: torch.Tensor) -> torch.Tensor:
    """E(x) = -logsumexp_k f(x)[k], per sample (temperature 1)."""
    return -torch.logsumexp(logits, dim=1)


def joint_logit(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """f(x)[y] = -E(x, y), per sample: the class logit of each row's label."""
    return logits.gather(1, y[:, None]).squeeze(1)


def weat_weights(logits: torch.Tensor) -> torch.Tensor:
    """WEAT's per-sample weight w(x) = 1 / softplus(|E(x)|) on natural logits, detached (no gradient)."""
    return 1.0 / F.softplus(marginal_energy(logits.detach()).abs())


def kl_per_sample(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) per sample, with p = softmax(logits_p) and q = softmax(logits_q)."""
    log_p = F.log_softmax(logits_p, dim=1)
    log_q = F.log_softmax(logits_q, dim=1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=1)


def project_linf(x_adv: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """Project onto the Linf ball of radius eps around x, intersected with the image box [0, 1]."""
    return torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0.0, 1.0)


# -- JEM: maximum likelihood of the marginal energy --------------------------------------------------
def jem_energy_loss(logits_data: torch.Tensor, logits_sampled: torch.Tensor) -> torch.Tensor:
    """mean E(x_data) - mean E(x_sampled): its gradient is the contrastive estimate of -grad log p(x)
    (lowers the energy of data, raises that of the model's own samples)."""
    return marginal_energy(logits_data).mean() - marginal_energy(logits_sampled).mean()


def energy_magnitude_penalty(logits_data: torch.Tensor, logits_sampled: torch.Tensor) -> torch.Tensor:
    """mean E(x_data)^2 + mean E(x_sampled)^2 (Du & Mordatch 2019): keeps both energies near 0, so the
    contrastive term cannot run away by shifting every energy at once."""
    return marginal_energy(logits_data).pow(2).mean() + marginal_energy(logits_sampled).pow(2).mean()


def sgld_step(x: torch.Tensor, grad_log_density: torch.Tensor, step_size: float, noise: torch.Tensor) -> torch.Tensor:
    """One JEM SGLD step x + alpha grad_x log p(x) + noise (JEM's step, not a calibrated Langevin step:
    the noise is far smaller than sqrt(2 alpha)), clipped to the image box [0, 1]."""
    return (x + step_size * grad_log_density + noise).clamp(0.0, 1.0)


def draw_from_buffer(buffer: torch.Tensor, batch_size: int, reinit_probability: float,
                     generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(starts, buffer indices) for one SGLD batch, as JEM draws them: random buffer entries (with
    replacement), each replaced by fresh U[0, 1] noise independently with probability ``reinit_probability``."""
    idx = torch.randint(0, buffer.shape[0], (batch_size,), generator=generator)
    fresh = torch.rand((batch_size, *buffer.shape[1:]), generator=generator, dtype=buffer.dtype)
    restart = torch.rand(batch_size, generator=generator) < reinit_probability
    starts = torch.where(restart.view(-1, *([1] * (buffer.dim() - 1))), fresh, buffer[idx])
    return starts, idx


# -- DAT: the energy as a real-vs-generated discriminator --------------------------------------------
def bce_energy_loss(logits_real: torch.Tensor, logits_generated: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy with logsumexp f(x) = -E(x) as the logit: real = 1, generated = 0, averaged
    over the concatenated batch (as BCEWithLogitsLoss on the two halves)."""
    scores = torch.cat([-marginal_energy(logits_real), -marginal_energy(logits_generated)])
    targets = torch.cat([torch.ones(len(logits_real)), torch.zeros(len(logits_generated))]).to(scores)
    return F.binary_cross_entropy_with_logits(scores, targets)


def auc(positive: torch.Tensor, negative: torch.Tensor) -> float:
    """Area under the ROC curve of scores (positives should score higher): the Mann-Whitney statistic,
    P(s_pos > s_neg) + 0.5 P(s_pos = s_neg), over all pairs."""
    diff = positive.reshape(-1, 1) - negative.reshape(1, -1)
    return ((diff > 0).double().mean() + 0.5 * (diff == 0).double().mean()).item()


def l2_ascent_step(x: torch.Tensor, grad: torch.Tensor, step_size: float) -> torch.Tensor:
    """One unconstrained L2 PGD ascent step: move by ``step_size`` along the per-sample unit gradient,
    then clip to [0, 1] (DAT's generation step, eps = inf)."""
    norm = grad.flatten(1).norm(dim=1).view(-1, *([1] * (grad.dim() - 1)))
    return (x + step_size * grad / (norm + 1e-10)).clamp(0.0, 1.0)


def box_blur(x: torch.Tensor, passes: int) -> torch.Tensor:
    """``passes`` 3x3 mean filters (replicate padding): a digit washed out into a blob."""
    kernel = torch.full((1, 1, 3, 3), 1.0 / 9.0, dtype=x.dtype)
    for _ in range(passes):
        x = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel)
    return x


def ood_seeds(x: torch.Tensor, generator: torch.Generator, blur_passes: int = 3) -> torch.Tensor:
    """Out-of-distribution starting images for DAT's negatives, one per row of ``x`` (real digits), in
    three kinds assigned at random: U[0, 1] noise; the digit with its pixels shuffled (the digit's
    intensities, no structure); the digit blurred into a blob. The digits data has no natural OOD set
    such as DAT's 80M TinyImages, so these stand in for it."""
    n = x.shape[0]
    kind = torch.randint(0, 3, (n,), generator=generator)
    noise = torch.rand(x.shape, generator=generator, dtype=x.dtype)
    flat = x.flatten(1)
    perm = torch.argsort(torch.rand(flat.shape, generator=generator), dim=1)
    shuffled = torch.gather(flat, 1, perm).view_as(x)
    blurred = box_blur(x, blur_passes)
    pick = kind.view(-1, *([1] * (x.dim() - 1)))
    return torch.where(pick == 0, noise, torch.where(pick == 1, shuffled, blurred))


def ema_decay(updates: int, decay: float) -> float:
    """DAT's EMA decay for the update after ``updates`` earlier ones: min(decay, (1 + n) / (10 + n)), a
    warm-up so that the average forgets its starting point early in training."""
    return min(decay, (1 + updates) / (10 + updates))


@torch.no_grad()
def ema_update(average: list[torch.Tensor], current: list[torch.Tensor], decay: float) -> None:
    """In place: a <- decay a + (1 - decay) c for each pair (the EMA of the weights)."""
    for a, c in zip(average, current):
        a.mul_(decay).add_(c, alpha=1.0 - decay)


# -- schedules -----------------------------------------------------------------------------------------
def piecewise_lr_factor(step: int, steps_per_epoch: int, milestones: tuple[int, ...], gamma: float,
                        warmup_steps: int = 0) -> float:
    """Piecewise-constant learning-rate multiplier: gamma ** (number of milestone epochs passed), times a
    linear warm-up over the first ``warmup_steps`` optimiser steps. ``step`` counts from 0."""
    epoch = step // steps_per_epoch
    factor = gamma ** sum(epoch >= m for m in milestones)
    if warmup_steps > 0:
        factor *= min(1.0, (step + 1) / warmup_steps)
    return factor
