"""The zoo's one architecture: a small CNN for 1x8x8 digits in [0, 1] -> 10 logits.

Normalisation lives inside the model (as buffers), so the model takes raw [0, 1] pixels, as
benchbed's model contract asks.
"""
from __future__ import annotations

import torch
from torch import nn

ARCHITECTURE = "DigitsCNN (conv16-conv32/2-fc128)"

# Pixel mean / std of the digits training split (benchbed.builtin.dataset_loaders.load_digits_split("train")).
DIGITS_MEAN = 0.3053
DIGITS_STD = 0.3760


class DigitsCNN(nn.Module):
    """conv3x3(16) -> ReLU -> conv3x3(32, stride 2) -> ReLU -> fc(128) -> ReLU -> fc(10).

    About 72k parameters and 0.15M multiply-adds per image: small enough that AutoAttack standard
    (about 2,000 gradient and 5,000 forward passes) on all 449 test digits stays fast on a CPU.
    Input (N, 1, 8, 8) in [0, 1], output (N, 10) logits.
    """

    def __init__(self, num_classes: int = 10, mean: float = DIGITS_MEAN, std: float = DIGITS_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor([mean], dtype=torch.float32).view(1, 1, 1, 1))
        self.register_buffer("std", torch.tensor([std], dtype=torch.float32).view(1, 1, 1, 1))
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, kernel_size=3, stride=2, padding=1),  # 8x8 -> 4x4
            nn.ReLU(),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, 128),
            nn.ReLU(),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features((x - self.mean) / self.std))


def build_model() -> DigitsCNN:
    return DigitsCNN()
