import dataclasses
import io
import json

import numpy as np

import benchbed
from benchbed.cli import main
from benchbed.generative.grid import grid_png_from_arrays
from benchbed.plugins import PluginHost
from benchbed.specs import ModelSpec

PLUGIN_FILE = '''
import torch
from torch import nn
import benchbed
from benchbed.specs import ModelSpec


def _load(device):
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)).to(device)


@benchbed.plugin.hookimpl
def register_models(register):
    register(ModelSpec(name="tiny-sampler-model", dataset="digits", threat_models=("Linf",),
                       architecture="mlp", recipe="standard", loader=_load))
'''


def test_columns_follow_the_track_prefix(registry):
    metric = registry.metrics.get("generative")
    digits = {c.name: c for c in metric.columns_for(registry.tracks.get("digits-linf"))}
    cifar = {c.name: c for c in metric.columns_for(registry.tracks.get("cifar10-linf"))}
    assert set(digits) == {"digits_is", "digits_fid", "digits_kid"}
    assert set(cifar) == {"is", "fid", "kid"}
    assert digits["digits_is"].higher_is_better is True
    assert digits["digits_fid"].higher_is_better is False and cifar["kid"].higher_is_better is False
    assert "digits-cnn" in digits["digits_fid"].description and "digits-" in digits["digits_fid"].description
    assert "inception" in cifar["fid"].description
    for name in ("digits-linf", "cifar10-linf", "cifar10-l2", "cifar100-linf"):
        assert "generative" in registry.tracks.get(name).metrics


class TinyModel:
    def __init__(self, module):
        self.module = module

    @benchbed.plugin.hookimpl
    def register_models(self, register):
        register(ModelSpec(name="tiny-mlp", dataset="digits", threat_models=("Linf",), architecture="mlp",
                           recipe="standard", loader=lambda device: self.module.to(device)))


def test_generative_metric_through_the_runner(tiny_digits_mlp, tmp_path):
    from benchbed.runner import run_track
    from benchbed.store import ResultsStore

    host = PluginHost(load_external=False)
    host.register(TinyModel(tiny_digits_mlp), name="tiny")
    reg = host.registry
    track = reg.tracks.get("digits-linf")
    track = track.replace(metrics=("clean_accuracy", "generative"), n_examples=50,
                          generation=dataclasses.replace(track.generation, n_samples=100, steps=10))
    summary = run_track(track, ["tiny-mlp"], device="cpu", results_dir=tmp_path, registry=reg, show_progress=False)
    assert not summary.failed, summary.failed[0].error
    record = summary.records[0]
    assert ResultsStore(tmp_path).record("digits-linf", "tiny-mlp", record.variant) == record
    metrics = record.metrics
    assert set(metrics) == {"clean_accuracy", "digits_is", "digits_fid", "digits_kid"}
    assert all(isinstance(v, float) and np.isfinite(v) for v in metrics.values())
    assert 1.0 <= metrics["digits_is"] <= 10.0 and metrics["digits_fid"] > 0
    assert record.columns["digits_fid"].higher_is_better is False
    info = record.metric_info["generative"]
    assert info["n_samples"] == 100 and info["quick"] is True and info["sampler"] == "sgld"
    assert info["fidelity"]["feature_extractor"] == "digits-cnn"
    assert info["sampler_stats"]["mean_joint_energy_final"] < info["sampler_stats"]["mean_joint_energy_seed"]
    png = grid_png_from_arrays(ResultsStore(tmp_path).arrays(record))
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (8 * 36 + 4, 10 * 36 + 4)  # 32-px cells, 4-px gaps


def test_generative_is_a_model_level_unit_in_a_sharded_run(tiny_digits_mlp, tmp_path):
    from benchbed.runner import run_track
    from benchbed.store import ResultsStore

    host = PluginHost(load_external=False)
    host.register(TinyModel(tiny_digits_mlp), name="tiny")
    reg = host.registry
    assert reg.metrics.get("generative").scope == "model"
    track = reg.tracks.get("digits-linf")
    track = track.replace(metrics=("clean_accuracy", "generative"), n_examples=40, block_size=20,
                          generation=dataclasses.replace(track.generation, n_samples=50, steps=5))
    summary = run_track(track, ["tiny-mlp"], device="cpu", results_dir=tmp_path, registry=reg, show_progress=False,
                        shards=2)
    assert not summary.failed, summary.failed[0].error
    store = ResultsStore(tmp_path)
    record = summary.records[0]
    assert [u.id for u in record.units] == ["shard-0001-of-0002", "shard-0002-of-0002", "model"]
    assert {"clean_accuracy", "digits_is", "digits_fid", "digits_kid"} <= set(record.metrics)
    assert grid_png_from_arrays(store.arrays(record)).startswith(b"\x89PNG")


def test_a_track_without_generation_settings_says_so(tiny_digits_mlp, tmp_path):
    from benchbed.runner import run_track

    host = PluginHost(load_external=False)
    host.register(TinyModel(tiny_digits_mlp), name="tiny")
    track = host.registry.tracks.get("digits-linf").replace(metrics=("generative",), generation=None, n_examples=10)
    summary = run_track(track, ["tiny-mlp"], device="cpu", results_dir=tmp_path, registry=host.registry,
                        show_progress=False)
    record = summary.records[0]  # the metric fails alone: a partial record saying why
    assert record.partial and not record.metrics
    assert "has no generation settings" in record.metric_errors["generative"]


def test_benchbed_sample_writes_pngs(tmp_path, fresh_plugins, monkeypatch, capsys):
    from PIL import Image

    plugin = tmp_path / "tiny_plugin.py"
    plugin.write_text(PLUGIN_FILE)
    monkeypatch.setenv("BENCHBED_PLUGINS", "")
    out = tmp_path / "out"
    rc = main(["--plugin", str(plugin), "sample", "--model", "tiny-sampler-model", "--track", "digits-linf",
               "--n", "20", "--out", str(out), "--device", "cpu", "--seed", "3", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    files = sorted((out / "samples").glob("*.png"))
    assert len(files) == 20 and files[0].name == "00000-0.png" and files[13].name == "00013-3.png"
    first = Image.open(files[0])
    assert first.size == (8, 8) and first.mode == "L"
    assert Image.open(out / "grid.png").format == "PNG"
    meta = json.loads((out / "samples.json").read_text())
    assert meta["n_samples"] == 20 and meta["seed"] == 3 and meta["labels"][:3] == [0, 1, 2]
    assert "wrote 20 samples" in capsys.readouterr().out


def test_benchbed_sample_rejects_a_bad_count(tmp_path, fresh_plugins, monkeypatch, capsys):
    plugin = tmp_path / "tiny_plugin.py"
    plugin.write_text(PLUGIN_FILE)
    monkeypatch.setenv("BENCHBED_PLUGINS", "")
    rc = main(["--plugin", str(plugin), "sample", "--model", "tiny-sampler-model", "--n", "0",
               "--out", str(tmp_path / "o"), "--device", "cpu"])
    assert rc == 2 and "--n must be a positive number" in capsys.readouterr().err
