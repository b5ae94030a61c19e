"""The joint models' own samplers: JEM's replay-buffer SGLD and DAT's deterministic L2 ascent.

Re-derived from the papers (Grathwohl et al., ICLR 2020; Yin et al. 2025) and from reading their public
evaluation code for the protocol (wgrathwohl/JEM ``eval_wrn_ebm.py``, xuwangyin/DAT ``rebm/eval``);
nothing is copied. All knobs are on benchbed's [0, 1] pixel scale; a track's
``GenerationSettings.options`` override the defaults below (``settings.steps`` / ``step_size`` /
``noise`` are the ``sgld`` sampler's knobs and are not read here).

``jem-sgld-conditional`` (benchbed's class-conditional variant of JEM's sampler; called ``jem-sgld``
before 0.3.0, when JEM's own unconditional generation took that name: :mod:`benchbed.generative.jem`):
a replay buffer of one slot per requested sample, each slot with its class, starts as U[0, 1] noise.
Each of ``passes`` passes visits every slot once, in a random order, in chunks of
``settings.batch_size``: ``reinit`` of the chunk's slots are re-drawn from U[0, 1] (not on the last
pass, so every returned sample has had at least ``steps`` steps), then ``steps`` SGLD steps

    x <- clip(x + alpha grad_x log q(x) + sigma N(0, I), 0, 1)

with log q(x) = f(x)[y] (``conditional``, the default) or logsumexp_y f(x)[y] (JEM's unconditional
sampler; the labels are then nominal). JEM's alpha = 1, sigma = 0.01 on [-1, 1] inputs are 0.25 and
0.005 on [0, 1] pixels (x' = 2x - 1: a step alpha grad_x' is alpha / 4 grad_x in x, noise sigma is
sigma / 2), as in the digits zoo's JEM training.

``dat-pgd`` (DAT's generation): from the track's seeds (``settings.seed_kind``), ``steps`` deterministic
steps x <- clip(x + s g / (||g||_2 + 1e-10), 0, 1) with g = grad_x f(x)[y] (per sample), step s = 0.2,
33 steps (DAT's CIFAR-10 setting), no noise. With ``select_steps`` (a list of candidate counts) the
step count is chosen first by FID on a held-out budget: ``select_samples`` extra seeds (drawn from
``seed + 2``, never returned) are ascended once to the longest candidate, FID (the track's extractor,
against the track's training split) is read at every candidate, and the lowest wins (ties: fewer steps).
"""
from __future__ import annotations

import math
from typing import Any

import torch

from benchbed.contracts.errors import ConfigError
from benchbed.generative.defaults import DAT_DEFAULTS, JEM_CONDITIONAL_DEFAULTS
from benchbed.generative.sampling import SampleRequest, class_labels
from benchbed.generative.sgld import _device_generator, joint_energy

GRAD_NORM_FLOOR = 1e-10  # DAT adds this to the gradient's norm


def merged_options(name: str, defaults: dict[str, Any], options) -> dict[str, Any]:
    """The sampler's defaults overridden by a track's options; an unknown option is a one-line error."""
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ConfigError(f"sampler {name!r} has no option(s) {unknown}: its options are {sorted(defaults)} "
                          f"(GenerationSettings.options)")
    return {**defaults, **dict(options)}


def log_density(logits: torch.Tensor, labels: torch.Tensor, conditional: bool) -> torch.Tensor:
    """log q(x) up to a constant: f(x)[y] (class-conditional) or logsumexp f(x) (JEM's p(x))."""
    if conditional:
        return logits.gather(1, labels.view(-1, 1)).squeeze(1)
    return torch.logsumexp(logits, dim=1)


def _grad(model, x: torch.Tensor, labels: torch.Tensor, conditional: bool) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(log_density(model(x), labels, conditional).sum(), x)
    return grad


