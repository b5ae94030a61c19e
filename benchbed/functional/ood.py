"""The embedded out-of-distribution set of the digits tracks: 8x8 photo patches and uniform noise.

Nothing to download: the patches are cut from the two sample photographs that ship inside
scikit-learn (``sklearn.datasets.load_sample_images``: china.jpg and flower.jpg, 427x640 RGB).

OOD point i (any i >= 0) is fixed by its index alone (``numpy.random.default_rng((OOD_SEED, i))``), so
a shard of test points gets the same OOD points as an unsharded run:

- i % 5 == 4: uniform noise in [0, 1];
- otherwise a photo patch: one of the two photos, a random 32x32 window, to grey levels
  (0.299 R + 0.587 G + 0.114 B), averaged over 4x4 blocks to 8x8, stretched to [0, 1] (min to 0,
  max to 1; a flat patch becomes all 0) like the digits' ink range.

Every value is then rounded to the digits' 17 grey levels (k / 16), the form of the digits pixels.
"""
from __future__ import annotations

import functools

import numpy as np
import torch

OOD_SEED = 13
NOISE_EVERY = 5  # every fifth point is noise, the others photo patches
WINDOW, SIDE, LEVELS = 32, 8, 16


@functools.lru_cache(maxsize=1)
def _grey_photos() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    return tuple((p[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])) / 255.0 for p in photos)


def ood_point(i: int) -> np.ndarray:
    """OOD point ``i`` as an (8, 8) float array in [0, 1] on the digits' 17 grey levels."""
    rng = np.random.default_rng((OOD_SEED, int(i)))
    if i % NOISE_EVERY == NOISE_EVERY - 1:
        image = rng.random((SIDE, SIDE))
    else:
        photos = _grey_photos()
        photo = photos[int(rng.integers(len(photos)))]
        r = int(rng.integers(photo.shape[0] - WINDOW + 1))
        c = int(rng.integers(photo.shape[1] - WINDOW + 1))
        patch = photo[r:r + WINDOW, c:c + WINDOW]
        k = WINDOW // SIDE
        image = patch.reshape(SIDE, k, SIDE, k).mean(axis=(1, 3))
        span = image.max() - image.min()
        image = (image - image.min()) / span if span > 0 else np.zeros_like(image)
    return np.round(image * LEVELS) / LEVELS


def digits_ood_images(indices) -> torch.Tensor:
    """The OOD points of the given indices, shaped (N, 1, 8, 8), float32."""
    stack = [ood_point(int(i)) for i in np.asarray(indices).reshape(-1)]
    if not stack:
        return torch.empty((0, 1, SIDE, SIDE))
    return torch.from_numpy(np.stack(stack)[:, None].astype(np.float32))
