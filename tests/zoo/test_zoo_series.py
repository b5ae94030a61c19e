"""ModelSpec.training_series of PGD-AT and TRADES: built on first use into the cache, checked, reused.

The full series is 200 epochs per model (minutes); these tests shorten it to its first epochs, which
are bit for bit the first checkpoints of the full run (the lr of an epoch depends only on its index),
so they are compared with the same recorded checksums.
"""
from __future__ import annotations

import warnings

import pytest
import torch
from benchbed_digits_zoo import reproduction, series
from benchbed_digits_zoo.plugin import model_spec

from benchbed.plugin import ChecksumError, TrainingCheckpoint, dataset_split

EPOCHS = 2


@pytest.fixture
def short_series(monkeypatch, tmp_path):
    monkeypatch.setenv("BENCHBED_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(series, "SERIES_EPOCHS", EPOCHS)
    return tmp_path / "cache" / "digits-zoo-series"


@pytest.mark.parametrize("name", series.SERIES_MODELS)
def test_training_series_builds_checks_and_reuses_its_cache(name, short_series, canary, monkeypatch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unknown platform warns; asserted below
        checkpoints = model_spec(name).training_series()
    assert [c.step for c in checkpoints] == list(range(1, EPOCHS + 1))
    assert all(isinstance(c, TrainingCheckpoint) and c.label == f"epoch {c.step} (lr 0.05)" for c in checkpoints)
    folder = short_series / name
    assert sorted(p.name for p in folder.iterdir()) == ["epoch-001.pt", "epoch-002.pt", "manifest.json"]
    manifest = series.read_manifest(folder)
    assert manifest["platform"] == canary and [c.sha256 for c in checkpoints] == manifest["checksums"]

    recorded = reproduction.recorded_series(canary, name)
    if recorded is not None:  # bit for bit against this platform's table entry
        assert [c.sha256 for c in checkpoints] == recorded[:EPOCHS]

    digits = dataset_split("digits", "test").images[:64]
    for checkpoint in checkpoints:
        module = checkpoint.loader(torch.device("cpu"))
        with torch.no_grad():
            logits = module(digits)
        assert logits.shape == (64, 10) and torch.isfinite(logits).all() and not module.training

    def no_rebuild(*args, **kwargs):
        raise AssertionError("the cached series should have been reused")

    monkeypatch.setattr(series, "build", no_rebuild)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = model_spec(name).training_series()
    assert [c.sha256 for c in again] == [c.sha256 for c in checkpoints]


def test_a_tampered_series_checkpoint_fails_its_checksum_and_is_rebuilt(short_series):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        checkpoints = series.training_series("digits-cnn-pgdat", progress=False)
    path = short_series / "digits-cnn-pgdat" / "epoch-002.pt"
    data = bytearray(path.read_bytes())
    data[-100] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="epoch-002.pt"):
        checkpoints[1].loader(torch.device("cpu"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rebuilt = series.training_series("digits-cnn-pgdat", progress=False)  # the cache no longer matches
    assert rebuilt[1].sha256 == checkpoints[1].sha256
    rebuilt[1].loader(torch.device("cpu"))


def test_on_an_unknown_platform_the_series_is_checked_against_its_own_manifest(short_series, monkeypatch):
    monkeypatch.setattr(reproduction, "platform_canary", lambda: "e" * 64)
    with pytest.warns(UserWarning, match="unknown platform: canary eeeeeeeeeeee"):
        checkpoints = series.training_series("digits-cnn-trades", progress=False)
    manifest = series.read_manifest(short_series / "digits-cnn-trades")
    assert manifest["platform"] == "e" * 64 and [c.sha256 for c in checkpoints] == manifest["checksums"]
    checkpoints[0].loader(torch.device("cpu"))


def test_a_retrain_that_differs_from_this_platforms_record_is_refused(short_series, monkeypatch, canary):
    table = {canary: {"label": "test", "models": {}, "series": {"digits-cnn-pgdat": ["0" * 64] * EPOCHS}}}
    monkeypatch.setattr(reproduction, "load_table", lambda path=None: table)
    with pytest.raises(ChecksumError, match="differs from the checksums recorded for this platform .* from epoch 1"):
        series.training_series("digits-cnn-pgdat", progress=False)
    assert series.read_manifest(short_series / "digits-cnn-pgdat") is None