# -- JEM -----------------------------------------------------------------------------------------------
def jem_sgld_steps(model, x: torch.Tensor, labels: torch.Tensor | None, *, steps: int, step_size: float,
                   noise: float, conditional: bool, generator: torch.Generator, clamp: bool = True) -> torch.Tensor:
    """``steps`` SGLD steps x <- clip(x + alpha grad log q(x) + sigma N, 0, 1); noise from ``generator``.
    ``clamp=False``: no clipping between steps (JEM's own unconditional chains; ``labels`` unused then)."""
    for _ in range(steps):
        grad = _grad(model, x, labels, conditional)
        with torch.no_grad():
            x = x.detach() + step_size * grad
            if noise:
                eps = torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype)
                x = x + noise * eps.to(x.device)
            if clamp:
                x = x.clamp(0.0, 1.0)
    return x.detach()


def sample_jem_sgld_conditional(request: SampleRequest,
                                defaults: dict[str, Any] = JEM_CONDITIONAL_DEFAULTS) -> torch.Tensor:
    o = merged_options("jem-sgld-conditional", defaults, request.settings.options)
    steps, passes = int(o["steps"]), int(o["passes"])
    if steps < 0 or passes < 1 or not 0.0 <= float(o["reinit"]) <= 1.0:
        raise ConfigError(f"jem-sgld-conditional needs steps >= 0, passes >= 1 and 0 <= reinit <= 1, got {o}")
    device = torch.device(request.device)
    start_gen = torch.Generator().manual_seed(int(request.seed))  # buffer starts, visiting order, re-inits
    noise_gen = _device_generator(device, int(request.seed) + 1)
    n, chunk = len(request), max(1, int(request.settings.batch_size))
    buffer = torch.rand((n, *request.image_shape), generator=start_gen)
    labels = request.labels
    with torch.no_grad():
        e_seed = _mean_joint_energy(request.model, buffer, labels, device, chunk)
    total, done = passes * math.ceil(n / chunk), 0
    for p in range(passes):
        order = torch.randperm(n, generator=start_gen)
        for idx in order.split(chunk):
            x = buffer[idx]
            if o["reinit"] and p < passes - 1:
                fresh = torch.rand(x.shape, generator=start_gen)
                again = torch.rand(len(idx), generator=start_gen) < float(o["reinit"])
                x = torch.where(again.view(-1, *[1] * (x.dim() - 1)), fresh, x)
            x = jem_sgld_steps(request.model, x.to(device), labels[idx].to(device), steps=steps,
                               step_size=float(o["step_size"]), noise=float(o["noise"]),
                               conditional=bool(o["conditional"]), generator=noise_gen)
            buffer[idx] = x.float().cpu()
            done += 1
            if request.report is not None:
                request.report(f"jem-sgld-conditional: pass {p + 1}/{passes}, chunk {done}/{total} ({n} samples)")
    with torch.no_grad():
        e_final = _mean_joint_energy(request.model, buffer, labels, device, chunk)
    request.stats.update(mean_joint_energy_seed=e_seed, mean_joint_energy_final=e_final, options=o,
                         seed_kind="uniform (replay buffer)")
    return buffer


# -- DAT -----------------------------------------------------------------------------------------------
def dat_ascent(model, x: torch.Tensor, labels: torch.Tensor, *, steps: int, step_size: float,
               snapshots: tuple[int, ...] = (), on_snapshot=None) -> torch.Tensor:
    """``steps`` steps x <- clip(x + s g / (||g||_2 + 1e-10), 0, 1), g = grad_x f(x)[y] per sample.

    ``on_snapshot(k, x)`` is called after step k for every k in ``snapshots`` (k = 0: the seeds)."""
    x = x.detach()
    if 0 in snapshots and on_snapshot is not None:
        on_snapshot(0, x)
    for k in range(1, steps + 1):
        grad = _grad(model, x, labels, True)
        with torch.no_grad():
            norm = grad.flatten(1).norm(dim=1).view(-1, *[1] * (grad.dim() - 1))
            x = (x + step_size * grad / (norm + GRAD_NORM_FLOOR)).clamp(0.0, 1.0)
        if k in snapshots and on_snapshot is not None:
            on_snapshot(k, x)
    return x.detach()


