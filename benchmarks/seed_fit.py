"""Time the per-class PCA seed fit: the old full SVD vs benchbed's fit (randomized top-k) and a cache hit.

    python benchmarks/seed_fit.py [--classes-old N] [--threads T]

Data: the digits training split, and a synthetic CIFAR-sized array (50,000 x 3 x 32 x 32, 10 classes of
5,000) of low-pass noise (coarse 8x8 noise upsampled, plus 2% fine noise), whose spectrum decays like
natural images'. The old method (float64 full SVD of each class) is timed on ``--classes-old`` classes
and extrapolated to 10. Prints JSON.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch

from benchbed.builtin.dataset_loaders import load_digits_split
from benchbed.generative.seeds import _class_basis, cached_fit_seeds


def synthetic_cifar(n: int = 50_000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand((n, 3, 8, 8), generator=g)
    x = torch.nn.functional.interpolate(coarse, size=(32, 32), mode="bilinear", align_corners=False)
    x = (x + 0.02 * torch.rand((n, 3, 32, 32), generator=g)).clamp(0, 1)
    return x, torch.arange(n) % 10


def time_old(images, labels, classes: int) -> float:
    start = time.perf_counter()
    for y in range(classes):
        _class_basis(images[labels == y])
    return time.perf_counter() - start


def time_new(images, labels, name: str) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        model = cached_fit_seeds("pca", images, labels, 10, cache_dir=cache, dataset=name)
        fit = time.perf_counter() - start
        start = time.perf_counter()
        cached_fit_seeds("pca", images, labels, 10, cache_dir=cache, dataset=name)
        hit = time.perf_counter() - start
    return {"fit_s": round(fit, 2), "cache_hit_s": round(hit, 2), "components": model.components()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--classes-old", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = {"threads": args.threads}
    digits = load_digits_split("train")
    out["digits"] = {"old_full_svd_s": round(time_old(digits.images, digits.labels, 10), 3),
                     **time_new(digits.images, digits.labels, "digits")}
    x, y = synthetic_cifar()
    old = time_old(x, y, args.classes_old)
    out["cifar_sized"] = {"old_full_svd_s_per_class": round(old / args.classes_old, 1),
                          "old_full_svd_s_10_classes_extrapolated": round(10 * old / args.classes_old, 1),
                          **time_new(x, y, "synthetic")}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
