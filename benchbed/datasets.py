"""Dataset loaders: the embedded scikit-learn digits, and CIFAR-10/100 and SVHN through torchvision."""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from .errors import DatasetNotFoundError
from .specs import LabelledImages

ENV_DATA = "BENCHBED_DATA"


def default_data_dir() -> Path:
    return Path(os.environ.get(ENV_DATA) or Path.home() / ".cache" / "benchbed" / "data")


def _to_tensors(images_nhwc_uint8: np.ndarray, labels) -> LabelledImages:
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images_nhwc_uint8)).permute(0, 3, 1, 2).float().div_(255.0)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    return LabelledImages(x.contiguous(), y)


# -- digits ----------------------------------------------------------------------------------------
# scikit-learn's copy of the UCI handwritten digits: 1,797 8x8 images, pixel values 0..16.
# Fixed split with no randomness, so it never changes across library versions: every 4th image
# (index % 4 == 3) is a test image (449 of them), the other 1,348 are training images.
DIGITS_TEST_EVERY = 4


@functools.cache
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images.astype(np.float32) / 16.0)[:, None, :, :]
    return images, bunch.target.astype(np.int64)


def digits_split_indices(split: str) -> np.ndarray:
    n = len(_digits_arrays()[1])
    index = np.arange(n)
    is_test = index % DIGITS_TEST_EVERY == DIGITS_TEST_EVERY - 1
    return index[is_test] if split == "test" else index[~is_test]


def load_digits_split(split: str, data_dir: Path | None = None) -> LabelledImages:
    import torch

    images, labels = _digits_arrays()
    idx = digits_split_indices(split)
    return LabelledImages(torch.from_numpy(images[idx].copy()), torch.from_numpy(labels[idx].copy()))


# -- torchvision datasets --------------------------------------------------------------------------
_SOURCES = {
    "cifar10": ("cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                "cifar-10-batches-py/"),
    "cifar100": ("cifar-100-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                 "cifar-100-python/"),
    "svhn": ("train_32x32.mat / test_32x32.mat", "http://ufldl.stanford.edu/housenumbers/", ""),
}


def _missing(name: str, root: Path, cause: BaseException) -> DatasetNotFoundError:
    archive, url, extracted = _SOURCES[name]
    where = f"{root}/{extracted}" if extracted else str(root)
    return DatasetNotFoundError(
        f"{name} files not found in {root} and the download failed ({type(cause).__name__}): "
        f"download {archive} from {url} and put it in {root}"
        + (f" (or its extracted folder at {where})" if extracted else "")
        + f", or point {ENV_DATA} / --data-dir at the folder that holds it"
    )


def _torchvision_dataset(name: str, split: str, root: Path):
    from torchvision import datasets

    root.mkdir(parents=True, exist_ok=True)
    if name == "svhn":
        make = lambda download: datasets.SVHN(str(root), split=split, download=download)  # noqa: E731
    else:
        cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
        make = lambda download: cls(str(root), train=(split == "train"), download=download)  # noqa: E731
    try:
        return make(False)  # files already there: no network needed
    except RuntimeError:
        pass
    try:
        return make(True)
    except Exception as exc:  # URLError, socket errors, integrity failures
        raise _missing(name, root, exc) from exc


def load_torchvision_split(name: str, split: str, data_dir: Path | None) -> LabelledImages:
    root = Path(data_dir) if data_dir else default_data_dir()
    ds = _torchvision_dataset(name, split, root)
    if name == "svhn":  # stored as (N, C, H, W) uint8; labels 0..9
        return _to_tensors(np.transpose(ds.data, (0, 2, 3, 1)), ds.labels)
    return _to_tensors(ds.data, ds.targets)
