"""The digits feature extractor: a small CNN trained on the digits training split, for digits-IS/FID/KID.

Inception features are meaningless on 8x8 handwritten digits, so the digits track scores samples with
this network instead, registered with torch-fidelity's feature-extractor registry as ``digits-cnn``.
It provides two feature layers:

- ``logits`` (10): class logits, the layer for the (digits-)Inception Score;
- ``features`` (128): the penultimate activations (after ReLU), the layer for (digits-)FID and KID,
  multiplied by a constant fixed at training time so their mean square over the training split is 1.

The weights ship at ``benchbed/generative/weights/digits_extractor.pt`` and are checked against
:data:`WEIGHTS_SHA256` before loading (``weights_only=True``). They are reproduced bit for bit on CPU
by ``python -m benchbed.generative.train_extractor`` (see that module).

Input: what torch-fidelity feeds every extractor, uint8 images (N, C, H, W) in 0..255 with C = 1 or 3
(RGB channels are averaged to grey); images that are not 8x8 are resized (area interpolation).
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

EXTRACTOR_NAME = "digits-cnn"
WEIGHTS_PATH = Path(__file__).resolve().parent / "weights" / "digits_extractor.pt"
WEIGHTS_SHA256 = "702d5d054542be869651666f2de6194beeda46a80a045496a28200f0fc11a752"
# What `python -m benchbed.generative.train_extractor` gives on the CPU kinds it was checked on. float32
# kernels round differently per instruction set, so a retrain is bit-for-bit only on the same kind; the
# shipped file (WEIGHTS_SHA256) is what every machine loads.
RETRAIN_SHA256 = {
    WEIGHTS_SHA256: "the machine that trained the shipped weights (torch 2.14.1, CPU)",
    "b70a2aadffb2890cb20092296753d12398c3bb5e299f86ed2482c66d12fffb57": "Intel Xeon, AVX-512, torch 2.14.1 (CPU)",
}
FEATURES = ("features", "logits")
DEFAULT_LAYERS = {"isc": "logits", "fid": "features", "kid": "features", "prc": "features"}
IMAGE_SIZE = 8
# Pixel mean / std of the digits training split, fixed here so the network is self-contained.
DIGITS_MEAN = 0.3053
DIGITS_STD = 0.3760


class DigitsFeatureNet(nn.Module):
    """conv3x3(32)-conv3x3(32)-pool-conv3x3(64)-pool-fc(128)-fc(10) on 1x8x8 images in [0, 1]."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.register_buffer("mean", torch.tensor(DIGITS_MEAN).view(1, 1, 1, 1))
        self.register_buffer("std", torch.tensor(DIGITS_STD).view(1, 1, 1, 1))
        # Fixed after training so the "features" layer has mean square 1 over the training split (an
        # Inception-like scale, which keeps KID's cubic kernel (x.y / d + 1)^3 in a sensible range).
        self.register_buffer("feature_scale", torch.tensor(1.0))
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),  # 8 -> 4
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),  # 4 -> 2
            nn.Flatten(),
            nn.Linear(64 * 2 * 2, 128), nn.ReLU(),
        )
        self.head = nn.Linear(128, num_classes)

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body((x - self.mean) / self.std)
        return h * self.feature_scale, self.head(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(x)[1]


def uint8_to_unit(x: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float (N, 1, 8, 8) in [0, 1]: grey (channel mean), resized if needed."""
    x = x.float()
    if x.shape[1] != 1:
        x = x.mean(dim=1, keepdim=True)  # on integer values: exact when the channels are equal
    x = x.div(255.0)
    if tuple(x.shape[-2:]) != (IMAGE_SIZE, IMAGE_SIZE):
        x = F.interpolate(x, size=(IMAGE_SIZE, IMAGE_SIZE), mode="area")
    return x


def load_net(weights_path: str | Path | None = None, device="cpu") -> DigitsFeatureNet:
    """The shipped network (checksum-verified), or one loaded from ``weights_path``."""
    from benchbed.contracts.checkpoints import load_state_dict

    net = DigitsFeatureNet()
    if weights_path is None:
        state = load_state_dict(WEIGHTS_PATH, WEIGHTS_SHA256)
    else:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    return net.to(device).eval()


def _extractor_class():
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase
    from torch_fidelity.helpers import vassert

    class DigitsFeatureExtractor(FeatureExtractorBase):
        """torch-fidelity wrapper around :class:`DigitsFeatureNet`."""

        def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
            super().__init__(name, features_list)
            self.net = load_net(feature_extractor_weights_path)
            self.requires_grad_(False)
            self.eval()

        def forward(self, x):
            vassert(torch.is_tensor(x) and x.dtype == torch.uint8, "Expecting image as torch.Tensor with dtype=uint8")
            vassert(x.dim() == 4 and x.shape[1] in (1, 3), f"Input is not Bx1xHxW or Bx3xHxW: {tuple(x.shape)}")
            features, logits = self.net.features_and_logits(uint8_to_unit(x))
            out = {"features": features, "logits": logits}
            return tuple(out[name] for name in self.features_list)

        @staticmethod
        def get_provided_features_list():
            return FEATURES

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return DEFAULT_LAYERS[metric]

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return torch.zeros((1, 1, IMAGE_SIZE, IMAGE_SIZE), dtype=torch.uint8)

        @staticmethod
        def benchbed_identity(weights_path=None) -> str:
            """What the features depend on (for the reference-statistics cache key)."""
            if weights_path is None:
                return f"{EXTRACTOR_NAME}:sha256:{WEIGHTS_SHA256}"
            from benchbed.results.provenance import sha256_file

            return f"{EXTRACTOR_NAME}:sha256:{sha256_file(weights_path)}"

    return DigitsFeatureExtractor


def register(name: str = EXTRACTOR_NAME):
    """Register the extractor with torch-fidelity under ``name`` (idempotent); returns its class."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    existing = FEATURE_EXTRACTORS_REGISTRY.get(name)
    if existing is not None:
        return existing
    cls = _extractor_class()
    register_feature_extractor(name, cls)
    return cls
