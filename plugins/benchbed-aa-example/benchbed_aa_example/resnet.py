"""A CIFAR-10 ResNet-18 (He et al., 2016, in the 3x3-stem variant used for 32x32 images).

Parameter names follow the checkpoint ``pyautoattack/examples/model_test.pt``:
``conv1``/``bn1`` (stem), ``layer1``..``layer4`` (two residual blocks each, with
``conv1``/``bn1``/``conv2``/``bn2`` and, where the block changes shape, a ``shortcut`` made of a 1x1
convolution ``shortcut.0`` and a batch norm ``shortcut.1``) and the classifier ``linear``.

The checkpoint was trained on raw [0, 1] images, so no input normalisation is applied.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

STAGE_WIDTHS = (64, 128, 256, 512)


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


class ResidualBlock(nn.Module):
    """Two 3x3 conv + BN layers with an identity (or 1x1 projection) skip connection."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = _conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = _conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride == 1 and in_channels == out_channels:
            self.shortcut: nn.Module = nn.Identity()
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + self.shortcut(x))


class CifarResNet18(nn.Module):
    """Maps (N, 3, 32, 32) images in [0, 1] to (N, num_classes) logits."""

    def __init__(self, num_classes: int = 10, blocks_per_stage: tuple[int, ...] = (2, 2, 2, 2)):
        super().__init__()
        self.conv1 = _conv3x3(3, STAGE_WIDTHS[0])
        self.bn1 = nn.BatchNorm2d(STAGE_WIDTHS[0])
        in_channels = STAGE_WIDTHS[0]
        for index, (width, n_blocks) in enumerate(zip(STAGE_WIDTHS, blocks_per_stage), start=1):
            first_stride = 1 if index == 1 else 2  # every later stage halves the resolution
            blocks = []
            for b in range(n_blocks):
                blocks.append(ResidualBlock(in_channels, width, first_stride if b == 0 else 1))
                in_channels = width
            setattr(self, f"layer{index}", nn.Sequential(*blocks))
        self.linear = nn.Linear(in_channels, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.layer4(self.layer3(self.layer2(self.layer1(h))))
        # For 32x32 inputs the last map is 4x4 and this is its mean, as in the original training code.
        return torch.flatten(F.adaptive_avg_pool2d(h, 1), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.features(x))
