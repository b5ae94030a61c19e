"""Common-corruption copies of a track's test points: CIFAR-10-C, CIFAR-100-C and ImageNet-C.

Published layouts (Hendrycks & Dietterich, 2019), as RobustBench reads them:

- ``<data dir>/CIFAR-10-C/<corruption>.npy`` (and ``CIFAR-100-C``): uint8 (50000, 32, 32, 3), the
  10,000 test images at severity 1, then at 2, ... 5 (blocks of 10,000 in the test set's order), and
  ``labels.npy`` (50000,). Test point i at severity s is row (s - 1) * 10000 + i. Files with blocks
  of any size n (shape (5n, 32, 32, 3)) are read the same way.
- ``<data dir>/ImageNet-C/<corruption>/<severity>/<wnid>/<file>.JPEG`` (or ``$BENCHBED_IMAGENET_C_DIR``):
  the validation images, corrupted; benchbed reads RobustBench's 5,000 file names of the clean track,
  preprocessed as RobustBench does for corruptions (``Res224``: resized to 224x224, ToTensor).

A corruption track's test points are the clean dataset's (point i is the i-th test image), and its
metric reads point i's 75 corrupted copies, so sharding and merging work as for any track.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchbed.builtin import imagenet
from benchbed.builtin.dataset_loaders import ENV_DATA, data_root
from benchbed.contracts.errors import DatasetNotFoundError

# The 15 corruptions of the benchmark, in its groups' order: noise, blur, weather, digital.
CORRUPTIONS = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
               "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
               "jpeg_compression")
SEVERITIES = (1, 2, 3, 4, 5)
ENV_IMAGENET_C = "BENCHBED_IMAGENET_C_DIR"


@dataclass(frozen=True)
class CorruptionSource:
    """Where a dataset's corrupted copies live and how to get them."""

    dataset: str  # the clean dataset whose test points are corrupted
    folder: str  # folder name under the data dir
    kind: str  # "npy" (CIFAR-C) or "jpeg" (ImageNet-C)
    url: str
    preprocessing: str

    def root(self, data_dir: Path | None) -> Path:
        if self.kind == "jpeg" and os.environ.get(ENV_IMAGENET_C):
            return Path(os.environ[ENV_IMAGENET_C])
        return data_root(data_dir) / self.folder

    def how_to_get(self, data_dir: Path | None) -> str:
        base = data_root(data_dir)
        if self.kind == "npy":
            return (f"download {self.folder}.tar from {self.url} and extract it into {base} (it holds labels.npy and "
                    f"one <corruption>.npy per corruption, each (50000, 32, 32, 3) uint8), or point {ENV_DATA} / "
                    f"--data-dir at the folder that holds {self.folder}/")
        return (f"download ImageNet-C from {self.url} and extract it to {self.root(data_dir)}/<corruption>/<severity>/"
                f"<wnid>/<file>.JPEG, or point {ENV_IMAGENET_C} at that folder")


SOURCES = {
    "cifar10": CorruptionSource("cifar10", "CIFAR-10-C", "npy", "https://zenodo.org/record/2535967",
                                "none (32x32 uint8 / 255)"),
    "cifar100": CorruptionSource("cifar100", "CIFAR-100-C", "npy", "https://zenodo.org/record/3555552",
                                 "none (32x32 uint8 / 255)"),
    "imagenet": CorruptionSource("imagenet", "ImageNet-C", "jpeg", "https://zenodo.org/record/2235448",
                                 "Res224: resize to 224x224 (bilinear), ToTensor"),
}


def source_for(dataset: str) -> CorruptionSource:
    if dataset not in SOURCES:
        raise DatasetNotFoundError(f"no corrupted copy of dataset {dataset!r} is known (the corruption metric reads "
                                   f"{', '.join(sorted(SOURCES))})")
    return SOURCES[dataset]


