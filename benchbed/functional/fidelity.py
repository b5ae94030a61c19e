"""IS / FID / KID from extractor outputs, and their bootstrap over the generated samples (numpy only).

The point estimates follow torch-fidelity 0.4's definitions step for step (a test checks them against
``torch_fidelity.calculate_metrics`` on the same images), so a resample of the generated samples is
scored exactly as the column's number was:

- IS: rows shuffled by ``RandomState(seed).permutation``, cut into ``splits`` contiguous chunks;
  per chunk exp(mean KL(p(y|x) || mean p(y))), in float64; the mean over chunks.
- FID: mu (mean of the features, in their own dtype) and sigma (``np.cov``, float64) of each set;
  |mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr sqrt(sigma1 sigma2).
- KID: the unbiased MMD^2 with the cubic polynomial kernel (x.y / d + 1)^3, averaged over ``subsets``
  pairs of subsets of ``subset_size`` rows drawn without replacement by one ``RandomState(seed)``
  (generated subset, then reference subset, alternately).

The bootstrap resamples the generated samples only: the reference set (a dataset split) is fixed, and
so are its statistics, its KID subsets and the IS shuffle. Each replicate is the column's statistic
recomputed on one resample; the percentile interval is taken by
:func:`benchbed.functional.uncertainty`'s rules.
"""
from __future__ import annotations

import numpy as np
from scipy.special import log_softmax

KID_DEGREE = 3
KID_COEF0 = 1.0
FULL_REFERENCE = 12_000  # reference rows up to which one whole-reference kernel is kept in memory
GATHER_COST = 20  # a scattered look-up costs about this many multiply-adds in a BLAS product


# -- point estimates ---------------------------------------------------------------------------------------
def inception_score(logits: np.ndarray, splits: int = 10, seed: int = 0, shuffle: bool = True) -> float:
    """The Inception Score of class logits (n, classes): mean over ``splits`` chunks."""
    x = np.asarray(logits)
    n = x.shape[0]
    if shuffle:
        x = x[np.random.RandomState(seed).permutation(n)]
    log_p = log_softmax(x.astype(np.float64), axis=1)
    return _split_scores(log_p, splits).mean()


def _split_scores(log_p: np.ndarray, splits: int) -> np.ndarray:
    n = log_p.shape[0]
    p = np.exp(log_p)
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        q = p[lo:hi].mean(axis=0, keepdims=True)
        kl = (p[lo:hi] * (log_p[lo:hi] - np.log(q))).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return np.asarray(scores)


def fid_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) of features (n, d) as torch-fidelity computes them (sigma: unbiased, float64)."""
    f = np.asarray(features)
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """FID of two Gaussians, tr sqrt(sigma1 sigma2) from the eigenvalues of the product (torch-fidelity's way)."""
    diff = mu1 - mu2
    tr_covmean = np.sum(np.sqrt(np.linalg.eigvals(sigma1.dot(sigma2)).astype("complex128")).real)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def fid(features: np.ndarray, ref_mu: np.ndarray, ref_sigma: np.ndarray) -> float:
    mu, sigma = fid_statistics(features)
    return frechet_distance(mu, sigma, ref_mu, ref_sigma)


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + KID_COEF0) ** KID_DEGREE


def kid_subset_draws(n: int, n_ref: int, subsets: int, subset_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (subsets, subset_size) row choices of the generated and the reference set, drawn in KID's order."""
    rng = np.random.RandomState(seed)
    gen, ref = [], []
    for _ in range(subsets):
        gen.append(rng.choice(n, subset_size, replace=False))
        ref.append(rng.choice(n_ref, subset_size, replace=False))
    return np.asarray(gen), np.asarray(ref)


def unbiased_mmd2(k_xx: np.ndarray, k_xy: np.ndarray, k_yy: np.ndarray) -> float:
    """Unbiased MMD^2 of two equal-size sets from their kernel matrices (diagonals of k_xx, k_yy left out)."""
    m = k_xx.shape[0]
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2 * k_xy.sum() / (m * m))


