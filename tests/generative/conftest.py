"""Fixtures for the generative lens: a tiny digits model, the digits track with small settings."""
from __future__ import annotations

import dataclasses

import pytest


@pytest.fixture
def registry():
    from benchbed.registry import PluginHost

    return PluginHost(load_external=False).registry


@pytest.fixture
def small_track(registry):
    """digits-linf with few samples and steps: fast on a CPU."""
    track = registry.tracks.get("digits-linf")
    return track.replace(generation=dataclasses.replace(track.generation, n_samples=60, steps=10, batch_size=25))


@pytest.fixture(scope="session")
def digits_train():
    from benchbed.builtin.dataset_loaders import load_digits_split

    return load_digits_split("train")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHBED_CACHE", str(tmp_path / "cache"))