# -- CIFAR-C (.npy) -------------------------------------------------------------------------------------
def npy_shape(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from the .npy header alone (memory-mapped: no data read)."""
    array = np.load(path, mmap_mode="r")
    return tuple(array.shape), array.dtype


def npy_problems(source: CorruptionSource, data_dir: Path | None, n_points: int,
                 corruptions: Sequence[str] = CORRUPTIONS) -> list[str]:
    """What is missing or malformed for ``n_points`` test points; [] when all is there."""
    root = source.root(data_dir)
    if not root.is_dir():
        return [f"{source.folder}: {root} not found: {source.how_to_get(data_dir)}"]
    missing = [name for name in ("labels", *corruptions) if not (root / f"{name}.npy").is_file()]
    if missing:
        return [f"{source.folder}: {len(missing)} file(s) missing in {root}: "
                f"{', '.join(m + '.npy' for m in missing)}: {source.how_to_get(data_dir)}"]
    problems = []
    (n_labels,), _ = npy_shape(root / "labels.npy")
    for name in corruptions:
        path = root / f"{name}.npy"
        try:
            shape, dtype = npy_shape(path)
        except (OSError, ValueError) as exc:
            problems.append(f"{source.folder}: {path} is not a readable .npy file ({exc}): download it again")
            continue
        block = shape[0] // len(SEVERITIES) if shape else 0
        if len(shape) != 4 or shape[1:] != (32, 32, 3) or dtype != np.uint8 or shape[0] % len(SEVERITIES):
            problems.append(f"{source.folder}: {path} holds {dtype} {shape}, expected uint8 (5 x n, 32, 32, 3) "
                            f"(the published files: (50000, 32, 32, 3)): download it again")
        elif block < n_points or shape[0] != n_labels:
            problems.append(f"{source.folder}: {path} has {block} images per severity and labels.npy {n_labels} rows, "
                            f"the track needs {n_points} per severity: download the full files")
    return problems


def npy_images(source: CorruptionSource, data_dir: Path | None, corruption: str, severity: int,
               indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 32, 32, 3) and labels of test points ``indices`` at ``severity`` (1..5)."""
    root = source.root(data_dir)
    images = np.load(root / f"{corruption}.npy", mmap_mode="r")
    labels = np.load(root / "labels.npy", mmap_mode="r")
    rows = (severity - 1) * (images.shape[0] // len(SEVERITIES)) + np.asarray(indices, dtype=np.int64)
    return np.ascontiguousarray(images[rows]), np.asarray(labels[rows], dtype=np.int64)


# -- ImageNet-C (JPEG folders) -------------------------------------------------------------------------
def jpeg_problems(source: CorruptionSource, data_dir: Path | None, n_points: int,
                  corruptions: Sequence[str] = CORRUPTIONS) -> list[str]:
    root = source.root(data_dir)
    if not root.is_dir():
        return [f"{source.folder}: {root} not found: {source.how_to_get(data_dir)}"]
    try:
        ids = imagenet.subset_ids(data_dir)[:n_points]
    except DatasetNotFoundError as exc:
        return [str(exc)]
    absent = [f"{c}/{s}" for c in corruptions for s in SEVERITIES if not (root / c / str(s)).is_dir()]
    if absent:
        shown = ", ".join(absent[:5]) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
        return [f"{source.folder}: {len(absent)} of the {len(corruptions) * len(SEVERITIES)} <corruption>/<severity> "
                f"folders are missing in {root} ({shown}): {source.how_to_get(data_dir)}"]
    problems = []
    for c in corruptions:
        for s in SEVERITIES:
            problem = imagenet.folder_problem(root / c / str(s), ids, f"{source.folder} {c} severity {s}",
                                              source.how_to_get(data_dir), all_classes=False)
            if problem:
                problems.append(problem)
    return problems


def jpeg_images(source: CorruptionSource, data_dir: Path | None, corruption: str, severity: int,
                indices: np.ndarray):
    """uint8 images (N, 3, 224, 224) and labels of test points ``indices`` (RobustBench's order); labels
    count the wnids of the clean validation folder, as the clean track's do."""
    folder = source.root(data_dir) / corruption / str(severity)
    ids = imagenet.subset_ids(data_dir)
    chosen = [ids[int(i)] for i in np.asarray(indices).reshape(-1)]
    wnids = imagenet.class_folders(imagenet.imagenet_root(data_dir) / "val")
    return imagenet.read_images(folder, chosen, imagenet.res224(), wnids)


# -- both ---------------------------------------------------------------------------------------------
def corruption_problems(dataset: str, data_dir: Path | None, n_points: int,
                        corruptions: Sequence[str] = CORRUPTIONS) -> list[str]:
    """Preflight: every file the corruption metric will read for the first ``n_points`` test points."""
    try:
        source = source_for(dataset)
    except DatasetNotFoundError as exc:
        return [str(exc)]
    if source.kind == "npy":
        return npy_problems(source, data_dir, n_points, corruptions)
    return jpeg_problems(source, data_dir, n_points, corruptions)


def corrupted_points(dataset: str, data_dir: Path | None, corruption: str, severity: int, indices: np.ndarray):
    """Float images (N, C, H, W) in [0, 1] and int64 labels of the test points ``indices``, corrupted."""
    import torch

    source = source_for(dataset)
    if source.kind == "npy":
        images, labels = npy_images(source, data_dir, corruption, severity, indices)
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0).contiguous()
        return x, torch.from_numpy(labels)
    images, labels = jpeg_images(source, data_dir, corruption, severity, indices)
    return imagenet.to_float(images), labels
