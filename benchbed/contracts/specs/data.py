"""What a dataset plugin registers (:class:`DatasetSpec`) and the test points it gives (:class:`LabelledImages`)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchbed.contracts.errors import ConfigError
from benchbed.contracts.specs.names import SPLITS, _require

if TYPE_CHECKING:  # imported lazily: listing plugins must not pay for torch
    import torch


@dataclass(frozen=True)
class LabelledImages:
    """Images in [0, 1] shaped (N, C, H, W), float32, with int64 labels, in a fixed order."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def slice(self, start: int, stop: int) -> LabelledImages:
        return LabelledImages(self.images[start:stop], self.labels[start:stop])

    def copy(self) -> LabelledImages:
        """A private copy: whatever its user does to it, the original stays intact."""
        return LabelledImages(self.images.clone(), self.labels.clone())


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    num_classes: int
    image_shape: tuple[int, int, int]
    # load(split, data_dir) -> LabelledImages; data_dir is None for embedded datasets.
    loader: Callable[[str, Path | None], LabelledImages]
    description: str = ""
    class_names: tuple[str, ...] = ()
    embedded: bool = False  # ships inside a dependency: works offline with no files
    # check(split, data_dir) -> None | one line saying what is missing and how to get it: a cheap
    # look for the files, run before any work starts (benchbed.engine.preflight); None = nothing to check.
    check: Callable[[str, Path | None], str | None] | None = None
    # the splits it has: "test" always; "train" is optional (needed only by metrics that require "train",
    # e.g. the generative metric's FID reference and PCA seeds, which preflight checks before any work)
    splits: tuple[str, ...] = SPLITS

    def __post_init__(self):
        _require(self.num_classes >= 2, f"dataset {self.name!r}: num_classes must be >= 2")
        _require(len(self.image_shape) == 3, f"dataset {self.name!r}: image_shape must be (C, H, W)")
        _require("test" in self.splits and set(self.splits) <= set(SPLITS),
                 f"dataset {self.name!r}: splits must include 'test' and be among {SPLITS}, got {self.splits}")

    def load(self, split: str, data_dir: Path | None = None) -> LabelledImages:
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r} for dataset {self.name!r}: use one of {SPLITS}")
        if split not in self.splits:
            raise ConfigError(f"dataset {self.name!r} has no {split} split (it has: {', '.join(self.splits)}): "
                              f"leave out what needs it, or register the dataset with that split")
        return self.loader(split, data_dir)
