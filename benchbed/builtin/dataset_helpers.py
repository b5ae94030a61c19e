"""Dataset helpers for the formats researchers have on disk: an image folder and numpy arrays.

Each helper returns a :class:`~benchbed.contracts.specs.DatasetSpec` to register; nothing is read when it
is made (listing plugins stays cheap), its ``check`` looks for the files before a run starts, and its
loader reads them in a fixed order into images in [0, 1]. Torchvision's datasets by name are in
:mod:`benchbed.builtin.torchvision_datasets`. Guide: docs/plugins/datasets.md.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from benchbed.builtin.dataset_loaders import data_root  # noqa: F401  (re-exported: benchbed.plugin)
from benchbed.contracts.errors import ConfigError, DatasetNotFoundError
from benchbed.contracts.specs import SPLITS, DatasetSpec, LabelledImages


def resolve(path: Path | str, data_dir: Path | str | None) -> Path:
    """An absolute ``path`` as is; a relative one inside the data folder."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else data_root(data_dir) / path


def _check_splits(name: str, splits: Sequence[str]) -> tuple[str, ...]:
    splits = tuple(splits)
    if "test" not in splits or not set(splits) <= set(SPLITS):
        raise ConfigError(f"dataset {name!r}: splits must include 'test' and be among {SPLITS}, got {splits}")
    return splits


# -- arrays -> LabelledImages -------------------------------------------------------------------------------
def to_channels_first(images: np.ndarray, image_shape: tuple[int, int, int], what: str) -> np.ndarray:
    """(N, C, H, W), from (N, C, H, W), (N, H, W, C) or, for one channel, (N, H, W)."""
    c, h, w = image_shape
    if images.ndim == 3 and c == 1 and images.shape[1:] == (h, w):
        return images[:, None]
    if images.ndim == 4 and images.shape[1:] == (c, h, w):
        return images
    if images.ndim == 4 and images.shape[1:] == (h, w, c):
        return np.transpose(images, (0, 3, 1, 2))
    raise ConfigError(f"{what}: images of shape {images.shape} do not match the dataset's image_shape {image_shape}: "
                      f"expected (N, {c}, {h}, {w}) or (N, {h}, {w}, {c})" + (f" or (N, {h}, {w})" if c == 1 else ""))


def to_unit_range(images: np.ndarray, what: str) -> np.ndarray:
    """float32 in [0, 1]: uint8 divided by 255; floats must already be in [0, 1] (never guessed)."""
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    if np.issubdtype(images.dtype, np.floating):
        images = images.astype(np.float32)
        if images.size and not (np.isfinite(images).all() and images.min() >= 0.0 and images.max() <= 1.0):
            raise ConfigError(f"{what}: float images must lie in [0, 1] (found values in [{np.nanmin(images):g}, "
                              f"{np.nanmax(images):g}]): store uint8 0..255 or scale to [0, 1]")
        return images
    raise ConfigError(f"{what}: images of dtype {images.dtype}: store uint8 (0..255) or floats in [0, 1]")


def labelled_images(images, labels, image_shape: tuple[int, int, int], num_classes: int,
                    what: str) -> LabelledImages:
    """Checked arrays (any layout of :func:`to_channels_first`, uint8 or [0, 1] floats) as LabelledImages."""
    import torch

    images, labels = np.asarray(images), np.asarray(labels)
    x = to_unit_range(to_channels_first(images, image_shape, what), what)
    if labels.ndim != 1 or len(labels) != len(x):
        raise ConfigError(f"{what}: labels of shape {labels.shape} for {len(x)} images: expected ({len(x)},)")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ConfigError(f"{what}: labels of dtype {labels.dtype}: expected integers 0..{num_classes - 1}")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ConfigError(f"{what}: labels range over {labels.min()}..{labels.max()}, not 0..{num_classes - 1}")
    return LabelledImages(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(labels.astype(np.int64)))


# -- numpy arrays -----------------------------------------------------------------------------------------
def _npy_pair(spec) -> tuple[str, str] | None:
    return (str(spec[0]), str(spec[1])) if isinstance(spec, (tuple, list)) and len(spec) == 2 else None


def numpy_dataset(name: str, num_classes: int, image_shape: tuple[int, int, int], *,
                  files: Mapping[str, str | tuple[str, str]] | None = None, path: str | Path | None = None,
                  images_key: str = "images", labels_key: str = "labels", class_names: Sequence[str] = (),
                  description: str = "") -> DatasetSpec:
    """A dataset stored as numpy arrays: one ``.npz`` per split (arrays ``images_key`` and ``labels_key``)
    or an (images ``.npy``, labels ``.npy``) pair per split.

    ``files``: split -> file name(s), inside ``path`` (default: a folder named like the dataset in the
    data folder); default ``{"test": "test.npz", "train": "train.npz"}``. The splits given are the
    dataset's splits (``test`` is required, ``train`` optional). Images: uint8 0..255 or floats in
    [0, 1], shaped (N, C, H, W), (N, H, W, C) or (N, H, W); labels: integers 0..num_classes-1. Read
    without pickle (``allow_pickle=False``): a data file never runs code.
    """
    files = dict(files) if files is not None else {"test": "test.npz", "train": "train.npz"}
    splits = _check_splits(name, tuple(s for s in SPLITS if s in files) if set(files) <= set(SPLITS) else files)
    folder = Path(path) if path is not None else Path(name)

    def paths(split: str, data_dir) -> list[Path]:
        pair = _npy_pair(files[split])
        names = pair if pair else (str(files[split]),)
        return [resolve(folder / n, data_dir) for n in names]

    def check(split: str, data_dir) -> str | None:
        missing = [str(p) for p in paths(split, data_dir) if not p.is_file()]
        if not missing:
            return None
        return (f"{name}: {', '.join(missing)} not found (the {split} split): put the file(s) there, or point "
                f"--data-dir / BENCHBED_DATA at the folder that holds {folder}/")

    def load(split: str, data_dir) -> LabelledImages:
        problem = check(split, data_dir)
        if problem:
            raise DatasetNotFoundError(problem)
        found = paths(split, data_dir)
        what = f"{name} ({split} split, {found[0].name})"
        if len(found) == 2:
            images, labels = (np.load(p, allow_pickle=False) for p in found)
        else:
            with np.load(found[0], allow_pickle=False) as data:
                absent = [k for k in (images_key, labels_key) if k not in data.files]
                if absent:
                    raise ConfigError(f"{what}: no array named {', '.join(map(repr, absent))} (it holds "
                                      f"{', '.join(map(repr, data.files))}): pass images_key= / labels_key=")
                images, labels = data[images_key], data[labels_key]
        return labelled_images(images, labels, image_shape, num_classes, what)

    return DatasetSpec(name=name, num_classes=num_classes, image_shape=tuple(image_shape), loader=load, check=check,
                       class_names=tuple(class_names), splits=splits,
                       description=description or f"numpy arrays in {folder}/ ({', '.join(splits)})")


