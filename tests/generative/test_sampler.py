import dataclasses
import math

import pytest
import torch
from torch import nn

import benchbed
from benchbed.contracts.errors import BenchbedError, ConfigError
from benchbed.contracts.specs import GenerationSettings, SamplerSpec
from benchbed.generative.sampling import SampleRequest, class_labels, draw_samples
from benchbed.generative.seeds import fit_seeds, kept_components
from benchbed.generative.sgld import joint_energy, sgld
from benchbed.registry import PluginHost


def test_fixed_seed_gives_identical_samples_twice(tiny_digits_mlp, small_track, registry):
    ds = registry.datasets.get("digits")
    a, la, _ = draw_samples(tiny_digits_mlp, small_track, ds, registry, "cpu", seed=7, progress=False)
    torch.manual_seed(123)  # the global RNG must not matter
    torch.rand(10)
    b, lb, _ = draw_samples(tiny_digits_mlp, small_track, ds, registry, "cpu", seed=7, progress=False)
    assert torch.equal(a, b) and torch.equal(la, lb)
    c, _, _ = draw_samples(tiny_digits_mlp, small_track, ds, registry, "cpu", seed=8, progress=False)
    assert not torch.equal(a, c)
    assert a.shape == (60, 1, 8, 8) and a.min() >= 0 and a.max() <= 1


def test_sampler_lowers_the_mean_joint_energy(tiny_digits_mlp, registry, digits_train):
    track = registry.tracks.get("digits-linf")  # default settings: eta 0.8, 50 steps, sigma 0.001, z 0
    settings = dataclasses.replace(track.generation, n_samples=100)
    labels = class_labels(100, 10)
    seeds = fit_seeds("pca", digits_train.images, digits_train.labels, 10)
    x0 = seeds.draw(labels, torch.Generator().manual_seed(0))
    energies = []
    x = sgld(tiny_digits_mlp, x0, labels, steps=settings.steps, step_size=settings.step_size, noise=settings.noise,
             momentum=settings.momentum, generator=torch.Generator().manual_seed(1), energies=energies)
    with torch.no_grad():
        e0 = joint_energy(tiny_digits_mlp(x0), labels).mean().item()
        e1 = joint_energy(tiny_digits_mlp(x), labels).mean().item()
    assert e1 < e0 - 1.0
    assert energies[0] == pytest.approx(e0, abs=1e-4) and energies[-1] == pytest.approx(e1, abs=1e-4)
    assert len(energies) == settings.steps + 1


def test_sgld_update_is_the_formula_of_docs_science_md():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3)).eval()
    x0 = torch.rand(5, 1, 2, 2) * 0.5 + 0.25
    y = torch.tensor([0, 1, 2, 0, 1])
    eta, sigma, z = 0.3, 0.01, 0.5
    got = sgld(model, x0, y, steps=2, step_size=eta, noise=sigma, momentum=z,
               generator=torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)
    x, v = x0.clone(), torch.zeros_like(x0)
    for _ in range(2):
        x.requires_grad_(True)
        (grad,) = torch.autograd.grad(-model(x).gather(1, y[:, None]).sum(), x)
        v = z * v - eta / 2 * grad
        x = (x.detach() + v + math.sqrt(2 * eta) * sigma * torch.randn(x.shape, generator=gen)).clamp(0, 1)
    assert torch.allclose(got, x, atol=1e-6)


def test_pca_seeds_keep_the_components_strictly_below_95_percent(digits_train):
    seeds = fit_seeds("pca", digits_train.images, digits_train.labels, 10)
    for y, basis in enumerate(seeds.classes):
        x = digits_train.images[digits_train.labels == y].reshape(-1, 64).double()
        s = torch.linalg.svdvals(x - x.mean(0))
        k = len(basis.singular_values)
        assert (s[:k] ** 2).sum() / (s ** 2).sum() < 0.95 <= (s[:k + 1] ** 2).sum() / (s ** 2).sum()
    # cumulative shares 0.899, 0.999, 1.0
    assert kept_components(torch.tensor([3.0, 1.0, 0.1]), 0.85) == 0
    assert kept_components(torch.tensor([3.0, 1.0, 0.1]), 0.95) == 1


@pytest.mark.parametrize("kind", ["pca", "gaussian", "uniform"])
def test_seed_kinds_are_in_range_and_class_conditional(kind, digits_train):
    seeds = fit_seeds(kind, digits_train.images, digits_train.labels, 10)
    labels = class_labels(200, 10)
    x = seeds.draw(labels, torch.Generator().manual_seed(0))
    assert x.shape == (200, 1, 8, 8) and x.min() >= 0 and x.max() <= 1
    if kind == "pca":  # tiny multipliers: seeds sit next to their class mean
        mean3 = digits_train.images[digits_train.labels == 3].mean(0)
        assert (x[labels == 3] - mean3).abs().mean() < 0.1
    assert torch.equal(x, seeds.draw(labels, torch.Generator().manual_seed(0)))


def test_unknown_seed_kind_is_a_clear_error(digits_train):
    with pytest.raises(ConfigError, match="unknown generation seed kind 'noise'"):
        fit_seeds("noise", digits_train.images, digits_train.labels, 10)


def test_sgld_is_registered_and_a_plugin_can_bring_its_own_sampler(tiny_digits_mlp, small_track):
    calls = []

    def constant_sampler(request: SampleRequest):
        calls.append(len(request))
        return torch.full((len(request), *request.image_shape), 0.5)

    class MySampler:
        @benchbed.plugin.hookimpl
        def register_samplers(self, register):
            register(SamplerSpec(name="constant", sample=constant_sampler))

    host = PluginHost(load_external=False)
    host.register(MySampler(), name="my-sampler")
    reg = host.registry
    assert reg.samplers.source("sgld") == "benchbed.builtin.samplers"
    track = small_track.replace(generation=dataclasses.replace(small_track.generation, sampler="constant"))
    x, labels, stats = draw_samples(tiny_digits_mlp, track, reg.datasets.get("digits"), reg, "cpu", n=30,
                                    progress=False)
    assert calls == [30] and stats["sampler"] == "constant" and torch.all(x == 0.5)


def test_a_sampler_returning_the_wrong_shape_is_named(tiny_digits_mlp, small_track):
    class Bad:
        @benchbed.plugin.hookimpl
        def register_samplers(self, register):
            register(SamplerSpec(name="bad", sample=lambda request: torch.zeros(3, 1, 8, 8)))

    host = PluginHost(load_external=False)
    host.register(Bad(), name="bad-sampler")
    track = small_track.replace(generation=GenerationSettings(sampler="bad", n_samples=10))
    with pytest.raises(BenchbedError, match="sampler 'bad' returned"):
        draw_samples(tiny_digits_mlp, track, host.registry.datasets.get("digits"), host.registry, "cpu", progress=False)
