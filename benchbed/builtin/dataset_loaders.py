"""Dataset loaders: the embedded scikit-learn digits, and CIFAR-10/100 and SVHN through torchvision."""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from benchbed.contracts.errors import DatasetNotFoundError
from benchbed.contracts.specs import LabelledImages

ENV_DATA = "BENCHBED_DATA"


def default_data_dir() -> Path:
    return Path(os.environ.get(ENV_DATA) or Path.home() / ".cache" / "benchbed" / "data")


def data_root(data_dir: Path | str | None) -> Path:
    """The folder the user named (``--data-dir``), else ``$BENCHBED_DATA``, else ``~/.cache/benchbed/data``."""
    return Path(data_dir) if data_dir else default_data_dir()


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


def _how_to_get(name: str, root: Path) -> str:
    archive, url, extracted = _SOURCES[name]
    where = f"{root}/{extracted}" if extracted else str(root)
    return (f"download {archive} from {url} and put it in {root}"
            + (f" (or its extracted folder at {where})" if extracted else "")
            + f", or point {ENV_DATA} / --data-dir at the folder that holds it")


def _torchvision_files(name: str, split: str, root: Path) -> list[tuple[Path, str]]:
    """The files (path, md5) torchvision's integrity check reads for ``split`` (CIFAR: all of them)."""
    from torchvision import datasets

    if name == "svhn":
        _, filename, md5 = datasets.SVHN.split_list[split]
        return [(root / filename, md5)]
    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    folder = root / cls.base_folder
    return [(folder / f, md5) for f, md5 in cls.train_list + cls.test_list] + \
        [(folder / cls.meta["filename"], cls.meta["md5"])]


def _archive(name: str, root: Path) -> tuple[Path, str] | None:
    """CIFAR's downloadable archive (torchvision extracts it offline when its md5 is right)."""
    from torchvision import datasets

    if name == "svhn":
        return None
    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    return root / cls.filename, cls.tgz_md5


def check_torchvision_files(name: str, split: str, data_dir: Path | None) -> str | None:
    """None when torchvision will load ``split`` offline; else one line: which files are missing, or
    present but failing torchvision's md5 integrity check, and how to get good ones. Reads no network."""
    from torchvision.datasets.utils import check_integrity

    root = data_root(data_dir)
    files = _torchvision_files(name, split, root)
    missing = [p for p, _ in files if not p.is_file()]
    corrupt = [p for p, md5 in files if p.is_file() and not check_integrity(str(p), md5)]
    if not missing and not corrupt:
        return None
    archive = _archive(name, root)
    if archive is not None and not corrupt and archive[0].is_file():
        if check_integrity(str(archive[0]), archive[1]):
            return None  # torchvision extracts it on first load, no download needed
        return (f"{name}: {archive[0]} is present but fails torchvision's integrity check (md5): a partial or "
                f"altered download; delete it and {_how_to_get(name, root)}")
    if corrupt:
        shown = ", ".join(str(p) for p in corrupt[:3]) + (" ..." if len(corrupt) > 3 else "")
        one = len(corrupt) == 1
        return (f"{name}: {shown} {'is' if one else 'are'} present but fail{'s' if one else ''} "
                f"torchvision's integrity check (md5): a partial or altered copy; delete "
                f"{'it' if len(corrupt) == 1 else 'them'} and {_how_to_get(name, root)}")
    which = f"{name} ({split} split)" if name == "svhn" else name  # CIFAR's files hold both splits
    return f"{which}: files not found in {root}: {_how_to_get(name, root)}"


def _missing(name: str, root: Path, cause: BaseException) -> DatasetNotFoundError:
    problem = check_torchvision_files(name, "test", root) or check_torchvision_files(name, "train", root)
    if problem and "integrity check" in problem:
        return DatasetNotFoundError(problem)
    return DatasetNotFoundError(
        f"{name} files not found in {root} and the download failed ({type(cause).__name__}): "
        + _how_to_get(name, root))


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
    root = data_root(data_dir)
    ds = _torchvision_dataset(name, split, root)
    if name == "svhn":  # stored as (N, C, H, W) uint8; labels 0..9
        return _to_tensors(np.transpose(ds.data, (0, 2, 3, 1)), ds.labels)
    return _to_tensors(ds.data, ds.targets)
