"""Class-conditional seeds for sampling (docs/science.md, "Seeds"), fitted on a track's training split.

Three kinds:

- ``pca`` (the papers' "simple method", the default): per class y, the PCA of that class's flattened
  training images, keeping the leading components whose cumulative share of the variance stays
  strictly below ``retained_variance`` (95%) -- Mirza et al.'s ``argmin(cum_energy < r)`` cut, which
  leaves out the component that crosses r (and keeps none when the first one already does: the seed
  is then the class mean);
  ``x0 = mean_y + sum_i s_i a_i u_i`` with ``a_i ~ N(0, scale^2)`` (scale 0.005), ``s_i`` the singular
  values of the centred class data matrix (rows = images) and ``u_i`` its principal directions.
  Note that the singular values grow with the number of class images (s_i = sqrt(n_y - 1) * std_i),
  so the spread of the seeds around the class mean is sqrt(n_y - 1) * 0.005 standard deviations.
- ``gaussian`` (Santurkar et al. 2019, JEM++): x0 ~ N(mean_y, cov_y + 1e-4 I), the class's mean and
  covariance normalised by n (Mirza et al.'s ``sub.t() @ sub / len(imc)``, not n - 1).
- ``uniform``: x0 ~ U[0, 1] per pixel.
- ``file:PATH``: the rows of a seed tensor the user supplies (N, C, H, W) in [0, 1], in file order:
  sample n starts from row n, whatever its class (DAT's ``cifar_fid_imgs_50K.pt`` is such a file, paired
  with class n % K as DAT pairs it). Nothing is fitted or drawn at random.

Every seed is clipped to [0, 1]. Draws come from the ``torch.Generator`` passed in, never from the
global RNG.

Fitting: a class whose data matrix is small (min(n_y, D) <= ``EXACT_LIMIT``, e.g. the digits) gets the
full SVD in float64; a large one (CIFAR: 5,000 x 3,072) gets only its top components, by a seeded
randomized SVD (``torch.svd_lowrank``, 4 power iterations) whose rank doubles until its components
reach ``retained_variance`` of the class's total variance (||X - mean||_F^2, computed exactly). The
fitted model is cached on disk (:func:`cached_fit_seeds`) under ``<cache>/seeds``, keyed by a content
hash of the images, labels and settings, like the fidelity reference statistics: it depends only on
the track's training split, so every model of a run (and every later run) reuses it.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from benchbed.contracts.errors import ConfigError

SEED_KINDS = ("pca", "gaussian", "uniform")
FILE_PREFIX = "file:"  # seed_kind="file:/path/to/seeds.pt": a user-supplied seed tensor (load_seed_file)
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
    classes: list[ClassBasis] = field(default_factory=list)  # empty for "uniform" and "file"
    rows: torch.Tensor | None = None  # "file": the supplied seeds, (N, C, H, W), used in order

    @property
    def dim(self) -> int:
        c, h, w = self.image_shape
        return c * h * w

    def components(self) -> list[int]:
        """Number of kept components per class (PCA) or of directions (gaussian)."""
        return [int(b.directions.shape[0]) for b in self.classes]

    def draw(self, labels: torch.Tensor, generator: torch.Generator, start: int = 0) -> torch.Tensor:
        """Seeds for ``labels`` (CPU int64), shaped (N, C, H, W), float32 in [0, 1], on the CPU.

        Classes are drawn in increasing order (all seeds of class 0, then class 1, ...), so the
        result depends only on the labels and the generator's state. ``start``: the index of the
        first of these samples in the whole request (a seed file's rows are taken from there).
        """
        labels = torch.as_tensor(labels, dtype=torch.int64).cpu()
        n = int(labels.numel())
        if self.kind == "file":
            if start + n > len(self.rows):
                raise ConfigError(f"the seed file holds {len(self.rows)} seeds but sample {start + n - 1} needs row "
                                  f"{start + n - 1}: supply a file with at least as many seeds as samples")
            return self.rows[start:start + n].clone()
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
                else:  # gaussian: cov = V diag(s^2 / n) V^T + jitter I, sampled without forming it
                    z = torch.randn((where.numel(), k), generator=generator, dtype=torch.float32)
                    e = torch.randn((where.numel(), self.dim), generator=generator, dtype=torch.float32)
                    std = basis.singular_values / max(1, basis.n_images) ** 0.5
                    x = basis.mean + (z * std) @ basis.directions + GAUSSIAN_JITTER ** 0.5 * e
                flat[where] = x
        return flat.clamp_(0.0, 1.0).reshape(n, *self.image_shape)


EXACT_LIMIT = 512  # min(n, D) up to which a class gets the full SVD (digits: 64); above, randomized top-k
LOWRANK_START = 64  # first rank tried by the randomized SVD (doubled until the variance is reached)
LOWRANK_OVERSAMPLE = 10
LOWRANK_ITERATIONS = 4
LOWRANK_SEED = 0
SEED_CACHE_VERSION = "benchbed-seeds-v2"  # v2: components strictly below the retained variance


def _class_basis(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = x.reshape(x.shape[0], -1).double()
    mean = x.mean(0)
    _, s, vh = torch.linalg.svd(x - mean, full_matrices=False)  # fitted in float64, kept in float32
    return mean.float(), s.float(), vh.float()


def _top_basis(x: torch.Tensor, retained_variance: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean, singular values and directions of the leading components of ``x`` that reach
    ``retained_variance`` of its total variance: a randomized SVD of growing rank (deterministic: its
    random projections come from a fixed seed, never the caller's RNG)."""
    x = x.reshape(x.shape[0], -1).float()
    mean = x.double().mean(0).float()
    xc = x - mean
    total = float(xc.double().pow(2).sum())
    limit = min(xc.shape)
    q = min(LOWRANK_START, limit)
    while True:
        if q + LOWRANK_OVERSAMPLE >= limit:  # nothing left to save: the exact decomposition
            _, s, vh = torch.linalg.svd(xc.double(), full_matrices=False)
            return mean, s.float(), vh.float()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(LOWRANK_SEED)
            _, s, v = torch.svd_lowrank(xc, q=q + LOWRANK_OVERSAMPLE, niter=LOWRANK_ITERATIONS)
        if total <= 0.0 or float(s.double().pow(2)[:q].sum()) >= retained_variance * total:
            return mean, s[:q].contiguous(), v[:, :q].T.contiguous()
        q *= 2


def kept_components(singular_values: torch.Tensor, retained_variance: float, total: float | None = None) -> int:
    """The leading components whose cumulative share of the variance (of ``total``, default: of the given
    values) stays strictly below ``retained_variance``: Mirza et al.'s cut ``argmin(cum_energy < r)``.

    One deliberate difference: when every component stays below r (r = 1, or rounding), the official
    ``argmin`` of an all-True array gives 0 components; benchbed keeps them all."""
    var = singular_values.double() ** 2
    total = float(var.sum()) if total is None else float(total)
    if total <= 0.0:
        return 0
    below = torch.cumsum(var, 0) / total < retained_variance
    return int(var.numel()) if bool(below.all()) else int(below.sum())


def load_seed_file(path: str, image_shape: tuple[int, ...], num_classes: int) -> SeedModel:
    """The seed model of a user-supplied seed tensor file (``seed_kind="file:PATH"``), checked."""
    where = Path(path).expanduser()
    if not where.is_file():
        raise ConfigError(f"seed file {str(where)!r} not found: seed_kind 'file:PATH' needs a tensor file of seeds "
                          f"(N, {', '.join(map(str, image_shape))}) in [0, 1], e.g. DAT's cifar_fid_imgs_50K.pt")
    try:
        rows = torch.load(where, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConfigError(f"seed file {str(where)!r} could not be read as a torch tensor file ({exc})") from None
    rows = rows.get("seeds", rows.get("images")) if isinstance(rows, dict) else rows
    if not isinstance(rows, torch.Tensor) or rows.dim() != 4 or tuple(rows.shape[1:]) != tuple(image_shape):
        got = tuple(rows.shape) if isinstance(rows, torch.Tensor) else type(rows).__name__
        raise ConfigError(f"seed file {str(where)!r} holds {got}, expected a tensor (N, "
                          f"{', '.join(map(str, image_shape))}) of seeds in [0, 1]")
    rows = rows.float() / 255.0 if rows.dtype == torch.uint8 else rows.float()
    if not torch.isfinite(rows).all() or float(rows.min()) < 0.0 or float(rows.max()) > 1.0:
        raise ConfigError(f"seed file {str(where)!r}: pixels must be finite and in [0, 1] (or uint8)")
    return SeedModel(kind="file", image_shape=tuple(image_shape), num_classes=num_classes, rows=rows.contiguous())


def fit_seeds(kind: str, images: torch.Tensor, labels: torch.Tensor, num_classes: int, *,
              retained_variance: float = 0.95, scale: float = 0.005) -> SeedModel:
    """Fit a seed model of ``kind`` on training ``images`` (N, C, H, W) in [0, 1] with ``labels``."""
    if kind.startswith(FILE_PREFIX):
        return load_seed_file(kind[len(FILE_PREFIX):], tuple(int(d) for d in images.shape[1:]), num_classes)
    if kind not in SEED_KINDS:
        raise ConfigError(f"unknown generation seed kind {kind!r}: use one of {', '.join(SEED_KINDS)} or "
                          f"'{FILE_PREFIX}PATH'")
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
        if kind == "pca" and min(len(x), x[0].numel()) > EXACT_LIMIT:
            mean, s, vh = _top_basis(x, retained_variance)
            total = float((x.reshape(len(x), -1).double() - mean.double()).pow(2).sum())
            k = kept_components(s, retained_variance, total)
        else:
            mean, s, vh = _class_basis(x)
            k = kept_components(s, retained_variance) if kind == "pca" else len(s)
        model.classes.append(ClassBasis(mean=mean, singular_values=s[:k], directions=vh[:k], n_images=len(x)))
    return model


def seed_cache_name(kind: str, images: torch.Tensor, labels: torch.Tensor, num_classes: int, *,
                    retained_variance: float, dataset: str = "", split: str = "train") -> str:
    """A file name that changes whenever the images, labels, kind, class count or variance change."""
    digest = hashlib.sha256()
    digest.update(f"{SEED_CACHE_VERSION}|{kind}|{num_classes}|{retained_variance!r}|{EXACT_LIMIT}|"
                  f"{tuple(images.shape)}|{images.dtype}|".encode())
    digest.update(images.detach().cpu().contiguous().numpy().tobytes())
    digest.update(torch.as_tensor(labels, dtype=torch.int64).cpu().contiguous().numpy().tobytes())
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{dataset or 'data'}-{split}-{kind}")
    return f"{safe}-{digest.hexdigest()[:24]}.pt"


def cached_fit_seeds(kind: str, images: torch.Tensor, labels: torch.Tensor, num_classes: int, *,
                     retained_variance: float = 0.95, scale: float = 0.005, cache_dir=None, dataset: str = "",
                     split: str = "train") -> SeedModel:
    """:func:`fit_seeds`, read from ``<cache_dir>/seeds`` when this exact fit was made before (``scale``
    only matters when drawing, so it is not part of the key). ``uniform`` needs no fit and is not cached."""
    if kind == "uniform" or kind not in SEED_KINDS:  # uniform, a seed file or an error: nothing to cache
        return fit_seeds(kind, images, labels, num_classes, retained_variance=retained_variance, scale=scale)
    root = Path(cache_dir) if cache_dir is not None else Path(
        os.environ.get("BENCHBED_CACHE") or Path.home() / ".cache" / "benchbed")
    path = root / "seeds" / seed_cache_name(kind, images, labels, num_classes, retained_variance=retained_variance,
                                            dataset=dataset, split=split)
    if path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            return SeedModel(kind=kind, image_shape=tuple(state["image_shape"]), num_classes=num_classes, scale=scale,
                             classes=[ClassBasis(mean=c["mean"], singular_values=c["singular_values"],
                                                 directions=c["directions"], n_images=int(c["n_images"]))
                                      for c in state["classes"]])
        except Exception:  # a truncated or foreign file: fit again and overwrite it
            pass
    model = fit_seeds(kind, images, labels, num_classes, retained_variance=retained_variance, scale=scale)
    state = {"image_shape": list(model.image_shape),
             "classes": [{"mean": c.mean, "singular_values": c.singular_values, "directions": c.directions,
                          "n_images": c.n_images} for c in model.classes]}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the whole new one
    return model
