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


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> Path:
    """An array in the idx format MNIST ships (big-endian magic 0x0000 <type 0x08 = uint8> <ndim>, then
    each dimension as a big-endian int32, then the bytes); ``compress``: gzipped, as downloaded."""
    import gzip
    import struct

    array = np.ascontiguousarray(array, dtype=np.uint8)
    payload = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload += array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)
    return path


def write_fake_mnist(root: Path, n_train: int = 40, n_test: int = 32, compress: bool = False, seed: int = 0,
                     folder: str = "MNIST") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Small MNIST files where torchvision looks for them (``root/MNIST/raw``): images and labels per split."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        write_idx(root / folder / "raw" / f"{prefix}-images-idx3-ubyte", images, compress)
        write_idx(root / folder / "raw" / f"{prefix}-labels-idx1-ubyte", labels, compress)
        out[split] = (images, labels)
    return out


def read_idx(path: Path) -> np.ndarray:
    """An idx file read by hand (the reference the tests compare torchvision's reading with)."""
    import gzip
    import struct

    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    assert zero == 0 and dtype == 0x08
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    return np.frombuffer(data[4 + 4 * ndim:], dtype=np.uint8).reshape(shape)
