"""The benchbed-digits-zoo plugin: four models through its entry point, checksums, reproducible training.

Skipped when the plugin distribution is not installed (``pip install -e plugins/benchbed-digits-zoo``).
"""
from __future__ import annotations

import shutil

import pytest
import torch

zoo = pytest.importorskip("benchbed_digits_zoo.plugin",
                          reason="plugin not installed: pip install -e plugins/benchbed-digits-zoo")

from benchbed_digits_zoo import train  # noqa: E402
from benchbed_digits_zoo.checksums import CHECKSUMS  # noqa: E402

from benchbed.datasets import load_digits_split  # noqa: E402
from benchbed.errors import ChecksumError  # noqa: E402
from benchbed.plugins import PluginHost  # noqa: E402

RECIPES = {"digits-cnn-standard": "standard", "digits-cnn-pgdat": "PGD-AT", "digits-cnn-trades": "TRADES",
           "digits-cnn-weat": "WEAT"}


@pytest.fixture(scope="module")
def registry():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCHBED_PLUGINS", "digits-zoo")  # this plugin only, found via its entry point
        mp.delenv("BENCHBED_PLUGIN_FILES", raising=False)
        host = PluginHost()
    info = host.infos["digits-zoo"]
    assert info.ok and info.distribution == "benchbed-digits-zoo", info.error
    return host.registry


def test_four_models_with_metadata_on_the_digits_track(registry):
    models = {m.name: m for m in registry.models_for(registry.track("digits-linf"))}
    assert {n: m.recipe for n, m in models.items()} == RECIPES
    for name, spec in models.items():
        assert spec.checkpoint_sha256 == CHECKSUMS[name] and spec.architecture.startswith("DigitsCNN")
        assert spec.threat_models == ("Linf",) and spec.extra_data is False
        if spec.recipe != "standard":
            assert spec.paper and spec.venue and spec.link.startswith("https://arxiv.org/")


def test_checkpoints_load_and_classify_digits(registry):
    test = load_digits_split("test")
    for name in RECIPES:
        model = registry.model(name).load("cpu")
        with torch.no_grad():
            accuracy = (model(test.images).argmax(1) == test.labels).float().mean().item()
        assert accuracy > 0.9, (name, accuracy)


def test_tampered_checkpoint_is_rejected(tmp_path, monkeypatch):
    folder = tmp_path / "checkpoints"
    shutil.copytree(zoo.CHECKPOINT_DIR, folder)
    path = folder / "digits-cnn-trades.pt"
    data = bytearray(path.read_bytes())
    data[-100] ^= 1
    path.write_bytes(bytes(data))
    monkeypatch.setattr(zoo, "CHECKPOINT_DIR", folder)
    with pytest.raises(ChecksumError, match="digits-cnn-trades.pt"):
        zoo.load_checkpoint("digits-cnn-trades", "cpu")


def test_training_recipe_reproduces_the_shipped_checkpoint_bit_for_bit(tmp_path):
    """The cheapest recipe (standard, a few seconds); `python -m benchbed_digits_zoo.train --check`
    retrains all four."""
    model, stats = train.train(train.RECIPES["digits-cnn-standard"], progress=False)
    digest = train.save_checkpoint(model, tmp_path / "digits-cnn-standard.pt")
    assert digest == CHECKSUMS["digits-cnn-standard"], stats