def _ascend_in_chunks(request: SampleRequest, labels: torch.Tensor, generator: torch.Generator, steps: int,
                      step_size: float, snapshots: tuple[int, ...] = (), offset: int = 0) -> tuple[torch.Tensor, dict]:
    device, chunk = torch.device(request.device), max(1, int(request.settings.batch_size))
    seeds = request.seeds()
    out = torch.empty((len(labels), *request.image_shape))
    kept = {k: torch.empty_like(out) for k in snapshots}
    for start in range(0, len(labels), chunk):
        y = labels[start:start + chunk]
        x0 = seeds.draw(y, generator, start=offset + start).to(device)
        rows = slice(start, start + len(y))

        def keep(k, x, rows=rows):
            kept[k][rows] = x.float().cpu()

        x = dat_ascent(request.model, x0, y.to(device), steps=steps, step_size=step_size, snapshots=snapshots,
                       on_snapshot=keep)
        out[start:start + len(y)] = x.float().cpu()
        if request.report is not None:
            request.report(f"dat-pgd: {start + len(y)}/{len(labels)} samples, {steps} steps")
    return out, kept


def select_steps_by_fid(request: SampleRequest, candidates: list[int], n: int, step_size: float) -> dict[int, float]:
    """FID of ``n`` held-out samples (seeds from ``request.seed + 2``) at every candidate step count."""
    from benchbed.generative.fidelity import compute_fidelity

    if request.train is None:
        raise ConfigError("dat-pgd's select_steps needs the track's training split (the FID reference)")
    labels = class_labels(n, request.num_classes)
    generator = torch.Generator().manual_seed(int(request.seed) + 2)
    snaps = tuple(sorted(set(candidates)))
    # a seed file's held-out rows are those after the returned samples'
    _, kept = _ascend_in_chunks(request, labels, generator, max(snaps), step_size, snapshots=snaps,
                                offset=len(request))
    fids = {}
    for k in snaps:
        fids[k] = compute_fidelity(kept[k], request.train.images, extractor=request.settings.feature_extractor,
                                   device=request.device, dataset=request.dataset or "reference", split="train",
                                   isc=False, kid=False, seed=request.seed, batch_size=request.settings.batch_size,
                                   cache_dir=request.cache_dir).fid
    return fids


def sample_dat_pgd(request: SampleRequest, defaults: dict[str, Any] = DAT_DEFAULTS) -> torch.Tensor:
    o = merged_options("dat-pgd", defaults, request.settings.options)
    steps, step_size = int(o["steps"]), float(o["step_size"])
    candidates = [int(k) for k in (o["select_steps"] or [])]
    if steps < 0 or any(k < 0 for k in candidates) or step_size <= 0:
        raise ConfigError(f"dat-pgd needs steps >= 0, candidate steps >= 0 and step_size > 0, got {o}")
    if candidates:
        fids = select_steps_by_fid(request, candidates, int(o["select_samples"]), step_size)
        steps = min(fids, key=lambda k: (fids[k], k))
        request.stats["step_selection"] = {"fid_by_steps": {str(k): v for k, v in fids.items()}, "chosen": steps,
                                           "held_out_samples": int(o["select_samples"])}
    generator = torch.Generator().manual_seed(int(request.seed))
    out, kept = _ascend_in_chunks(request, request.labels, generator, steps, step_size, snapshots=(0,))
    device, chunk = torch.device(request.device), max(1, int(request.settings.batch_size))
    with torch.no_grad():
        request.stats.update(
            mean_joint_energy_seed=_mean_joint_energy(request.model, kept[0], request.labels, device, chunk),
            mean_joint_energy_final=_mean_joint_energy(request.model, out, request.labels, device, chunk),
            options={**o, "steps": steps}, seed_kind=request.settings.seed_kind)
    return out


def _mean_joint_energy(model, images: torch.Tensor, labels: torch.Tensor, device, chunk: int) -> float:
    total = 0.0
    for start in range(0, len(labels), chunk):
        x = images[start:start + chunk].to(device)
        total += float(joint_energy(model(x), labels[start:start + chunk].to(device)).sum())
    return total / max(1, len(labels))
