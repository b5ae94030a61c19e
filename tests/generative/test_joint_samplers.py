"""The joint models' samplers (jem-sgld-conditional, dat-pgd; jem-sgld in test_jem_generation.py): determinism,
a bare PyTorch loop of the same update,
the energy moving the intended way, option handling and the model's preferred sampler."""
import dataclasses

import pytest
import torch

from benchbed.contracts.errors import ConfigError
from benchbed.contracts.specs import GenerationSettings, ModelSpec
from benchbed.generative.joint_samplers import dat_ascent, log_density
from benchbed.generative.sampling import SampleRequest, class_labels, draw_samples


def _track(small_track, sampler, **options):
    return small_track.replace(generation=dataclasses.replace(small_track.generation, sampler=sampler,
                                                              options=options))


@pytest.mark.parametrize("sampler", ["jem-sgld-conditional", "dat-pgd", "jem-sgld"])
def test_same_seed_gives_identical_samples(sampler, tiny_digits_mlp, small_track, registry):
    ds = registry.datasets.get("digits")
    track = _track(small_track, sampler, steps=5, **({"passes": 2} if sampler == "jem-sgld-conditional" else {}))
    a, la, _ = draw_samples(tiny_digits_mlp, track, ds, registry, "cpu", seed=3, progress=False)
    torch.manual_seed(99)  # the global RNG must not matter
    b, lb, _ = draw_samples(tiny_digits_mlp, track, ds, registry, "cpu", seed=3, progress=False)
    assert torch.equal(a, b) and torch.equal(la, lb)
    c, _, _ = draw_samples(tiny_digits_mlp, track, ds, registry, "cpu", seed=4, progress=False)
    assert not torch.equal(a, c)


def _bare_jem(model, n, shape, labels, *, seed, steps, passes, alpha, sigma, reinit, chunk):
    """JEM's buffer protocol written out with plain tensors, in the documented order of random draws."""
    start = torch.Generator().manual_seed(seed)
    noise = torch.Generator().manual_seed(seed + 1)
    buffer = torch.rand((n, *shape), generator=start)
    for p in range(passes):
        order = torch.randperm(n, generator=start)
        for idx in order.split(chunk):
            x = buffer[idx].clone()
            if p < passes - 1:
                fresh = torch.rand(x.shape, generator=start)
                again = torch.rand(len(idx), generator=start) < reinit
                x[again] = fresh[again]
            y = labels[idx]
            for _ in range(steps):
                x = x.detach().requires_grad_(True)
                score = model(x)[torch.arange(len(y)), y].sum()
                (g,) = torch.autograd.grad(score, x)
                x = (x.detach() + alpha * g + sigma * torch.randn(x.shape, generator=noise)).clamp(0, 1)
            buffer[idx] = x.detach()
    return buffer


def test_jem_sgld_conditional_equals_a_bare_pytorch_loop(tiny_digits_mlp, small_track, registry):
    track = _track(small_track, "jem-sgld-conditional", steps=4, passes=3, reinit=0.3)
    x, labels, _ = draw_samples(tiny_digits_mlp, track, registry.datasets.get("digits"), registry, "cpu", n=40,
                                seed=5, progress=False)
    ref = _bare_jem(tiny_digits_mlp, 40, (1, 8, 8), class_labels(40, 10), seed=5, steps=4, passes=3, alpha=0.25,
                    sigma=0.005, reinit=0.3, chunk=25)
    torch.testing.assert_close(x, ref, rtol=0, atol=1e-6)


def test_dat_pgd_equals_a_bare_pytorch_loop(tiny_digits_mlp):
    torch.manual_seed(0)
    x0, y = torch.rand(12, 1, 8, 8), class_labels(12, 10)
    got = dat_ascent(tiny_digits_mlp, x0, y, steps=7, step_size=0.2)
    x = x0.clone()
    for _ in range(7):
        x.requires_grad_(True)
        (g,) = torch.autograd.grad(tiny_digits_mlp(x)[torch.arange(12), y].sum(), x)
        norms = torch.stack([gi.norm() for gi in g]).view(-1, 1, 1, 1)  # per-sample L2 norm, hand-computed
        x = torch.clamp(x.detach() + 0.2 * g / (norms + 1e-10), 0, 1)
    torch.testing.assert_close(got, x, rtol=0, atol=1e-6)


def _mean_logit(model, x, y):
    with torch.no_grad():
        return log_density(model(x), y, True).mean().item()


def test_jem_sgld_conditional_lowers_the_energy_and_dat_pgd_raises_the_class_logit(tiny_digits_mlp, small_track,
                                                                                    registry):
    ds = registry.datasets.get("digits")
    _, _, jem = draw_samples(tiny_digits_mlp, _track(small_track, "jem-sgld-conditional", passes=2), ds, registry,
                             "cpu",
                             progress=False)
    assert jem["mean_joint_energy_final"] < jem["mean_joint_energy_seed"] - 1.0  # E(x, y) = -f(x)[y] went down
    x, y, dat = draw_samples(tiny_digits_mlp, _track(small_track, "dat-pgd", steps=10), ds, registry, "cpu",
                             progress=False)
    assert dat["mean_joint_energy_final"] < dat["mean_joint_energy_seed"] - 1.0
    assert _mean_logit(tiny_digits_mlp, x, y) == pytest.approx(-dat["mean_joint_energy_final"], rel=1e-5)


