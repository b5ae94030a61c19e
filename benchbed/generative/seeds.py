"""Class-conditional seeds for sampling (science.md section 3), fitted on a track's training split.

Three kinds:

- ``pca`` (the papers' "simple method", the default): per class y, the PCA of that class's flattened
  training images, keeping the leading components up to ``retained_variance`` (95%) of the variance;
  ``x0 = mean_y + sum_i s_i a_i u_i`` with ``a_i ~ N(0, scale^2)`` (scale 0.005), ``s_i`` the singular
  values of the centred class data matrix (rows = images) and ``u_i`` its principal directions.
  Note that the singular values grow with the number of class images (s_i = sqrt(n_y - 1) * std_i),
  so the spread of the seeds around the class mean is sqrt(n_y - 1) * 0.005 standard deviations.
- ``gaussian`` (Santurkar et al. 2019, JEM++): x0 ~ N(mean_y, cov_y + 1e-4 I), the class's mean and
  (unbiased) covariance.
- ``uniform``: x0 ~ U[0, 1] per pixel.

Every seed is clipped to [0, 1]. Draws come from the ``torch.Generator`` passed in, never from the
global RNG.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..errors import ConfigError

SEED_KINDS = ("pca", "gaussian", "uniform")
GAUSSIAN_JITTER = 1e-4  # added to the class covariance's diagonal


@dataclass
class ClassBasis:
    """One class's mean and principal directions (rows of ``directions``), with singular values."""

    mean: torch.Tensor  # (D,)
    singular_values: torch.Tensor  # (k,)
    directions: torch.Tensor  # (k, D), orthonormal rows
    n_images: int


@dataclass
class SeedModel:
    kind: str
    image_shape: tuple[int, int, int]
    num_classes: int
    scale: float = 0.005  # std of the PCA multipliers a_i
    classes: list[ClassBasis] = field(default_factory=list)  # empty for "uniform"

    @property
    def dim(self) -> int:
        c, h, w = self.image_shape
        return c * h * w

    def components(self) -> list[int]:
        """Number of kept components per class (PCA) or of directions (gaussian)."""
        return [int(b.directions.shape[0]) for b in self.classes]

    def draw(self, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Seeds for ``labels`` (CPU int64), shaped (N, C, H, W), float32 in [0, 1], on the CPU.

        Classes are drawn in increasing order (all seeds of class 0, then class 1, ...), so the
        result depends only on the labels and the generator's state.
        """
        labels = torch.as_tensor(labels, dtype=torch.int64).cpu()
        n = int(labels.numel())
        if self.kind == "uniform":
            flat = torch.rand((n, self.dim), generator=generator, dtype=torch.float32)
        else:
            flat = torch.empty((n, self.dim), dtype=torch.float32)
            for y in range(self.num_classes):
                where = torch.nonzero(labels == y).flatten()
                if where.numel() == 0:
                    continue
                basis = self.classes[y]
                k = basis.directions.shape[0]
                if self.kind == "pca":
                    a = torch.randn((where.numel(), k), generator=generator, dtype=torch.float32) * self.scale
                    x = basis.mean + (a * basis.singular_values) @ basis.directions
                else:  # gaussian: cov = V diag(s^2 / (n - 1)) V^T + jitter I, sampled without forming it
                    z = torch.randn((where.numel(), k), generator=generator, dtype=torch.float32)
                    e = torch.randn((where.numel(), self.dim), generator=generator, dtype=torch.float32)
                    std = basis.singular_values / max(1, basis.n_images - 1) ** 0.5
                    x = basis.mean + (z * std) @ basis.directions + GAUSSIAN_JITTER ** 0.5 * e
                flat[where] = x
        return flat.clamp_(0.0, 1.0).reshape(n, *self.image_shape)


def _class_basis(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = x.reshape(x.shape[0], -1).double()
    mean = x.mean(0)
    _, s, vh = torch.linalg.svd(x - mean, full_matrices=False)  # fitted in float64, kept in float32
    return mean.float(), s.float(), vh.float()


def kept_components(singular_values: torch.Tensor, retained_variance: float) -> int:
    """The fewest leading components whose share of the variance reaches ``retained_variance``."""
    var = singular_values.double() ** 2
    total = float(var.sum())
    if total <= 0.0:
        return 1
    cumulative = torch.cumsum(var, 0) / total
    k = int(torch.searchsorted(cumulative, torch.tensor([retained_variance], dtype=torch.float64) - 1e-12)) + 1
    return max(1, min(k, int(var.numel())))


def fit_seeds(kind: str, images: torch.Tensor, labels: torch.Tensor, num_classes: int, *,
              retained_variance: float = 0.95, scale: float = 0.005) -> SeedModel:
    """Fit a seed model of ``kind`` on training ``images`` (N, C, H, W) in [0, 1] with ``labels``."""
    if kind not in SEED_KINDS:
        raise ConfigError(f"unknown generation seed kind {kind!r}: use one of {', '.join(SEED_KINDS)}")
    if not 0.0 < retained_variance <= 1.0:
        raise ConfigError(f"generation retained_variance must be in (0, 1], got {retained_variance}")
    shape = tuple(int(d) for d in images.shape[1:])
    model = SeedModel(kind=kind, image_shape=shape, num_classes=num_classes, scale=scale)
    if kind == "uniform":
        return model
    labels = torch.as_tensor(labels).cpu()
    for y in range(num_classes):
        x = images[labels == y]
        if len(x) < 2:
            raise ConfigError(f"cannot fit {kind} seeds: class {y} has {len(x)} training image(s), at least 2 "
                              f"are needed; use seed_kind='uniform' for this track")
        mean, s, vh = _class_basis(x)
        if kind == "pca":
            k = kept_components(s, retained_variance)
            s, vh = s[:k], vh[:k]
        model.classes.append(ClassBasis(mean=mean, singular_values=s, directions=vh, n_images=len(x)))
    return model
