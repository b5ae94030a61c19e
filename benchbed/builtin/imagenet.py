"""ImageNet for the RobustBench tracks: RobustBench's fixed 5,000-image subset of the ILSVRC2012
validation set, read from the user's validation folder.

Layout (torchvision's ``ImageNet`` / the usual ``valprep`` layout)::

    <imagenet root>/val/<wnid>/<file>.JPEG      1,000 class folders, 50,000 images

The root is ``$BENCHBED_IMAGENET_DIR``, else ``<data dir>/imagenet``. Labels are the index of the
wnid among the sorted class folders (torchvision's ``ImageFolder`` rule, and RobustBench's), so the
folder must hold all 1,000 class folders even where the subset skips a class.

Which 5,000 images: RobustBench's published list of file names (``<wnid>/<file>.JPEG``, one per
line, in its order). It is RobustBench's data and does not ship with benchbed: it is read from
``$BENCHBED_IMAGENET_IDS``, the data cache (``<imagenet root>/imagenet_test_image_ids.txt``), or an
installed ``robustbench`` package, and otherwise downloaded from RobustBench's repository into the
data cache. Its sha256 is checked wherever it comes from.

Preprocessing is RobustBench's ``Res256Crop224``: shorter side resized to 256 (bilinear, with
antialiasing, as torchvision's ``Resize``), centre crop 224x224, ``ToTensor`` (values k/255).
"""
from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from benchbed.builtin.dataset_loaders import ENV_DATA, data_root
from benchbed.contracts.errors import DatasetNotFoundError
from benchbed.contracts.specs import LabelledImages

NAME = "imagenet"
NUM_CLASSES = 1000
N_SUBSET = 5000
ENV_ROOT = "BENCHBED_IMAGENET_DIR"
ENV_IDS = "BENCHBED_IMAGENET_IDS"
IDS_FILE = "imagenet_test_image_ids.txt"
IDS_URL = ("https://raw.githubusercontent.com/RobustBench/robustbench/master/robustbench/helper_files/"
           + IDS_FILE)
IDS_SHA256 = "d4121626d07722a0126c35b1563042e46a546f1a05ce705f2cdc635896d58574"  # robustbench 1.1.1's list
PREPROCESSING = "Res256Crop224: resize the shorter side to 256 (bilinear), centre crop 224x224, ToTensor"
IMAGE_SHAPE = (3, 224, 224)


def imagenet_root(data_dir: Path | None) -> Path:
    if os.environ.get(ENV_ROOT):
        return Path(os.environ[ENV_ROOT])
    return data_root(data_dir) / NAME


def _installed_ids_file() -> Path | None:
    """robustbench's own copy of the list, found without importing robustbench (slow, heavy)."""
    import importlib.util

    spec = importlib.util.find_spec("robustbench")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "helper_files" / IDS_FILE
    return path if path.is_file() else None


def ids_candidates(data_dir: Path | None) -> list[Path]:
    """Where the list of file names is looked for, in order."""
    out = [Path(os.environ[ENV_IDS])] if os.environ.get(ENV_IDS) else []
    out.append(imagenet_root(data_dir) / IDS_FILE)
    installed = _installed_ids_file()
    if installed is not None:
        out.append(installed)
    return out


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_ids(text: str) -> list[str]:
    """``<wnid>/<file>`` per non-empty line, in order (RobustBench's file has no final newline)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def _where_to_put(data_dir: Path | None) -> str:
    return (f"put RobustBench's {IDS_FILE} (from {IDS_URL}, or pip install robustbench) at "
            f"{imagenet_root(data_dir) / IDS_FILE}, or point {ENV_IDS} at it")


def _verified(path: Path, expected_sha256: str | None) -> list[str]:
    expected_sha256 = IDS_SHA256 if expected_sha256 is None else expected_sha256
    data = path.read_bytes()
    if expected_sha256 and sha256_bytes(data) != expected_sha256:
        raise DatasetNotFoundError(f"{NAME}: {path} is not RobustBench's list of {N_SUBSET} validation images (sha256 "
                                   f"{sha256_bytes(data)[:12]}…, expected {expected_sha256[:12]}…): delete it and "
                                   f"get the original from {IDS_URL}")
    return parse_ids(data.decode("utf-8"))


def download_ids(target: Path, url: str = IDS_URL, expected_sha256: str | None = None) -> Path:
    """Download the list into ``target`` (a temporary name renamed once its sha256 is right)."""
    expected_sha256 = IDS_SHA256 if expected_sha256 is None else expected_sha256
    target.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 -- a fixed https URL
        data = response.read()
    if expected_sha256 and sha256_bytes(data) != expected_sha256:
        raise DatasetNotFoundError(f"{NAME}: the list downloaded from {url} has sha256 {sha256_bytes(data)[:12]}…, "
                                   f"not RobustBench's {expected_sha256[:12]}…: {_where_to_put(None)}")
    tmp = target.with_name(f".{target.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target


def subset_ids(data_dir: Path | None, download: bool = True, expected_sha256: str | None = None) -> list[str]:
    """RobustBench's list of file names: from a local copy, else downloaded into the data cache."""
    for path in ids_candidates(data_dir):
        if path.is_file():
            return _verified(path, expected_sha256)
    target = imagenet_root(data_dir) / IDS_FILE
    if not download:
        raise DatasetNotFoundError(f"{NAME}: RobustBench's list of its {N_SUBSET} validation images is not here: "
                                   f"{_where_to_put(data_dir)}")
    try:
        download_ids(target, expected_sha256=expected_sha256)
    except DatasetNotFoundError:
        raise
    except Exception as exc:  # no network, HTTP error, unwritable cache
        raise DatasetNotFoundError(f"{NAME}: RobustBench's list of its {N_SUBSET} validation images is not here and "
                                   f"its download failed ({type(exc).__name__}): {_where_to_put(data_dir)}") from exc
    return _verified(target, expected_sha256)