def test_dat_step_selection_picks_the_lowest_held_out_fid(tiny_digits_mlp, small_track, registry, monkeypatch):
    from benchbed.generative import joint_samplers

    monkeypatch.setattr(joint_samplers, "select_steps_by_fid", lambda request, c, n, s: {0: 9.0, 3: 4.0, 6: 4.0})
    track = _track(small_track, "dat-pgd", select_steps=[0, 3, 6], select_samples=20)
    x, y, stats = draw_samples(tiny_digits_mlp, track, registry.datasets.get("digits"), registry, "cpu", n=20,
                               progress=False)
    assert stats["step_selection"]["chosen"] == 3 and stats["options"]["steps"] == 3  # ties: fewer steps
    direct, _, _ = draw_samples(tiny_digits_mlp, _track(small_track, "dat-pgd", steps=3),
                                registry.datasets.get("digits"), registry, "cpu", n=20, progress=False)
    assert torch.equal(x, direct)


def test_dat_step_selection_reads_fid_at_every_candidate(tiny_digits_mlp, small_track, registry, digits_train):
    from benchbed.generative.fidelity import compute_fidelity
    from benchbed.generative.joint_samplers import select_steps_by_fid

    settings = dataclasses.replace(small_track.generation, sampler="dat-pgd")
    request = SampleRequest(model=tiny_digits_mlp, labels=class_labels(10, 10), settings=settings, train=digits_train,
                            num_classes=10, image_shape=(1, 8, 8), device=torch.device("cpu"), dataset="digits")
    fids = select_steps_by_fid(request, [0, 2], 30, 0.2)
    gen, labels = torch.Generator().manual_seed(2), class_labels(30, 10)  # seed + 2: held out
    seeds = torch.cat([request.seeds().draw(labels[i:i + 25], gen) for i in (0, 25)])  # chunks of batch_size
    direct = compute_fidelity(seeds, digits_train.images, extractor="digits-cnn", device="cpu", dataset="digits",
                              isc=False, kid=False).fid
    assert fids[0] == pytest.approx(direct, rel=1e-6) and set(fids) == {0, 2}


def test_unknown_sampler_option_is_one_line(tiny_digits_mlp, small_track, registry):
    with pytest.raises(ConfigError, match="sampler 'jem-sgld' has no option.*'stpes'"):
        draw_samples(tiny_digits_mlp, _track(small_track, "jem-sgld", stpes=3), registry.datasets.get("digits"),
                     registry, "cpu", progress=False)


def test_track_sampler_model_uses_the_models_preferred_sampler(tiny_digits_mlp, small_track, registry):
    spec = ModelSpec(name="m", dataset="digits", threat_models=("Linf",), architecture="mlp", recipe="DAT",
                     loader=lambda d: tiny_digits_mlp, family="joint", sampler="dat-pgd")
    plain = dataclasses.replace(spec, sampler="")
    settings = GenerationSettings(sampler="model")
    assert settings.sampler_for(spec) == "dat-pgd" and settings.sampler_for(plain) == "sgld"
    assert GenerationSettings(sampler="sgld").sampler_for(spec) == "sgld"  # a track that names one forces it
    assert settings.sampler_for(spec, override="jem-sgld") == "jem-sgld"  # benchbed sample --sampler
    track = _track(small_track, "model")
    _, _, stats = draw_samples(tiny_digits_mlp, track, registry.datasets.get("digits"), registry, "cpu", n=20,
                               model_spec=spec, progress=False)
    assert stats["sampler"] == "dat-pgd"


def test_samplers_are_listed(capsys):
    from benchbed.cli import main

    assert main(["samplers"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("sgld", "jem-sgld", "jem-sgld-conditional", "dat-pgd"))



def test_benchbed_sample_sampler_overrides_the_tracks(tiny_digits_mlp, tmp_path, monkeypatch, capsys):
    import json

    import benchbed
    from benchbed import registry as plugin_registry
    from benchbed.cli import main
    from benchbed.registry import PluginHost

    class Tiny:
        @benchbed.plugin.hookimpl
        def register_models(self, register):
            register(ModelSpec(name="tiny", dataset="digits", threat_models=("Linf",), architecture="mlp",
                               recipe="standard", loader=lambda d: tiny_digits_mlp))

    host = PluginHost(load_external=False)
    host.register(Tiny(), name="tiny")
    monkeypatch.setattr(plugin_registry, "registry", lambda: host.registry)
    assert main(["sample", "--model", "tiny", "--sampler", "dat-pgd", "--n", "20", "--out", str(tmp_path),
                 "--quiet", "--device", "cpu"]) == 0
    meta = json.loads((tmp_path / "samples.json").read_text())
    assert meta["sampler"] == "dat-pgd" and meta["options"]["steps"] == 33  # the sampler's own defaults
    assert main(["sample", "--model", "tiny", "--sampler", "nope", "--n", "20", "--out", str(tmp_path)]) == 2
    assert "nope" in capsys.readouterr().err
