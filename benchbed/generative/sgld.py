"""SGLD with momentum on the joint energy E(x, y) = -f(x)[y] (docs/science.md, "Samplers").

    v_{n+1} = z v_n - (eta / 2) grad_x E(x_n, y)
    x_{n+1} = clip(x_n + v_{n+1} + sqrt(2 eta) * sigma * N(0, I), 0, 1)

with v_0 = 0 and, by default, eta = 0.8, 50 steps, sigma = 0.001, z = 0 (every knob a track
parameter, :class:`benchbed.contracts.specs.GenerationSettings`). Samples are processed in chunks of
``settings.batch_size`` on the evaluation device (memory bounded); the seeds are drawn on the CPU
from a generator seeded with ``seed`` and the Langevin noise on the device from a generator seeded
with ``seed + 1``, so the result does not depend on the global RNG.
"""
from __future__ import annotations

import math

import torch

from benchbed.generative.sampling import SampleRequest


def joint_energy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """E(x, y) = -f(x)[y], per sample."""
    return -logits.gather(1, labels.view(-1, 1)).squeeze(1)


def _device_generator(device: torch.device, seed: int) -> torch.Generator:
    try:
        gen = torch.Generator(device=device)
    except RuntimeError:  # a backend without device generators: draw on the CPU
        gen = torch.Generator()
    return gen.manual_seed(int(seed))


def sgld(model: torch.nn.Module, x0: torch.Tensor, labels: torch.Tensor, *, steps: int, step_size: float,
         noise: float, momentum: float, generator: torch.Generator, energies: list | None = None,
         on_step=None) -> torch.Tensor:
    """Run SGLD from ``x0`` (on the evaluation device) for ``labels``; returns the final images.

    If ``energies`` is a list, the batch's mean joint energy is appended before every step (read from
    the forward pass the step needs anyway) and once after the last step (one extra forward pass).
    """
    x = x0.detach().clone()
    v = torch.zeros_like(x)
    noise_std = math.sqrt(2.0 * step_size) * noise
    draw_on = generator.device
    trace: list[torch.Tensor] = []  # kept on the device: no host sync inside the loop
    for _ in range(steps):
        x.requires_grad_(True)
        energy = joint_energy(model(x), labels)
        (grad,) = torch.autograd.grad(energy.sum(), x)
        if energies is not None:
            trace.append(energy.detach().mean())
        with torch.no_grad():
            if momentum:
                v.mul_(momentum)
            else:
                v.zero_()
            v.add_(grad, alpha=-0.5 * step_size)
            x = x.detach().add_(v)
            if noise_std:
                eps = torch.randn(x.shape, generator=generator, device=draw_on, dtype=x.dtype)
                x.add_(eps.to(x.device), alpha=noise_std)
            x.clamp_(0.0, 1.0)
        if on_step is not None:
            on_step()
    if energies is not None:
        with torch.no_grad():
            trace.append(joint_energy(model(x), labels).mean())
        energies.extend(float(e) for e in trace)
    return x.detach()


def sample_sgld(request: SampleRequest) -> torch.Tensor:
    """The built-in sampler: structured seeds (``settings.seed_kind``), then SGLD on E(x, y)."""
    from tqdm.auto import tqdm

    s = request.settings
    device = torch.device(request.device)
    seeds = request.seeds()
    seed_gen = torch.Generator().manual_seed(int(request.seed))
    noise_gen = _device_generator(device, int(request.seed) + 1)
    n = len(request)
    chunk = max(1, int(s.batch_size))
    out = torch.empty((n, *request.image_shape), dtype=torch.float32)
    first, last = [], []
    total = math.ceil(n / chunk) * s.steps
    done = [0]
    with tqdm(total=total, desc="sgld", unit="step", disable=not request.progress, leave=False) as bar:
        def step() -> None:
            done[0] += 1
            bar.update(1)
            if request.report is not None and (done[0] % 10 == 0 or done[0] == total):
                request.report(f"sgld: step {done[0]}/{total} ({n} samples in chunks of {chunk})")

        for start in range(0, n, chunk):
            labels = request.labels[start:start + chunk]
            x0 = seeds.draw(labels, seed_gen, start=start).to(device)
            trace: list[float] = []
            x = sgld(request.model, x0, labels.to(device), steps=s.steps, step_size=s.step_size, noise=s.noise,
                     momentum=s.momentum, generator=noise_gen, energies=trace, on_step=step)
            out[start:start + len(labels)] = x.float().cpu()
            first.append((trace[0], len(labels)))
            last.append((trace[-1], len(labels)))
    request.stats["mean_joint_energy_seed"] = sum(e * k for e, k in first) / n
    request.stats["mean_joint_energy_final"] = sum(e * k for e, k in last) / n
    request.stats["seed_components"] = seeds.components()
    return out