def class_folders(folder: Path) -> list[str]:
    """Sorted class folder names (wnids): label k is the k-th."""
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def missing_files(folder: Path, ids: Sequence[str]) -> list[str]:
    return [i for i in ids if not (folder / i).is_file()]


def folder_problem(folder: Path, ids: Sequence[str], what: str, how: str, all_classes: bool = True) -> str | None:
    """None when ``folder`` holds every listed file (and, with ``all_classes``, the 1,000 class folders
    its labels are counted from); else one line."""
    if not folder.is_dir():
        return f"{what}: {folder} not found: {how}"
    n_classes = len(class_folders(folder))
    if all_classes and n_classes != NUM_CLASSES:
        return (f"{what}: {folder} has {n_classes} class folders, expected the {NUM_CLASSES} ILSVRC2012 wnids "
                f"(labels are the index of the wnid among the sorted folders): {how}")
    missing = missing_files(folder, ids)
    if missing:
        return (f"{what}: {len(missing)} of the {len(ids)} images RobustBench evaluates are missing from {folder} "
                f"(first: {missing[0]}): {how}")
    return None


def _val_how(data_dir: Path | None) -> str:
    return (f"put the ILSVRC2012 validation images in {imagenet_root(data_dir) / 'val'}/<wnid>/<file>.JPEG "
            f"(torchvision's ImageNet layout), or point {ENV_ROOT} at the folder that holds val/ "
            f"(or {ENV_DATA} / --data-dir at the one that holds imagenet/val/)")


def check_imagenet(split: str, data_dir: Path | None) -> str | None:
    """Preflight: the list of file names (downloaded now if absent) and every listed validation image."""
    if split != "test":
        return (f"{NAME}: benchbed's ImageNet has only RobustBench's test subset (no training split): leave out "
                f"the metrics that need one")
    try:
        ids = subset_ids(data_dir)
    except DatasetNotFoundError as exc:
        return str(exc)
    return folder_problem(imagenet_root(data_dir) / "val", ids, NAME, _val_how(data_dir))


def res256_crop224() -> Callable:
    from torchvision import transforms

    return transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.PILToTensor()])


def res224() -> Callable:
    from torchvision import transforms

    return transforms.Compose([transforms.Resize([224, 224]), transforms.PILToTensor()])


def read_images(folder: Path, ids: Sequence[str], transform: Callable, labels_from: Sequence[str]):
    """uint8 images (N, 3, 224, 224) of ``folder/<id>`` and their labels (index of the wnid among
    ``labels_from``); ``transform`` maps a PIL image to a uint8 tensor."""
    import torch
    from PIL import Image

    index = {wnid: k for k, wnid in enumerate(labels_from)}
    images, labels = [], []
    for i in ids:
        with Image.open(folder / i) as image:
            images.append(transform(image.convert("RGB")))
        labels.append(index[i.split("/")[0]])
    if not images:
        return torch.empty((0, *IMAGE_SHAPE), dtype=torch.uint8), torch.empty(0, dtype=torch.int64)
    return torch.stack(images), torch.tensor(labels, dtype=torch.int64)


def to_float(images_uint8) -> object:
    """ToTensor's values: k/255 in float32."""
    return images_uint8.float().div_(255.0)


def load_imagenet(split: str, data_dir: Path | None) -> LabelledImages:
    """RobustBench's 5,000 validation images, in its order, preprocessed as RobustBench does."""
    problem = check_imagenet(split, data_dir)
    if problem:
        raise DatasetNotFoundError(problem)
    val = imagenet_root(data_dir) / "val"
    images, labels = read_images(val, subset_ids(data_dir), res256_crop224(), class_folders(val))
    return LabelledImages(to_float(images), labels)
