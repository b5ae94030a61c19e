"""torchvision's built-in datasets by name, as benchbed datasets (MNIST, FashionMNIST, KMNIST, CIFAR10/100, SVHN).

``torchvision_dataset("MNIST")`` is a :class:`~benchbed.contracts.specs.DatasetSpec` whose files are laid
out exactly as torchvision lays them out under the data folder (``<data>/MNIST/raw/...``,
``<data>/cifar-10-batches-py/...``), so a folder torchvision already filled works as is. torchvision's
own code reads them; where files are missing and ``download=True``, torchvision's own download and
integrity (md5) checks fetch them, during preflight, before any work. Offline, or with
``download=False``, a missing file is one line saying which files go where.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchbed.builtin.dataset_helpers import data_root, labelled_images
from benchbed.builtin.dataset_loaders import check_torchvision_files
from benchbed.contracts.errors import ConfigError, DatasetNotFoundError
from benchbed.contracts.specs import DatasetSpec, LabelledImages

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
DIGIT_NAMES = tuple(str(i) for i in range(10))


@dataclass(frozen=True)
class Known:
    """What benchbed knows of one torchvision dataset class without reading its files."""

    num_classes: int
    image_shape: tuple[int, int, int]
    family: str  # "mnist" (idx files in <Class>/raw), "cifar10", "cifar100", "svhn" (the built-in loaders' checks)
    sizes: str
    class_names: tuple[str, ...] = ()


KNOWN = {
    "MNIST": Known(10, (1, 28, 28), "mnist", "60,000 train / 10,000 test", DIGIT_NAMES),
    "FashionMNIST": Known(10, (1, 28, 28), "mnist", "60,000 train / 10,000 test",
                          ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                           "Ankle boot")),
    "KMNIST": Known(10, (1, 28, 28), "mnist", "60,000 train / 10,000 test"),
    "CIFAR10": Known(10, (3, 32, 32), "cifar10", "50,000 train / 10,000 test", CIFAR10_CLASSES),
    "CIFAR100": Known(100, (3, 32, 32), "cifar100", "50,000 train / 10,000 test"),
    "SVHN": Known(10, (3, 32, 32), "svhn", "73,257 train / 26,032 test", DIGIT_NAMES),
}


def _torchvision_class(tv_name: str):
    from torchvision import datasets

    return getattr(datasets, tv_name)


# -- the MNIST family: four idx files (train and test) in <root>/<Class>/raw, plain or .gz -------------------
def _mnist_files(tv_name: str, root: Path) -> tuple[Path, list[str]]:
    cls = _torchvision_class(tv_name)
    raw = root / tv_name / "raw"
    return raw, [Path(url).stem for url, _ in cls.resources]  # e.g. t10k-images-idx3-ubyte


def _mnist_check(tv_name: str, root: Path) -> str | None:
    raw, names = _mnist_files(tv_name, root)
    missing = [n for n in names if not (raw / n).is_file() and not (raw / f"{n}.gz").is_file()]
    if not missing:
        return None
    cls = _torchvision_class(tv_name)
    url = cls.mirrors[0]
    return (f"{tv_name.lower()}: {', '.join(missing)} (or .gz) not found in {raw}: torchvision reads all four "
            f"idx files there; download them from {url} (or let torchvision: download=True with a network), or "
            f"point --data-dir / BENCHBED_DATA at the folder that holds {tv_name}/")


def _mnist_extract(tv_name: str, root: Path) -> None:
    """Unpack pre-placed .gz idx files that torchvision would otherwise only unpack after a download."""
    from torchvision.datasets.utils import extract_archive

    raw, names = _mnist_files(tv_name, root)
    for n in names:
        if not (raw / n).is_file() and (raw / f"{n}.gz").is_file():
            extract_archive(str(raw / f"{n}.gz"), str(raw))


# -- one place for every family ---------------------------------------------------------------------------
def files_problem(tv_name: str, split: str, root: Path) -> str | None:
    """None when torchvision can read ``split`` from ``root`` without a network; else one line."""
    family = KNOWN[tv_name].family
    if family == "mnist":
        return _mnist_check(tv_name, root)
    return check_torchvision_files(family, split, root)


def _make(tv_name: str, split: str, root: Path, download: bool):
    cls = _torchvision_class(tv_name)
    root.mkdir(parents=True, exist_ok=True)
    if KNOWN[tv_name].family == "svhn":
        return cls(str(root), split=split, download=download)
    return cls(str(root), train=(split == "train"), download=download)


def ensure_files(tv_name: str, split: str, root: Path, download: bool) -> str | None:
    """Files present, or fetched by torchvision's own download (and md5 check) when allowed: None; else one line."""
    problem = files_problem(tv_name, split, root)
    if problem is None or not download:
        return problem
    try:
        _make(tv_name, split, root, download=True)
    except Exception as exc:  # noqa: BLE001 -- URLError, socket errors, md5 mismatches: all one line
        return f"{problem} (torchvision's download failed: {type(exc).__name__})"
    return files_problem(tv_name, split, root)


def load_split(tv_name: str, split: str, root: Path, download: bool) -> LabelledImages:
    problem = ensure_files(tv_name, split, root, download)
    if problem:
        raise DatasetNotFoundError(problem)
    known = KNOWN[tv_name]
    if known.family == "mnist":
        _mnist_extract(tv_name, root)
    try:
        ds = _make(tv_name, split, root, download=False)
    except RuntimeError as exc:  # torchvision's "not found or corrupted": a file check above missed something
        raise DatasetNotFoundError(f"{tv_name.lower()}: torchvision could not read its files in {root}: {exc}") from exc
    data = ds.data.numpy() if hasattr(ds.data, "numpy") else ds.data
    labels = ds.labels if known.family == "svhn" else ds.targets
    labels = labels.numpy() if hasattr(labels, "numpy") else labels
    return labelled_images(data, labels, known.image_shape, known.num_classes, f"{tv_name} ({split} split)")


def torchvision_dataset(tv_name: str, name: str | None = None, *, download: bool = True,
                        description: str = "") -> DatasetSpec:
    """torchvision's dataset ``tv_name`` (its class name: "MNIST", "FashionMNIST", "KMNIST", "CIFAR10",
    "CIFAR100", "SVHN") registered as ``name`` (default: ``tv_name.lower()``).

    Files go where torchvision puts them, under the data folder (``--data-dir``, ``$BENCHBED_DATA``,
    else ``~/.cache/benchbed/data``). ``download``: let torchvision fetch missing files (with its own
    md5 checks) when the run's preflight finds them missing; False for offline use, where a missing
    file is a one-line error naming the files and the folder.
    """
    if tv_name not in KNOWN:
        raise ConfigError(f"torchvision dataset {tv_name!r} is not one benchbed knows: use one of "
                          f"{', '.join(KNOWN)} (or numpy_dataset / image_folder_dataset for your own files)")
    known = KNOWN[tv_name]

    def check(split: str, data_dir) -> str | None:
        return ensure_files(tv_name, split, data_root(data_dir), download)

    def load(split: str, data_dir) -> LabelledImages:
        return load_split(tv_name, split, data_root(data_dir), download)

    c, h, w = known.image_shape
    return DatasetSpec(name=name or tv_name.lower(), num_classes=known.num_classes, image_shape=known.image_shape,
                       loader=load, check=check, class_names=known.class_names,
                       description=description or f"{tv_name} (torchvision), {known.sizes}, {h}x{w} "
                                                  f"{'grayscale' if c == 1 else 'RGB'}")
