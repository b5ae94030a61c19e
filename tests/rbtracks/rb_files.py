"""Small files in the published formats, written by the tests: an ILSVRC2012 val folder with a few
JPEGs and a list of file names, CIFAR-10-C .npy files, an ImageNet-C folder (no network)."""
from __future__ import annotations

import copy
import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

from benchbed.builtin import imagenet
from benchbed.builtin.corruptions import CORRUPTIONS, SEVERITIES
from benchbed.contracts.specs import LabelledImages
from benchbed.registry import PluginHost

WNIDS = tuple(f"n{k:08d}" for k in range(imagenet.NUM_CLASSES))  # sorted: wnid k has label k
# RobustBench's own preprocessing pipelines, written out here as the independent reference
RES256_CROP224 = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor()])
RES224 = transforms.Compose([transforms.Resize([224, 224]), transforms.ToTensor()])


def tiny_imagenet_model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(),
                               torch.nn.Linear(48, imagenet.NUM_CLASSES)).eval()


def tiny_cifar_model(seed: int = 0, classes: int = 10) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(48, classes)).eval()


def random_photo(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A smooth random RGB image (JPEG keeps it close), height x width = size."""
    small = rng.integers(0, 256, (size[0] // 16 + 1, size[1] // 16 + 1, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((size[1], size[0]), Image.BILINEAR)


def predicted(model: torch.nn.Module, image: torch.Tensor) -> int:
    with torch.no_grad():
        return int(model(image[None]).argmax(1))


def write_imagenet(data_dir: Path, n: int, model: torch.nn.Module, seed: int = 0) -> list[str]:
    """<data_dir>/imagenet/val/<wnid>/<file>.JPEG for 1,000 wnids (n images) and the list of file
    names; even points are filed under the class ``model`` predicts, odd ones under another."""
    rng = np.random.default_rng(seed)
    val = data_dir / "imagenet" / "val"
    for wnid in WNIDS:
        (val / wnid).mkdir(parents=True, exist_ok=True)
    ids = []
    for i in range(n):
        photo = random_photo(rng, (int(rng.integers(240, 330)), int(rng.integers(240, 400))))
        path = Path("tmp.JPEG")
        photo.save(data_dir / path, quality=95)
        with Image.open(data_dir / path) as saved:
            label = predicted(model, RES256_CROP224(saved.convert("RGB")))
        label = label if i % 2 == 0 else (label + 1) % imagenet.NUM_CLASSES
        name = f"{WNIDS[label]}/ILSVRC2012_val_{90 - i:08d}.JPEG"  # not in sorted order on purpose
        (data_dir / path).rename(val / name)
        ids.append(name)
    (data_dir / "imagenet" / imagenet.IDS_FILE).write_text("\n".join(ids))  # no final newline, as RobustBench's
    return ids


def ids_sha256(data_dir: Path) -> str:
    return hashlib.sha256((data_dir / "imagenet" / imagenet.IDS_FILE).read_bytes()).hexdigest()


def write_imagenet_c(data_dir: Path, ids: list[str], seed: int = 1) -> None:
    """<data_dir>/ImageNet-C/<corruption>/<severity>/<wnid>/<file>.JPEG, 224x224 as published."""
    rng = np.random.default_rng(seed)
    for c in CORRUPTIONS:
        for s in SEVERITIES:
            for name in ids:
                path = data_dir / "ImageNet-C" / c / str(s) / name
                path.parent.mkdir(parents=True, exist_ok=True)
                random_photo(rng, (224, 224)).save(path, quality=90)


def write_cifar_c(data_dir: Path, folder: str, labels: np.ndarray, corruptions=CORRUPTIONS, seed: int = 2) -> None:
    """<data_dir>/<folder>/<corruption>.npy, uint8 (5 n, 32, 32, 3), and labels.npy (5 n,)."""
    rng = np.random.default_rng(seed)
    root = data_dir / folder
    root.mkdir(parents=True, exist_ok=True)
    n = len(labels)
    np.save(root / "labels.npy", np.tile(labels, len(SEVERITIES)).astype(np.int64))
    for c in corruptions:
        np.save(root / f"{c}.npy", rng.integers(0, 256, (len(SEVERITIES) * n, 32, 32, 3), dtype=np.uint8))


def registry_with_clean(name: str, points: LabelledImages):
    """The built-in registry with dataset ``name``'s clean test split stood in by ``points`` (the clean
    CIFAR files are torchvision's, md5-checked: tests cannot write them)."""
    reg = PluginHost(load_external=False).registry
    spec = dataclasses.replace(reg.datasets.get(name), loader=lambda split, data_dir: points, check=None)
    other = copy.copy(reg)
    other.datasets = copy.copy(reg.datasets)
    other.datasets._items = {**reg.datasets._items, name: spec}
    return other
