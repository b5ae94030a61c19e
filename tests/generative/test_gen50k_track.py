"""The DAT/JEM-comparable CIFAR-10 protocol track, end to end on small CIFAR-format files."""
import dataclasses
import pickle

import numpy as np
import pytest
import torch
from torch import nn

import benchbed
from benchbed.contracts.specs import ModelSpec
from benchbed.registry import PluginHost


def test_the_registered_protocol_is_the_papers(registry):
    track = registry.tracks.get("cifar10-l2-joint50k")
    gen = track.generation
    assert (track.norm, track.eps, gen.n_samples, gen.sampler) == ("L2", 0.5, 50_000, "model")
    assert gen.feature_extractor == "inception-v3-compat"
    for column in registry.metrics.get("generative").columns_for(track):
        assert column.protocol.startswith("50,000 samples") and "full training split" in column.protocol
        assert "each model's own sampler" in column.protocol and "10 splits" in column.protocol


def _write_cifar10(root, n_per_batch, seed=0):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = [i % 10 for i in range(n_per_batch)]
        coarse = rng.integers(0, 256, size=(n_per_batch, 3, 4, 4)).repeat(8, 2).repeat(8, 3)  # some structure
        with open(folder / name, "wb") as fh:
            pickle.dump({"data": coarse.reshape(n_per_batch, 3072).astype(np.uint8), "labels": labels}, fh)
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, fh)
    return folder


class _TinyCifar(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 10))

    def forward(self, x):
        return self.net(x * 2 - 1)  # a model that wants [-1, 1] inputs, as JEM's and DAT's do


class _Plugin:
    @benchbed.plugin.hookimpl
    def register_models(self, register):
        for name, sampler in (("tiny-dat", "dat-pgd"), ("tiny-plain", "")):
            register(ModelSpec(name=name, dataset="cifar10", threat_models=("L2",), architecture="tiny",
                               recipe="DAT", family="joint" if sampler else "classifier", sampler=sampler,
                               loader=lambda device: _TinyCifar().to(device)))


@pytest.mark.slow
def test_the_protocol_runs_end_to_end_on_small_files(tmp_path, monkeypatch):
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import calculate_md5

    from benchbed.engine.runner import run_track

    folder = _write_cifar10(tmp_path / "data", n_per_batch=20)
    for attr in ("train_list", "test_list"):  # torchvision's md5 table: the test's own files
        monkeypatch.setattr(CIFAR10, attr, [[n, calculate_md5(str(folder / n))] for n, _ in getattr(CIFAR10, attr)])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": calculate_md5(str(folder / "batches.meta"))})
    host = PluginHost(load_external=False)
    host.register(_Plugin(), name="tiny-cifar")
    track = host.registry.tracks.get("cifar10-l2-joint50k")
    # the small test extractor instead of Inception (no weights offline), and fewer samples and points
    gen = dataclasses.replace(track.generation, n_samples=40, feature_extractor="digits-cnn", batch_size=20,
                              options={})
    track = track.replace(generation=gen, n_examples=20, metrics=("clean_accuracy", "generative"))
    summary = run_track(track, ["tiny-dat", "tiny-plain"], device="cpu", results_dir=tmp_path / "res",
                        registry=host.registry, show_progress=False, data_dir=tmp_path / "data")
    assert not summary.failed, summary.failed[0].error
    by_model = {r.model: r for r in summary.records}
    for name, sampler in (("tiny-dat", "dat-pgd"), ("tiny-plain", "sgld")):
        info = by_model[name].metric_info["generative"]
        assert info["sampler"] == sampler and info["protocol"]["track_sampler"] == "model"
        assert info["protocol"]["reference"] == "cifar10 train split (100 images)"  # all five training batches
        assert info["protocol"]["isc_splits"] == 10 and info["n_samples"] == 40
        assert "class_acc" not in by_model[name].metrics  # the digits classifier does not know CIFAR's classes
        assert np.isfinite(by_model[name].metrics["fid"]) and 1.0 <= by_model[name].metrics["is"] <= 10.0


def test_the_track_no_longer_claims_dats_protocol_and_the_old_name_still_works(registry):
    import warnings

    track = registry.tracks.get("cifar10-l2-joint50k")
    assert "Not DAT's exact protocol" in track.description and "cifar_fid_imgs_50K.pt" in track.description
    assert "DAT/JEM generative protocol" not in track.description
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = registry.tracks.get("cifar10-l2-gen50k")
    assert old is track and any(issubclass(w.category, DeprecationWarning) and "renamed" in str(w.message)
                                for w in caught)
    assert "cifar10-l2-gen50k" not in registry.tracks.names()
