"""Retraining the zoo: per-platform bit-for-bit checks, determinism everywhere, accuracy tolerance.

Bytes are compared only with the table entry of the platform the test runs on (identified by the
canary); on an unknown platform those comparisons skip with that reason, while determinism within a
process and the accuracy of a retrain are asserted everywhere.
"""
from __future__ import annotations

import pytest
import torch
from benchbed_digits_zoo import recipes, reproduction, series, train, training
from benchbed_digits_zoo.checksums import CHECKSUMS
from benchbed_digits_zoo.plugin import load_checkpoint

from benchbed.plugin import dataset_split

ACCURACY_TOLERANCE = 0.02  # a retrain on another platform lands within 2 points (9 of 449 digits) of the shipped one
ORIGINAL_CANARY = "2b5fd274862946d2bd28890fabf063fbe9d77e580fbcac2d27d2845ee1582f77"


def test_the_table_keys_platforms_by_their_canary():
    table = reproduction.load_table()
    for canary, entry in table.items():
        assert entry["models"][reproduction.CANARY_MODEL] == canary and entry["label"]
        assert all(len(entry["series"][name]) == series.SERIES_EPOCHS for name in entry.get("series", {}))
    # the original platform: the four published checkpoints are its retrains
    assert table[ORIGINAL_CANARY]["models"] == {n: CHECKSUMS[n] for n in table[ORIGINAL_CANARY]["models"]}
    assert len(table[ORIGINAL_CANARY]["models"]) == 4


def test_every_shipped_checkpoint_is_the_retrain_of_a_recorded_platform():
    recorded = {digest for entry in reproduction.load_table().values() for digest in entry["models"].values()}
    assert set(CHECKSUMS.values()) <= recorded


def test_retraining_twice_in_one_process_gives_identical_bytes(canary, tmp_path):
    model, stats = training.train(recipes.RECIPES[reproduction.CANARY_MODEL], progress=False)
    # the canary is this platform's first retrain of the same model
    assert training.save_checkpoint(model, tmp_path / f"{reproduction.CANARY_MODEL}.pt") == canary
    test = dataset_split("digits", "test")
    shipped = training.accuracy(load_checkpoint(reproduction.CANARY_MODEL, "cpu"), test.images, test.labels)
    assert abs(stats["test_accuracy"] - shipped) <= ACCURACY_TOLERANCE


@pytest.mark.parametrize("name", ["digits-cnn-jem", "digits-cnn-dat", "digits-cnn-weat-nat"])
def test_joint_and_new_recipes_are_deterministic(name):
    """Two 1-epoch runs (the JEM buffer, the DAT curriculum, EMA and OOD seeds all draw from the recipe's
    generator) give the same weights, bit for bit."""
    first, _ = training.train(recipes.RECIPES[name], progress=False, epochs=1)
    second, _ = training.train(recipes.RECIPES[name], progress=False, epochs=1)
    for (key, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        assert torch.equal(a, b), key


def test_retrain_reproduces_this_platforms_recorded_series_prefix(known_platform, tmp_path):
    """The cheapest bit-for-bit check against the table: the first two epochs of the PGD-AT series."""
    recorded = known_platform.get("series", {}).get("digits-cnn-pgdat")
    if recorded is None:
        pytest.skip("this platform records no series checksums")
    original = series.SERIES_EPOCHS
    try:
        series.SERIES_EPOCHS = 2  # a prefix of the full run: same bytes for these epochs
        run = series.retrain("digits-cnn-pgdat", tmp_path, progress=False)
    finally:
        series.SERIES_EPOCHS = original
    assert run["checksums"] == recorded[:2]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["digits-cnn-pgdat", "digits-cnn-weat-nat", "digits-cnn-jem", "digits-cnn-dat"])
def test_full_retrain_reproduces_this_platforms_recorded_bytes(known_platform, name, tmp_path):
    """25-110 s each on one idle core: a whole recipe against the table (PGD-AT is recorded on both platforms;
    JEM and DAT, whose recipes change most often, are the shipped files on the AVX-512 one)."""
    expected = known_platform["models"].get(name)
    if expected is None:
        pytest.skip(f"{name} is not recorded for this platform")
    model, stats = training.train(recipes.RECIPES[name], progress=False)
    assert training.save_checkpoint(model, tmp_path / f"{name}.pt") == expected, stats


def test_check_command_on_this_platform(canary, capsys):
    """--check for the canary model itself costs nothing more than the canary."""
    code = train.main(["--check", "--only", reproduction.CANARY_MODEL, "--quiet"])
    out = capsys.readouterr()
    assert canary in out.out
    if reproduction.entry(canary) is None:
        assert code == reproduction.UNVERIFIED and "unknown platform" in out.out
    else:
        assert code == reproduction.OK and "OK" in out.out and "check passed" in out.out


def test_check_command_says_so_on_an_unknown_platform(monkeypatch, capsys):
    monkeypatch.setattr(reproduction, "platform_canary", lambda: "0" * 64)
    assert train.main(["--check", "--only", reproduction.CANARY_MODEL, "--quiet"]) == reproduction.UNVERIFIED
    out = capsys.readouterr()
    assert "unknown platform: canary 000000000000" in out.out and "UNKNOWN PLATFORM (not compared)" in out.out
    assert "could not be compared" in out.err


def test_check_command_reports_a_mismatch(monkeypatch, capsys, canary):
    table = {canary: {"label": "test", "models": {reproduction.CANARY_MODEL: canary, "digits-cnn-jem": "f" * 64}}}
    monkeypatch.setattr(reproduction, "load_table", lambda path=None: table)
    monkeypatch.setattr(training, "train", lambda recipe, progress=True: (load_checkpoint("digits-cnn-jem", "cpu"), {
        "train_accuracy": 1.0, "test_accuracy": 1.0, "seconds": 0.0}))
    assert train.main(["--check", "--only", "digits-cnn-jem", "--quiet"]) == reproduction.MISMATCH
    assert "MISMATCH (recorded ffffffffffff" in capsys.readouterr().out
