"""Projected gradient descent (Madry et al. 2018) returning its *final* iterate, as the energy papers use.

Mirza et al. take the image PGD returns after its last step on *all* test points (misclassified ones
included), not the best-loss iterate and not only the points still robust. This module is that attack
as a pure torch function, so a metric can score every model on the same points (``benchbed.builtin.energy``).

- untargeted: ascend the cross-entropy CE(f(x), y);
- targeted: descend CE(f(x), t) towards t = the highest-scoring wrong class at the natural point
  (APGD-T's first target), so every point has one deterministic target.

Start: a uniform random point of the eps ball (seeded by ``generator``); step size ``2.5 eps / steps``
(Madry's rule, so the iterate can cross the ball); after each step, projection onto the ball and [0, 1].
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .errors import ConfigError

PGD_STEPS = 20
NORMS = ("Linf", "L2")


def top_wrong_class(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per row, the class with the highest logit other than the label."""
    masked = logits.clone()
    masked[torch.arange(len(labels)), labels] = -torch.inf
    return masked.argmax(1)


def _random_start(x: torch.Tensor, norm: str, eps: float, generator: torch.Generator) -> torch.Tensor:
    if norm == "Linf":
        noise = (torch.rand(x.shape, generator=generator, dtype=x.dtype) * 2 - 1) * eps
    else:  # L2: a uniform direction, a uniform radius in [0, eps]
        direction = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        direction = direction / direction.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *[1] * (x.dim() - 1))
        noise = direction * eps * torch.rand((x.shape[0], *[1] * (x.dim() - 1)), generator=generator, dtype=x.dtype)
    return noise


def _project(delta: torch.Tensor, norm: str, eps: float) -> torch.Tensor:
    if norm == "Linf":
        return delta.clamp(-eps, eps)
    flat = delta.flatten(1).norm(dim=1).view(-1, *[1] * (delta.dim() - 1))
    return delta * torch.clamp(eps / flat.clamp_min(1e-12), max=1.0)


def _step(grad: torch.Tensor, norm: str, size: float) -> torch.Tensor:
    if norm == "Linf":
        return size * grad.sign()
    flat = grad.flatten(1).norm(dim=1).view(-1, *[1] * (grad.dim() - 1))
    return size * grad / flat.clamp_min(1e-12)


def pgd_final_iterate(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, *, norm: str, eps: float,
                      generator: torch.Generator, targets: torch.Tensor | None = None, steps: int = PGD_STEPS,
                      device: torch.device | str = "cpu", batch_size: int = 500) -> torch.Tensor:
    """The final PGD iterate for every point (CPU float32, same shape as ``images``).

    ``targets`` None: untargeted; else a class per point to reach. The random starts for all points
    are drawn up front from ``generator`` (in point order), so the result does not depend on batching.
    """
    if norm not in NORMS:
        raise ConfigError(f"the PGD final-iterate protocol supports norms {NORMS}, not {norm!r}: run the energy "
                          f"metric on an Linf or L2 track")
    images = images.detach().to("cpu", torch.float32)
    starts = _random_start(images, norm, eps, generator)
    size = 2.5 * eps / steps
    out = torch.empty_like(images)
    for lo in range(0, len(images), batch_size):
        x = images[lo:lo + batch_size].to(device)
        y = (labels if targets is None else targets)[lo:lo + batch_size].to(device)
        sign = 1.0 if targets is None else -1.0  # ascend CE on the label, descend it on the target
        delta = starts[lo:lo + batch_size].to(device)
        delta = (x + delta).clamp(0, 1) - x
        for _ in range(steps):
            delta.requires_grad_(True)
            loss = F.cross_entropy(model(x + delta), y, reduction="sum")
            (grad,) = torch.autograd.grad(sign * loss, delta)
            with torch.no_grad():
                delta = _project(delta + _step(grad, norm, size), norm, eps)
                delta = (x + delta).clamp(0, 1) - x
        out[lo:lo + batch_size] = (x + delta).detach().to("cpu", torch.float32)
    return out
