import dataclasses
import io
import json

import numpy as np
import pytest
import torch

import benchbed
from benchbed.cli import main
from benchbed.contracts.specs import ModelSpec
from benchbed.generative.grid import grid_png_from_arrays
from benchbed.registry import PluginHost

PLUGIN_FILE = '''
import torch
from torch import nn
import benchbed
from benchbed.contracts.specs import ModelSpec


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
    assert set(digits) == {"digits_is", "digits_fid", "digits_kid", "digits_class_acc"}
    assert set(cifar) == {"is", "fid", "kid"}  # Inception has no head over CIFAR's classes: no accuracy column
    assert digits["digits_is"].higher_is_better is True
    assert digits["digits_fid"].higher_is_better is False and cifar["kid"].higher_is_better is False
    assert "digits-cnn" in digits["digits_fid"].description and "digits-" in digits["digits_fid"].description
    assert "inception" in cifar["fid"].description
    for name in ("digits-linf", "cifar10-linf", "cifar10-l2", "cifar100-linf"):
        assert "generative" in registry.tracks.get(name).metrics


def test_every_generative_column_states_its_protocol(registry):
    metric = registry.metrics.get("generative")
    for c in metric.columns_for(registry.tracks.get("digits-linf")):
        assert "1,000 samples" in c.protocol and "sgld (50 steps" in c.protocol and "digits-cnn" in c.protocol
        assert "full training split" in c.protocol and "10 splits" in c.protocol
    track = registry.tracks.get("digits-linf")
    own = track.replace(generation=dataclasses.replace(track.generation, sampler="model"))
    for c in metric.columns_for(own):  # different protocols in one column: said in the header and the protocol
        assert "each model's own sampler" in c.protocol and "compare rows with care" in c.description


def test_independent_classifier_accuracy_against_a_hand_count(digits_train):
    from benchbed.generative.extractor import load_net
    from benchbed.generative.fidelity import independent_classifier_accuracy

    x, y = digits_train.images[:200], digits_train.labels[:200].clone()
    y[:50] = (y[:50] + 1) % 10  # a quarter drawn "for" the wrong class
    got = independent_classifier_accuracy(x, y, extractor="digits-cnn", dataset="digits")
    with torch.no_grad():
        pred = load_net()(torch.round(x * 255) / 255).argmax(1)  # the 8-bit images FID sees
    assert got["accuracy"] == pytest.approx(100.0 * (pred == y).float().mean().item())
    assert independent_classifier_accuracy(x, y, extractor="inception-v3-compat", dataset="cifar10") is None
    assert independent_classifier_accuracy(x, y, extractor="digits-cnn", dataset="cifar10") is None  # not its classes


class TinyModel:
    def __init__(self, module):
        self.module = module

    @benchbed.plugin.hookimpl
    def register_models(self, register):
        register(ModelSpec(name="tiny-mlp", dataset="digits", threat_models=("Linf",), architecture="mlp",
                           recipe="standard", loader=lambda device: self.module.to(device)))


def test_generative_metric_through_the_runner(tiny_digits_mlp, tmp_path):
    from benchbed.engine.runner import run_track
    from benchbed.results.store import ResultsStore

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
    assert set(metrics) == {"clean_accuracy", "digits_is", "digits_fid", "digits_kid", "digits_class_acc"}
    assert 0.0 <= metrics["digits_class_acc"] <= 100.0
    assert record.columns["digits_fid"].protocol.startswith("100 samples")  # the protocol this number was made with
    assert all(isinstance(v, float) and np.isfinite(v) for v in metrics.values())
    assert 1.0 <= metrics["digits_is"] <= 10.0 and metrics["digits_fid"] > 0
    assert record.columns["digits_fid"].higher_is_better is False
    info = record.metric_info["generative"]
    assert info["n_samples"] == 100 and info["quick"] is True and info["sampler"] == "sgld"
    assert info["fidelity"]["feature_extractor"] == "digits-cnn"
    protocol = info["protocol"]  # the run's own protocol, recorded with its numbers
    assert protocol["n_samples"] == 100 and protocol["sampler"] == "sgld" and protocol["seed_kind"] == "pca"
    assert protocol["feature_extractor"] == "digits-cnn" and protocol["isc_splits"] == 10
    assert protocol["reference"] == "digits train split (1348 images)" and "10 steps" in protocol["sampler_protocol"]
    assert info["independent_classifier"]["accuracy"] == metrics["digits_class_acc"]
    assert info["sampler_stats"]["mean_joint_energy_final"] < info["sampler_stats"]["mean_joint_energy_seed"]
    _check_intervals(record, ResultsStore(tmp_path).arrays(record), reg)
    png = grid_png_from_arrays(ResultsStore(tmp_path).arrays(record))
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size[1] == 10 * 36 + 4  # 32-px cells, 4-px gaps
    assert 8 * 36 + 4 < image.size[0] < 8 * 36 + 40  # a strip on the left labels each row with its class


def _check_intervals(record, arrays, reg):
    """IS/FID/KID: the percentile interval of the stored replicates over the samples; the classifier's
    accuracy: Wilson over the per-sample flags (statsmodels); a model against itself compares unpaired."""
    from statsmodels.stats.proportion import proportion_confint

    from benchbed.results.paired import compare_records, plain_reduction, registry_resolver

    assert record.metric_info["generative"]["bootstrap"]["resamples"] == 1000
    for col in ("digits_is", "digits_fid", "digits_kid"):
        reps = arrays[f"{col}_resampled"]
        iv = record.intervals[col]
        assert reps.shape == (1000,) and (iv.low, iv.high) == pytest.approx(tuple(np.quantile(reps, [0.025, 0.975])))
        assert "over the generated samples" in iv.method and "generated samples" in record.columns[col].protocol
        assert record.metrics[col] == float(arrays[col])  # the column is still torch-fidelity's number
    flags = arrays["digits_class_correct"]
    assert flags.shape == (100,) and record.metrics["digits_class_acc"] == pytest.approx(100 * flags.mean())
    low, high = proportion_confint(int(flags.sum()), flags.size, alpha=0.05, method="wilson")
    iv = record.intervals["digits_class_acc"]
    assert (iv.low, iv.high) == pytest.approx((100 * low, 100 * high)) and "generated samples" in iv.method
    columns = ["digits_is", "digits_fid", "digits_kid", "digits_class_acc"]
    for resolve in (registry_resolver(reg), plain_reduction):
        rows = compare_records(record, arrays, record, arrays, columns, resolve)
        for row in rows[:3]:  # unpaired: replicate i of A against replicate i + 1 of B, never [0, 0]
            reps = arrays[f"{row.column}_resampled"]
            diffs = reps - np.roll(reps, -1)
            assert row.paired.difference == 0 and "independent" in row.paired.method
            assert (row.paired.low, row.paired.high) == pytest.approx(tuple(np.quantile(diffs, [0.025, 0.975])))
            assert row.paired.low < 0 < row.paired.high and not row.significant
        assert "Fisher" in rows[3].paired.method and rows[3].paired.p_value == 1.0


def test_generative_is_a_model_level_unit_in_a_sharded_run(tiny_digits_mlp, tmp_path):
    from benchbed.engine.runner import run_track
    from benchbed.results.store import ResultsStore

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
    """Preflight refuses the run before any work, naming the track, the metric and both ways out."""
    from benchbed.engine.preflight import PreflightError
    from benchbed.engine.runner import run_track

    host = PluginHost(load_external=False)
    host.register(TinyModel(tiny_digits_mlp), name="tiny")
    track = host.registry.tracks.get("digits-linf").replace(metrics=("generative",), generation=None, n_examples=10)
    with pytest.raises(PreflightError, match=r"track 'digits-linf' has no generation settings, which metric\(s\) "
                                             r"generative need: give it GenerationSettings\(\.\.\.\) or leave "
                                             r"those metrics out \(--metrics\)"):
        run_track(track, ["tiny-mlp"], device="cpu", results_dir=tmp_path, registry=host.registry,
                  show_progress=False)
    assert not list(tmp_path.rglob("*.json"))  # nothing was computed or stored


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
