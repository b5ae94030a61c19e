"""The digits images the recipes train on, and shuffled batch streams over them."""
from __future__ import annotations

import torch

from benchbed.plugin import dataset_split


def digits_splits():
    """(train, test) splits of benchbed's embedded digits dataset (``.images`` in [0, 1], ``.labels``)."""
    return dataset_split("digits", "train"), dataset_split("digits", "test")


class Batches:
    """An endless stream of shuffled batches without the last incomplete one, reshuffled at every pass:
    what ``cycle(DataLoader(..., shuffle=True, drop_last=True))`` gives, with the permutations drawn from
    the recipe's generator (so a run stays deterministic)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, generator: torch.Generator):
        if len(labels) < batch_size:
            raise ValueError(f"{len(labels)} images cannot fill one batch of {batch_size}")
        self.images, self.labels, self.batch_size, self.generator = images, labels, batch_size, generator
        self.order = torch.empty(0, dtype=torch.long)
        self.position = 0

    def __iter__(self):
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.position + self.batch_size > len(self.order):
            self.order = torch.randperm(len(self.labels), generator=self.generator)
            self.position = 0
        idx = self.order[self.position:self.position + self.batch_size]
        self.position += self.batch_size
        return self.images[idx], self.labels[idx]
