"""Training series for the dynamics study: PGD-AT and TRADES checkpointed after every epoch of a long run.

The run is a *separate* long training (the published 40-epoch one-cycle checkpoints stay as they
are), on the schedule of Rice et al. 2020 ("Overfitting in adversarially robust deep learning"):
200 epochs, piecewise-constant lr 0.05, x0.1 at epochs 100 and 150; everything else (loss, eps 0.2,
optimiser, batch, seed) is the zoo's recipe. Nothing was tuned to show, or hide, robust overfitting.

The ~400 checkpoints (290 KB each) are not shipped: :func:`training_series` retrains deterministically
on first use into ``$BENCHBED_CACHE/digits-zoo-series/<model>/`` (default ``~/.cache/benchbed``), one
``epoch-NNN.pt`` per epoch plus ``manifest.json``, and reuses the cached files while their sha256 match.
Expected sha256s come from the platform table (:mod:`.reproduction`) when the platform that built the
cache is recorded there; on an unknown platform, from the manifest written by the build (the files are
then checked for integrity only, and a warning says so). Every load goes through that checksum.

Because the lr of an epoch depends only on its index, a run stopped after k epochs writes exactly the
first k checkpoints of the full run: the tests build a short prefix and compare it with the table.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from benchbed.plugin import ChecksumError, TrainingCheckpoint, load_state_dict, sha256_file

from . import reproduction
from .architecture import build_model
from .data import digits_splits
from .recipes import SERIES_EPOCHS, SERIES_MODELS, describe_series, series_lr_at, series_recipe
from .training import accuracy, save_checkpoint, train

__all__ = ["SERIES_EPOCHS", "SERIES_MODELS", "training_series", "ensure_built", "retrain", "cache_root"]

MANIFEST = "manifest.json"
FORMAT = 1  # bump when the file layout changes


def cache_root() -> Path:
    return Path(os.environ.get("BENCHBED_CACHE") or "~/.cache/benchbed").expanduser() / "digits-zoo-series"


def series_folder(name: str) -> Path:
    return cache_root() / name


def checkpoint_name(epoch: int) -> str:
    return f"epoch-{epoch:03d}.pt"


def cache_key(name: str) -> dict[str, Any]:
    """What the cached files depend on; a manifest with another key is stale."""
    return {"format": FORMAT, "model": name, "recipe": series_recipe(name, SERIES_EPOCHS).describe(),
            "epochs": SERIES_EPOCHS}


# -- building ----------------------------------------------------------------------------------------
def retrain(name: str, folder: Path, progress: bool = True) -> dict[str, Any]:
    """Retrain ``name``'s series, writing ``epoch-NNN.pt`` files into ``folder``; returns per-epoch sha256s,
    test accuracies and training losses, and the wall time."""
    folder.mkdir(parents=True, exist_ok=True)
    _, test = digits_splits()
    run: dict[str, Any] = {"checksums": [], "test_accuracy": [], "train_loss": []}

    def save(epoch: int, model, stats: dict[str, float]) -> None:
        run["checksums"].append(save_checkpoint(model, folder / checkpoint_name(epoch)))
        run["test_accuracy"].append(round(accuracy(model, test.images, test.labels), 6))
        run["train_loss"].append(round(stats["train_loss"], 6))

    start = time.perf_counter()
    train(series_recipe(name, SERIES_EPOCHS), progress=progress, on_epoch=save)
    run["seconds"] = round(time.perf_counter() - start, 1)
    return run


def build(name: str, folder: Path, progress: bool = True) -> dict[str, Any]:
    """Retrain ``name``'s series into ``folder`` (files first, manifest last) and return the manifest.

    On a platform whose series checksums are recorded, a retrain that does not reproduce them raises
    :class:`benchbed.plugin.ChecksumError` and leaves no manifest.
    """
    canary = reproduction.platform_canary()
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".build-"))  # concurrent builders never share files
    if progress:
        print(f"digits-zoo: building the training series of {name} ({describe_series(SERIES_EPOCHS)}; a few "
              f"minutes on one core) into {folder}", file=sys.stderr, flush=True)
    try:
        run = retrain(name, staging, progress=progress)
        recorded = reproduction.recorded_series(canary, name)
        complete = recorded is not None and len(recorded) >= len(run["checksums"])
        differs = reproduction.first_difference(recorded, run["checksums"]) if complete else None
        if differs is not None:
            raise ChecksumError(f"the retrained training series of {name} differs from the checksums recorded for "
                                f"this platform (canary {canary[:12]}…) from epoch {differs} on: the recipe or the "
                                f"torch build changed; re-record with `python -m benchbed_digits_zoo.train --record "
                                f"--series` if the change is intended")
        for epoch in range(1, len(run["checksums"]) + 1):
            os.replace(staging / checkpoint_name(epoch), folder / checkpoint_name(epoch))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    manifest = {**cache_key(name), "platform": canary, "machine": reproduction.machine_description(), **run}
    _write_json(folder / MANIFEST, manifest)
    return manifest


def _write_json(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def expected_checksums(name: str, manifest: dict[str, Any]) -> tuple[list[str], bool]:
    """(the sha256 each cached epoch must have, whether they come from the platform table)."""
    recorded = reproduction.recorded_series(manifest["platform"], name)
    n = len(manifest["checksums"])
    if recorded is not None and len(recorded) >= n:
        return recorded[:n], True
    return list(manifest["checksums"]), False


def _cache_matches(folder: Path, manifest: dict[str, Any] | None, name: str) -> bool:
    if manifest is None or {k: manifest.get(k) for k in cache_key(name)} != cache_key(name):
        return False
    expected, _ = expected_checksums(name, manifest)
    if len(expected) != SERIES_EPOCHS:
        return False
    for epoch, digest in enumerate(expected, start=1):
        path = folder / checkpoint_name(epoch)
        if not path.is_file() or sha256_file(path) != digest:
            return False
    return True


def ensure_built(name: str, progress: bool = True) -> tuple[Path, dict[str, Any]]:
    """The series folder and manifest, retraining first unless the cache already matches."""
    folder = series_folder(name)
    manifest = read_manifest(folder)
    if not _cache_matches(folder, manifest, name):
        manifest = build(name, folder, progress=progress)
    return folder, manifest


# -- what the ModelSpec exposes ------------------------------------------------------------------------
def load_series_checkpoint(path: Path, sha256: str, device: torch.device | str) -> torch.nn.Module:
    """A series checkpoint as an eval-mode DigitsCNN, after checking its sha256."""
    fix = f"delete {path.parent} and call training_series() again to retrain the series"
    model = build_model()
    model.load_state_dict(load_state_dict(path, sha256, device, fix=fix))
    return model.to(device).eval()


def training_series(name: str, progress: bool | None = None):
    """``ModelSpec.training_series`` of PGD-AT and TRADES: one TrainingCheckpoint per epoch, oldest first."""
    if progress is None:
        progress = not os.environ.get("TQDM_DISABLE")
    folder, manifest = ensure_built(name, progress=progress)
    expected, from_table = expected_checksums(name, manifest)
    if not from_table:
        known = reproduction.entry(manifest["platform"]) is not None
        why = ("this platform records no series checksums" if known
               else reproduction.unknown_platform_message(manifest["platform"]))
        warnings.warn(f"digits-zoo: the training series of {name} is checked against the manifest its own build wrote "
                      f"(integrity only), not against recorded checksums: {why}", stacklevel=2)
    paths = [folder / checkpoint_name(epoch) for epoch in range(1, len(expected) + 1)]
    return [TrainingCheckpoint(step=epoch, sha256=digest, label=f"epoch {epoch} (lr {series_lr_at(epoch):g})",
                               loader=functools.partial(load_series_checkpoint, path, digest))
            for epoch, (path, digest) in enumerate(zip(paths, expected), start=1)]
