"""Helpers for the ecosystem tests (imported as ``eco_helpers``: pytest puts this folder on sys.path)."""
from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np

ACCURACY = ("clean_accuracy", "robust_accuracy")


def accuracy_track(registry, name: str):
    """The registered track with only its accuracy metrics (no sampling: fast on CPU)."""
    return registry.tracks.get(name).replace(metrics=ACCURACY)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def fake_cifar10_images(n: int = 16, seed: int = 0) -> np.ndarray:
    """(n, 3072) uint8 rows as CIFAR batch files store them (channel-major 32x32 planes)."""
    return np.random.default_rng(seed).integers(0, 256, size=(n, 3 * 32 * 32), dtype=np.uint8)


def write_fake_cifar10(root: Path, data: np.ndarray | None = None, labels=None) -> Path:
    """A tiny CIFAR-10 test split in torchvision's on-disk format (``cifar-10-batches-py``)."""
    data = fake_cifar10_images() if data is None else data
    n = len(data)
    labels = [int(v) for v in (np.arange(n) % 10 if labels is None else labels)]
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "test_batch", "wb") as fh:
        pickle.dump({"batch_label": "testing batch 1 of 1", "labels": labels, "data": data,
                     "filenames": [f"fake_{i}.png" for i in range(n)]}, fh)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": names, "num_cases_per_batch": n, "num_vis": 3072}, fh)
    return root
