"""Projected gradient descent (Madry et al. 2018) returning its *final* iterate, as the energy papers use.

Mirza et al. take the image PGD returns after its last step on *all* test points (misclassified ones
included), not the best-loss iterate and not only the points still robust. This module is that attack
as a pure torch function, so a metric can score every model on the same points (``benchbed.builtin.energy``).

Settings (docs/science.md, "Attacks"): torchattacks' PGD as Mirza et al.'s notebook builds it, scaled by
eps -- ``PGD_STEPS`` = 10 steps of alpha = eps/4 (8/255 and 2/255 there) for Linf; for L2, which the
notebook does not run, torchattacks' PGDL2 ratio alpha = eps/5; a uniform random start in the ball;
after each step, projection onto the ball and [0, 1].

- untargeted: ascend the cross-entropy CE(f(x), y) (the notebook's attack);
- targeted (benchbed's addition; the notebook's PGD is untargeted): descend CE(f(x), t) towards
  t = :func:`runner_up`, the best class other than the label and the model's prediction.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from benchbed.contracts.errors import ConfigError

PGD_STEPS = 10  # torchattacks.PGD's default (the committed notebook config passes 2: docs/science.md)
STEP_FRACTION = {"Linf": 0.25, "L2": 0.2}  # alpha / eps: torchattacks PGD (2/255 at 8/255), PGDL2 (0.2 at 1.0)
NORMS = ("Linf", "L2")


Loss = Callable[[torch.Tensor, slice], torch.Tensor]  # (logits of a batch, its rows) -> loss per row


def target_order(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Target classes per row, best first, never the label nor the model's prediction; and which are valid.

    For a correctly classified row (prediction = label) this is APGD-T's order ``sort(logits)[-k]``,
    k = 2, 3, ... For a misclassified row (which APGD-T does not attack) the prediction is left out too:
    aiming at it would make the model *more* sure of its error. Returns ``(order, valid)``, both (N, C);
    ``valid[i, j]`` is False past the classes left for row i (C - 1 if correct, C - 2 if not).
    """
    rows = torch.arange(logits.shape[0], device=logits.device)
    masked = logits.detach().clone().float()
    masked[rows, logits.argmax(dim=1)] = -math.inf
    masked[rows, labels.to(logits.device)] = -math.inf
    values, order = masked.sort(dim=1, descending=True, stable=True)
    return order, torch.isfinite(values)


def runner_up(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The targeted attacks' one target per row: the best class other than the label and the prediction
    (for a correct row, APGD-T's first target; see :func:`target_order`)."""
    return target_order(logits, labels)[0][:, 0]


def _flat_norm(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (t.dim() - 1)))


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """x_adv projected onto the ``norm`` ball of radius eps around x, then clipped to the image box [0, 1]."""
    delta = x_adv - x
    if norm == "Linf":
        delta = delta.clamp(-eps, eps)
    elif norm == "L2":
        delta = delta * torch.clamp(eps / _flat_norm(delta), max=1.0)
    else:
        raise ValueError(f"norm {norm!r} is not one of {NORMS}")
    return (x + delta).clamp(0.0, 1.0)


def ascent_direction(grad: torch.Tensor, norm: str) -> torch.Tensor:
    """The steepest-ascent unit step: sign(g) for Linf, g / ||g||_2 for L2."""
    return grad.sign() if norm == "Linf" else grad / _flat_norm(grad)


def random_start(x: torch.Tensor, eps: float, norm: str, generator: torch.Generator) -> torch.Tensor:
    """A point drawn uniformly from the Linf ball (or uniformly in direction and radius in the L2 ball),
    drawn on the CPU from ``generator`` for all of x at once (so batching changes nothing)."""
    if norm == "Linf":
        noise = (torch.rand(x.shape, generator=generator, dtype=torch.float32) * 2 - 1) * eps
    else:
        d = torch.randn(x.shape, generator=generator, dtype=torch.float32)
        r = torch.rand((x.shape[0],), generator=generator, dtype=torch.float32).view(-1, *([1] * (x.dim() - 1)))
        noise = d / _flat_norm(d) * r * eps
    return project(x + noise.to(x.device, x.dtype), x, eps, norm)


def ascend(model, x: torch.Tensor, start: torch.Tensor, loss: Loss, *, eps: float, norm: str, steps: int,
           step_size: float, batch_size: int) -> torch.Tensor:
    """``steps`` projected steepest-ascent steps of ``loss`` from ``start``; the final iterate, per batch."""
    out = torch.empty_like(x)
    for lo in range(0, x.shape[0], batch_size):
        rows = slice(lo, min(lo + batch_size, x.shape[0]))
        xb, x_adv = x[rows], start[rows].clone()
        for _ in range(steps):
            x_adv.requires_grad_(True)
            value = loss(model(x_adv), rows).sum()
            grad, = torch.autograd.grad(value, x_adv)
            x_adv = project(x_adv.detach() + step_size * ascent_direction(grad, norm), xb, eps, norm)
        out[rows] = x_adv.detach()
    return out


def step_size_for(norm: str, eps: float) -> float:
    """The PGD step of the papers' protocol at radius eps (torchattacks' default ratio for the norm)."""
    return STEP_FRACTION[norm] * eps


def pgd_final_iterate(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, *, norm: str, eps: float,
                      generator: torch.Generator, targets: torch.Tensor | None = None, steps: int = PGD_STEPS,
                      step_size: float | None = None, device: torch.device | str = "cpu",
                      batch_size: int = 500) -> torch.Tensor:
    """The final PGD iterate for every point (CPU float32, same shape as ``images``).

    ``targets`` None: untargeted (ascend CE on the label); else a class per point to reach (descend CE
    on it). ``step_size`` None: ``STEP_FRACTION[norm] * eps``. The random starts for all points are drawn
    up front from ``generator`` (in point order), so
    the result does not depend on batching.
    """
    if norm not in NORMS:
        raise ConfigError(f"the PGD final-iterate protocol supports norms {NORMS}, not {norm!r}: run the energy "
                          f"metric on an Linf or L2 track")
    x = images.detach().to(device, torch.float32)
    goal = (labels if targets is None else targets).to(device)
    sign = 1.0 if targets is None else -1.0
    start = random_start(x, eps, norm, generator)
    x_star = ascend(model, x, start, lambda z, rows: sign * F.cross_entropy(z, goal[rows], reduction="none"),
                    eps=eps, norm=norm, steps=steps, batch_size=batch_size,
                    step_size=step_size_for(norm, eps) if step_size is None else step_size)
    return x_star.to("cpu", torch.float32)
