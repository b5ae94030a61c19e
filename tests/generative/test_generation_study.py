"""benchbed generation-study: the sweep, its stored StudyResult, and its curves on the model page."""
import dataclasses

import pytest
import torch

import benchbed
from benchbed.contracts.specs import ModelSpec
from benchbed.registry import PluginHost


class _Plugin:
    def __init__(self, module):
        self.module = module

    @benchbed.plugin.hookimpl
    def register_models(self, register):
        register(ModelSpec(name="tiny-joint", dataset="digits", threat_models=("Linf",), architecture="mlp",
                           recipe="DAT", family="joint", sampler="dat-pgd", loader=lambda d: self.module.to(d)))


@pytest.fixture
def host(tiny_digits_mlp):
    host = PluginHost(load_external=False)
    host.register(_Plugin(tiny_digits_mlp), name="tiny")
    return host


def test_the_sweep_has_one_row_per_cell_and_its_numbers_are_the_samplers(host, tiny_digits_mlp, digits_train):
    from benchbed.generative.sampling import draw_samples
    from benchbed.generative.sgld import joint_energy
    from benchbed.studies.generation_study import run_generation_study, settings_for

    reg = host.registry
    track = reg.tracks.get("digits-linf")
    track = track.replace(generation=dataclasses.replace(track.generation, batch_size=50))
    study = run_generation_study(reg.models.get("tiny-joint"), track, reg, samplers=["sgld", "jem-sgld", "dat-pgd"],
                                 seed_kinds=["pca", "uniform"], steps=[0, 4], n=50)
    cells = [(r["sampler"], r["seed_kind"], r["steps"]) for r in study.rows]
    assert cells == [("sgld", "pca", 0), ("sgld", "pca", 4), ("sgld", "uniform", 0), ("sgld", "uniform", 4),
                     ("jem-sgld", "uniform", 0), ("jem-sgld", "uniform", 4),  # its own starts: one seed kind
                     ("dat-pgd", "pca", 0), ("dat-pgd", "pca", 4), ("dat-pgd", "uniform", 0), ("dat-pgd", "uniform", 4)]
    # one cell redone by hand: the same samples, hence the same mean energy
    cell = track.replace(generation=settings_for(track.generation, "dat-pgd", "uniform", 4))
    x, y, _ = draw_samples(tiny_digits_mlp, cell, reg.datasets.get("digits"), reg, "cpu", n=50, progress=False)
    with torch.no_grad():
        energy = joint_energy(tiny_digits_mlp(x), y).mean().item()
    assert study.rows[-1]["mean_joint_energy"] == pytest.approx(energy, rel=1e-5)
    assert study.rows[-1]["mean_joint_energy"] < study.rows[-2]["mean_joint_energy"]  # ascent lowers E(x, y)
    # 0 steps means the seeds themselves, whichever sampler
    assert study.rows[0]["digits_fid"] == pytest.approx(study.rows[6]["digits_fid"], rel=1e-9)
    assert study.kind == "generation" and "digits_class_acc" in study.columns


def test_cli_stores_the_study_and_the_model_page_draws_labelled_curves(host, tmp_path, monkeypatch, capsys):
    from benchbed import registry as plugin_registry
    from benchbed.cli import main
    from benchbed.leaderboard.presentation import Presentation
    from benchbed.leaderboard.studies import study_view
    from benchbed.results.store import ResultsStore

    monkeypatch.setattr(plugin_registry, "registry", lambda: host.registry)
    assert main(["generation-study", "--model", "tiny-joint", "--samplers", "dat-pgd", "--seed-kinds", "pca",
                 "--steps", "0,3", "--n", "20", "--out", str(tmp_path), "--quiet", "--device", "cpu"]) == 0
    assert "stored in" in capsys.readouterr().out
    (study,) = ResultsStore(tmp_path).studies()
    view = study_view(study, {}, Presentation.from_registry(host.registry))
    (group,) = view["groups"]
    panels = group["figures"]
    assert [p["title"] for p in panels][:3] == ["digits-FID (lower is better)", "digits-IS (higher is better)",
                                                "Mean joint energy of the samples"]
    for p in panels:
        assert p["plot"]["x_label"] == "sampler steps per sample (steps)" and "(" in p["plot"]["y_label"]
        assert len(p["plot"]["series"][0]["markers"]) == 2
        assert p["plot"]["series"][0]["label"] == "dat-pgd from pca seeds"


def test_bad_steps_are_one_line(host, monkeypatch, capsys):
    from benchbed import registry as plugin_registry
    from benchbed.cli import main

    monkeypatch.setattr(plugin_registry, "registry", lambda: host.registry)
    assert main(["generation-study", "--model", "tiny-joint", "--steps", "a,b"]) == 2
    assert "--steps must be comma-separated integers" in capsys.readouterr().err