def kid(features: np.ndarray, ref_features: np.ndarray, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> float:
    """KID: the unbiased polynomial-kernel MMD^2 averaged over ``subsets`` random subset pairs."""
    x, y = np.asarray(features), np.asarray(ref_features)
    gen, ref = kid_subset_draws(len(x), len(y), subsets, subset_size, seed)
    return float(np.mean([unbiased_mmd2(polynomial_kernel(x[g], x[g]), polynomial_kernel(x[g], y[r]),
                                        polynomial_kernel(y[r], y[r])) for g, r in zip(gen, ref)]))


# -- bootstrap replicates over the generated samples -----------------------------------------------------
def inception_score_replicates(logits: np.ndarray, indices: np.ndarray, splits: int = 10, seed: int = 0,
                               shuffle: bool = True) -> np.ndarray:
    """IS of each resample ``logits[row]`` for the rows of ``indices`` (resamples, n)."""
    log_p = log_softmax(np.asarray(logits).astype(np.float64), axis=1)
    order = np.random.RandomState(seed).permutation(log_p.shape[0]) if shuffle else slice(None)
    return np.array([_split_scores(log_p[row][order], splits).mean() for row in indices])


def fid_replicates(features: np.ndarray, ref_mu: np.ndarray, ref_sigma: np.ndarray,
                   indices: np.ndarray, device="cpu") -> np.ndarray:
    """FID of each resample ``features[row]`` against the fixed reference (mu, sigma), in float64 on
    ``device`` (a GPU takes the n x d^2 covariance and d x d eigendecomposition of Inception's features).

    tr sqrt(sigma1 sigma2) = sum sqrt(eig(S sigma1 S)) with S = sqrt(sigma2) symmetric: the reference's
    root is taken once and each resample needs one symmetric eigendecomposition (the eigenvalues
    equal those of sigma1 sigma2; tiny negative ones from rounding count as 0)."""
    import torch

    as64 = dict(dtype=torch.float64, device=device)
    w, v = torch.linalg.eigh(torch.as_tensor(np.asarray(ref_sigma), **as64))
    root = (v * w.clamp(min=0).sqrt()) @ v.T
    mu_ref = torch.as_tensor(np.asarray(ref_mu), **as64)
    tr_ref = torch.trace(torch.as_tensor(np.asarray(ref_sigma), **as64))
    f = torch.as_tensor(np.asarray(features), device=device)
    out = np.empty(len(indices))
    for i, row in enumerate(indices):
        x = f[torch.as_tensor(np.asarray(row), device=device)]
        mu = x.mean(dim=0).to(torch.float64)  # torch-fidelity: the mean in the features' own dtype
        centred = x.to(torch.float64) - x.to(torch.float64).mean(dim=0)
        sigma = centred.T @ centred / (x.shape[0] - 1)
        eig = torch.linalg.eigvalsh(root @ sigma @ root)
        diff = mu - mu_ref
        out[i] = float(diff @ diff + torch.trace(sigma) + tr_ref - 2 * eig.clamp(min=0).sqrt().sum())
    return out


def kid_replicates(features: np.ndarray, ref_features: np.ndarray, indices: np.ndarray, subsets: int = 100,
                   subset_size: int = 1000, seed: int = 0, device="cpu") -> np.ndarray:
    """KID of each resample ``features[row]`` with the point estimate's subset draws (same seed).

    The kernel among all generated samples (n x n) and each generated sample's kernel sum against each
    reference subset are computed once; a resample then only re-indexes them, so a replicate costs
    subsets x subset_size^2 look-ups, not kernel evaluations. The kernels are computed on ``device``."""
    x, y = np.asarray(features, dtype=np.float64), np.asarray(ref_features, dtype=np.float64)
    gen, ref = kid_subset_draws(len(x), len(y), subsets, subset_size, seed)
    m = subset_size
    kernel = _kernel_on(device)
    k_xx = kernel(x, x)
    diag = np.diagonal(k_xx)
    to_ref, within_ref = _reference_sums(x, y, ref, kernel)
    cols = np.arange(subsets)[:, None]
    n = len(x)
    by_counts = n * n <= GATHER_COST * m * m  # a BLAS product beats m^2 scattered look-ups up to here
    cache: dict = {}
    out = np.empty(len(indices))
    for i, row in enumerate(indices):
        picked = np.asarray(row)[gen]  # (subsets, m): the original sample in each subset slot
        if m == n:  # every subset holds the whole resample (in another order): one quadratic form
            counts = np.bincount(row, minlength=n).astype(np.float64)
            pairs = np.full(subsets, counts @ k_xx @ counts)
        elif by_counts:  # sum over slot pairs of k = c^T K c, c = how often each sample fills a slot
            counts = np.zeros((subsets, n))
            np.add.at(counts, (np.repeat(np.arange(subsets), m), picked.ravel()), 1.0)
            pairs = np.einsum("sn,sn->s", counts @ k_xx, counts)
        else:
            pairs = _slot_pair_sums(k_xx, picked, device, cache)
        within = pairs - diag[picked].sum(axis=1)
        cross = to_ref[picked, cols].sum(axis=1)
        out[i] = float(np.mean((within + within_ref) / (m * (m - 1)) - 2 * cross / (m * m)))
    return out


def _slot_pair_sums(k_xx: np.ndarray, picked: np.ndarray, device, cache: dict) -> np.ndarray:
    """sum_{a,b} K[picked[s, a], picked[s, b]] per subset s: m^2 look-ups each (2.3 s for 100 subsets of
    1000 on one CPU core); off the CPU by torch on ``device``, a few subsets at a time to bound memory."""
    if str(device) == "cpu":  # numpy's look-ups are faster than torch's on a CPU
        return np.array([k_xx[np.ix_(p, p)].sum() for p in picked])
    import torch

    if "k" not in cache:
        cache["k"] = torch.as_tensor(k_xx, device=device)
    k = cache["k"]
    rows = torch.as_tensor(picked, device=device)
    step = max(1, int(2e7 // (rows.shape[1] ** 2)))
    sums = [k[r[:, :, None], r[:, None, :]].sum(dim=(1, 2)) for r in torch.split(rows, step)]
    return torch.cat(sums).cpu().numpy()


def _kernel_on(device):
    """polynomial_kernel in float64 on ``device`` (numpy in, numpy out)."""
    if str(device) == "cpu":
        return polynomial_kernel
    import torch

    def kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        tx, ty = (torch.as_tensor(a, dtype=torch.float64, device=device) for a in (x, y))
        return polynomial_kernel(tx, ty).cpu().numpy()

    return kernel


def _reference_sums(x: np.ndarray, y: np.ndarray, ref: np.ndarray, kernel=polynomial_kernel):
    """Per reference subset r: each generated sample's kernel sum against r (n, subsets), and the sum
    of r's kernel off the diagonal (subsets,). One kernel over the whole reference where it fits
    (FULL_REFERENCE rows), else one per subset."""
    if len(y) > FULL_REFERENCE:
        to_ref = np.stack([kernel(x, y[r]).sum(axis=1) for r in ref], axis=1)
        within = np.array([(lambda k: k.sum() - np.trace(k))(kernel(y[r], y[r])) for r in ref])
        return to_ref, within
    member = np.zeros((len(ref), len(y)))
    member[np.repeat(np.arange(len(ref)), ref.shape[1]), ref.ravel()] = 1.0
    k_yy = kernel(y, y)
    within = np.einsum("sn,sn->s", member @ k_yy, member) - member @ np.diagonal(k_yy)
    return kernel(x, y) @ member.T, within