# -- image folder -----------------------------------------------------------------------------------------
def image_folder_dataset(name: str, classes: Sequence[str], image_shape: tuple[int, int, int], *,
                         path: str | Path | None = None, split_folders: Mapping[str, str] | None = None,
                         resize: bool = False, description: str = "") -> DatasetSpec:
    """A dataset stored as image files in torchvision's ``ImageFolder`` layout: ``<path>/<split>/<class>/<image>``.

    ``classes``: the class folders' names, in label order (label i = ``classes[i]``); a class folder
    that is missing, or one that is not declared, is a one-line error. ``path``: default a folder named
    like the dataset in the data folder. ``split_folders``: split -> folder name, default ``{"train":
    "train", "test": "test"}`` (e.g. ``{"test": "val"}`` for a validation folder used as the test split;
    ``test`` is required, ``train`` optional). Files are read in torchvision's order (class, then file
    name, sorted), converted to grayscale or RGB by ``image_shape``'s channels; images of another size
    are an error unless ``resize=True`` (bilinear, antialiased).
    """
    classes = tuple(classes)
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise ConfigError(f"dataset {name!r}: classes must name at least two distinct class folders")
    if image_shape[0] not in (1, 3):
        raise ConfigError(f"dataset {name!r}: image folders hold grayscale (1) or RGB (3) images, not "
                          f"{image_shape[0]} channels")
    folders = dict(split_folders) if split_folders is not None else {"train": "train", "test": "test"}
    splits = _check_splits(name, tuple(s for s in SPLITS if s in folders) if set(folders) <= set(SPLITS) else folders)
    base = Path(path) if path is not None else Path(name)

    def split_dir(split: str, data_dir) -> Path:
        return resolve(base / folders[split], data_dir)

    def check(split: str, data_dir) -> str | None:
        where = split_dir(split, data_dir)
        if not where.is_dir():
            return (f"{name}: folder {where} not found (the {split} split): lay the images out as "
                    f"{where}/<class>/<image> or point --data-dir / BENCHBED_DATA at the folder that holds {base}/")
        present = {p.name for p in where.iterdir() if p.is_dir()}
        missing, extra = [c for c in classes if c not in present], sorted(present - set(classes))
        said = ([f"lacks class folder(s) {', '.join(missing)}"] if missing else []) + \
            ([f"has undeclared folder(s) {', '.join(extra)}"] if extra else [])
        if said:
            return f"{name}: {where} {'; '.join(said)}; the declared classes are {', '.join(classes)}"
        return None

    def load(split: str, data_dir) -> LabelledImages:
        from torchvision.datasets.folder import IMG_EXTENSIONS, default_loader, make_dataset

        problem = check(split, data_dir)
        if problem:
            raise DatasetNotFoundError(problem)
        where = split_dir(split, data_dir)
        samples = make_dataset(str(where), {c: i for i, c in enumerate(classes)}, extensions=IMG_EXTENSIONS,
                               allow_empty=True)
        if not samples:
            raise DatasetNotFoundError(f"{name}: no images ({', '.join(IMG_EXTENSIONS)}) under {where}")
        images = np.stack([_read_image(p, image_shape, resize, default_loader) for p, _ in samples])
        labels = np.array([label for _, label in samples], dtype=np.int64)
        return labelled_images(images, labels, image_shape, len(classes), f"{name} ({split} split)")

    return DatasetSpec(name=name, num_classes=len(classes), image_shape=tuple(image_shape), loader=load,
                       check=check, class_names=classes, splits=splits,
                       description=description or f"image folder {base}/ ({', '.join(splits)})")


def _read_image(path: str, image_shape: tuple[int, int, int], resize: bool, loader) -> np.ndarray:
    """One image file as uint8 (H, W, C) of the dataset's size and channels."""
    from PIL import Image

    c, h, w = image_shape
    image = loader(path).convert("L" if c == 1 else "RGB")
    if image.size != (w, h):
        if not resize:
            raise ConfigError(f"{path}: image of {image.size[0]}x{image.size[1]} pixels, the dataset's images are "
                              f"{w}x{h}: resize the files, or pass resize=True")
        image = image.resize((w, h), Image.BILINEAR, reducing_gap=None)
    array = np.asarray(image, dtype=np.uint8)
    return array[:, :, None] if c == 1 else array
