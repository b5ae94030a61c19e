"""``jem-sgld`` is JEM's own generation (eval_wrn_ebm.py uncond_samples): unconditional SGLD on logsumexp
from a replay buffer (the model's own where it has one), no clamping while sampling, Bernoulli re-init,
samples labelled by the model's prediction. Checked against a bare PyTorch loop (issue 18)."""
import dataclasses
import math

import pytest
import torch

from benchbed.contracts.errors import ConfigError
from benchbed.contracts.specs import ModelSpec
from benchbed.generative.sampling import draw_samples


def _track(small_track, **options):
    return small_track.replace(generation=dataclasses.replace(small_track.generation, sampler="jem-sgld",
                                                              options=options))


def _bare_jem(model, n, shape, *, seed, steps, visits, alpha, sigma, reinit, chunk, start=None):
    """JEM's uncond_samples loop with plain tensors, in the documented order of random draws."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.Generator().manual_seed(seed + 1)
    buffer = torch.rand((n, *shape), generator=g)
    if start is not None:
        take = torch.randperm(len(start), generator=g)[:n]
        buffer[:len(take)] = start[take]
    for _ in range(math.ceil(visits * n / chunk)):
        idx = torch.randperm(n, generator=g)[:chunk]
        x = buffer[idx].clone()
        again = torch.rand(len(idx), generator=g) < reinit
        fresh = torch.rand(x.shape, generator=g)
        x[again] = fresh[again]
        for _ in range(steps):
            x = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(torch.logsumexp(model(x), 1).sum(), x)
            x = x.detach() + alpha * grad + sigma * torch.randn(x.shape, generator=noise)  # no clamp
        buffer[idx] = x.detach()
    return buffer


def test_jem_sgld_equals_a_bare_loop_and_labels_by_prediction(tiny_digits_mlp, small_track, registry):
    track = _track(small_track, steps=3, visits=2.0, reinit=0.3)
    x, labels, stats = draw_samples(tiny_digits_mlp, track, registry.datasets.get("digits"), registry, "cpu", n=40,
                                    seed=5, progress=False)
    ref = _bare_jem(tiny_digits_mlp, 40, (1, 8, 8), seed=5, steps=3, visits=2.0, alpha=0.25, sigma=0.005,
                    reinit=0.3, chunk=25)
    torch.testing.assert_close(x, ref.clamp(0, 1), rtol=0, atol=1e-6)
    assert float(ref.max()) > 1 or float(ref.min()) < 0  # the chains left [0, 1]: nothing clamped them
    with torch.no_grad():
        assert torch.equal(labels, tiny_digits_mlp(x).argmax(1))  # grouped by the model's predicted class
    assert stats["rounds"] == math.ceil(2.0 * 40 / 25) and stats["seed_kind"] == "U[0, 1] noise"


def test_jem_sgld_starts_from_the_models_own_replay_buffer(tiny_digits_mlp, small_track, registry):
    own = torch.rand(30, 1, 8, 8, generator=torch.Generator().manual_seed(7))
    spec = ModelSpec(name="m", dataset="digits", threat_models=("Linf",), architecture="mlp", recipe="JEM",
                     loader=lambda d: tiny_digits_mlp, family="joint", sampler="jem-sgld",
                     replay_buffer=lambda device: own)
    track = _track(small_track, steps=2, visits=1.0)
    x, _, stats = draw_samples(tiny_digits_mlp, track, registry.datasets.get("digits"), registry, "cpu", n=20,
                               seed=1, progress=False, model_spec=spec)
    ref = _bare_jem(tiny_digits_mlp, 20, (1, 8, 8), seed=1, steps=2, visits=1.0, alpha=0.25, sigma=0.005,
                    reinit=0.05, chunk=20, start=own)
    torch.testing.assert_close(x, ref.clamp(0, 1), rtol=0, atol=1e-6)
    assert "own replay buffer (30 images; 20 used" in stats["seed_kind"]
    forced, _, _ = draw_samples(tiny_digits_mlp, _track(small_track, steps=2, visits=1.0, buffer="uniform"),
                                registry.datasets.get("digits"), registry, "cpu", n=20, seed=1, progress=False,
                                model_spec=spec)
    assert not torch.equal(forced, x)


def test_the_old_conditional_options_point_at_the_renamed_sampler(tiny_digits_mlp, small_track, registry):
    with pytest.raises(ConfigError, match="jem-sgld-conditional"):
        draw_samples(tiny_digits_mlp, _track(small_track, passes=2, conditional=True), registry.datasets.get("digits"),
                     registry, "cpu", n=10, progress=False)


def test_the_jem_checkpoints_replay_buffer_is_handed_over(tmp_path):
    from benchbed_joint_models import plugin

    path = tmp_path / "CIFAR10_MODEL.pt"
    buffer = torch.rand(4, 3, 32, 32) * 2 - 1  # JEM's [-1, 1] scale
    torch.save({"model_state_dict": {}, "replay_buffer": buffer}, path)
    torch.testing.assert_close(plugin.jem_replay_buffer("cpu", path=path), (buffer + 1) / 2)
    torch.save({"model_state_dict": {}}, path)
    assert plugin.jem_replay_buffer("cpu", path=path) is None
    spec = next(s for s in plugin.specs() if s.name == "jem-wrn28-10")
    assert spec.replay_buffer is not None
