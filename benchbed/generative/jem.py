"""``jem-sgld``: JEM's own generation (Grathwohl et al. 2020, ``eval_wrn_ebm.py --eval uncond_samples``).

Re-derived from the paper and from reading its public evaluation code (docs/science.md, "Samplers");
nothing is copied. On benchbed's [0, 1] pixels (JEM works on [-1, 1]: its step 1.0 and noise 0.01
are 0.25 and 0.005 here, and its U(-1, 1) noise is U[0, 1]):

- a replay buffer with one slot per requested sample starts from the model's own replay buffer where
  the model hands one over (``ModelSpec.replay_buffer``, e.g. the ``replay_buffer`` a released JEM
  checkpoint file holds; a seeded random subset of it, the rest U[0, 1] if it is smaller), else
  from U[0, 1] noise (option ``buffer="uniform"`` forces that);
- rounds: each draws ``settings.batch_size`` distinct slots at random, re-draws each of them from
  U[0, 1] with probability ``reinit`` (a Bernoulli draw per slot), runs ``steps`` SGLD steps

      x <- x + alpha grad_x logsumexp f(x) + sigma N(0, I)      (unconditional; no clamping)

  and writes them back; ``ceil(visits * N / batch)`` rounds, i.e. ``visits`` visits per slot on
  average (JEM's README: 1000 rounds of 64 chains on 10,000 slots = 6.4);
- the samples are the final buffer, clamped to [0, 1] (JEM clamps only when it saves images), each
  labelled with the class the model predicts for it: JEM groups its samples by predicted class, so
  the returned labels replace the requested ones and the classes need not be balanced.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from benchbed.contracts.errors import ConfigError
from benchbed.generative.defaults import JEM_BUFFERS, JEM_DEFAULTS
from benchbed.generative.sampling import SampleRequest
from benchbed.generative.sgld import _device_generator


def _options(request: SampleRequest, defaults: dict[str, Any]) -> dict[str, Any]:
    from benchbed.generative.joint_samplers import merged_options

    options = dict(request.settings.options)
    if "conditional" in options or "passes" in options:
        raise ConfigError("jem-sgld is now JEM's own unconditional generation and has no 'conditional' / 'passes' "
                          "options: name the sampler 'jem-sgld-conditional' for benchbed's class-conditional variant")
    o = merged_options("jem-sgld", defaults, options)
    if int(o["steps"]) < 0 or float(o["visits"]) <= 0 or not 0.0 <= float(o["reinit"]) <= 1.0 \
            or o["buffer"] not in JEM_BUFFERS:
        raise ConfigError(f"jem-sgld needs steps >= 0, visits > 0, 0 <= reinit <= 1 and buffer in {JEM_BUFFERS}, "
                          f"got {o}")
    return o


def initial_buffer(request: SampleRequest, kind: str, generator: torch.Generator) -> tuple[torch.Tensor, str]:
    """The starting buffer (N slots, CPU float32) and, in words, where it came from."""
    n, shape = len(request), tuple(request.image_shape)
    buffer = torch.rand((n, *shape), generator=generator)
    own = request.replay_buffer(request.device) if kind == "model" and request.replay_buffer is not None else None
    if own is None:
        return buffer, "U[0, 1] noise"
    own = torch.as_tensor(own).detach().float().cpu()
    if own.dim() != 4 or tuple(own.shape[1:]) != shape or not torch.isfinite(own).all():
        want = ", ".join(map(str, shape))
        raise ConfigError(f"the model's replay buffer has shape {tuple(own.shape)}, expected (B, {want}) finite "
                          f"pixels in [0, 1]: fix its ModelSpec.replay_buffer")
    take = torch.randperm(len(own), generator=generator)[:n]
    buffer[:len(take)] = own[take]
    return buffer, f"the model's own replay buffer ({len(own)} images; {len(take)} used, {n - len(take)} U[0, 1])"


def sample_jem(request: SampleRequest, defaults: dict[str, Any] = JEM_DEFAULTS) -> torch.Tensor:
    from benchbed.generative.joint_samplers import jem_sgld_steps

    o = _options(request, defaults)
    device = torch.device(request.device)
    start_gen = torch.Generator().manual_seed(int(request.seed))  # buffer, slot draws, re-inits
    noise_gen = _device_generator(device, int(request.seed) + 1)
    n, chunk = len(request), max(1, min(int(request.settings.batch_size), len(request)))
    buffer, source = initial_buffer(request, str(o["buffer"]), start_gen)
    rounds = math.ceil(float(o["visits"]) * n / chunk)
    for r in range(rounds):
        idx = torch.randperm(n, generator=start_gen)[:chunk]
        x = buffer[idx]
        again = torch.rand(len(idx), generator=start_gen) < float(o["reinit"])
        fresh = torch.rand(x.shape, generator=start_gen)
        x = torch.where(again.view(-1, *[1] * (x.dim() - 1)), fresh, x)
        buffer[idx] = jem_sgld_steps(request.model, x.to(device), None, steps=int(o["steps"]),
                                     step_size=float(o["step_size"]), noise=float(o["noise"]), conditional=False,
                                     generator=noise_gen, clamp=False).float().cpu()  # JEM clips only at the end
        if request.report is not None and (r % 10 == 9 or r == rounds - 1):
            request.report(f"jem-sgld: round {r + 1}/{rounds} ({chunk} chains x {o['steps']} steps, {n} slots)")
    samples = buffer.clamp(0.0, 1.0)
    with torch.no_grad():
        logits = torch.cat([request.model(samples[i:i + chunk].to(device)).float().cpu()
                            for i in range(0, n, chunk)])
    request.labels = logits.argmax(dim=1)  # JEM groups its samples by the class the model predicts
    request.stats.update(options=o, seed_kind=source, rounds=rounds,
                         labels="the model's predicted class of each sample (unconditional sampling)",
                         mean_marginal_energy_final=float(-torch.logsumexp(logits, 1).mean()),
                         class_counts=torch.bincount(request.labels, minlength=request.num_classes).tolist())
    return samples
