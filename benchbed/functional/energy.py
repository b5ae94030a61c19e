"""The energy lens as pure functions (docs/science.md, sections 1 and 2).

A classifier's logits f(x) read as an energy-based model with temperature 1:

- marginal energy  E(x)    = -logsumexp_k f(x)[k]
- joint energy     E(x, y) = -f(x)[y]
- energy gap       dE(x)   = E(x) - E(x*)   and   dE(x, y) = E(x, y) - E(x*, y)

for a natural point x and an adversarial x* of it. With this sign, an untargeted attack (which
pushes E(x*) below E(x)) gives dE > 0 and a targeted one (which pushes E(x*) above E(x)) dE < 0.

Everything is computed in float64 (logits are upcast before the logsumexp, so logits of 1e4 neither
overflow nor lose the digits that a float32 energy would drop). Inputs may be torch tensors or numpy
arrays; outputs are numpy float64. Thin stateful wrappers (the ``energy`` metric plugin in
:mod:`benchbed.builtin.energy`) read logits from the evaluation context and call these.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "marginal_energy", "joint_energy", "energy_gap", "wasserstein_1", "mean_std",
    "natural_statistics", "gap_statistics", "energy_statistics", "STAT_KEYS",
    "scale_free", "normalised_statistics", "NORMALISED_KEYS", "trades_decomposition",
]


def _as_numpy(values: Any, dtype) -> np.ndarray:
    """A numpy copy of a torch tensor (any device) or array-like, as ``dtype``."""
    try:
        import torch

        if isinstance(values, torch.Tensor):
            # convert in torch: numpy has no bfloat16, which mixed-precision models may return
            torch_dtype = torch.float64 if dtype is np.float64 else torch.int64
            return values.detach().to(device="cpu", dtype=torch_dtype).numpy()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return np.asarray(values, dtype=dtype)


def _as_float64(values: Any) -> np.ndarray:
    return _as_numpy(values, np.float64)


def _as_int64(values: Any) -> np.ndarray:
    return _as_numpy(values, np.int64)


def _logits_2d(logits: Any) -> np.ndarray:
    z = _as_float64(logits)
    if z.ndim != 2:
        raise ValueError(f"logits must be shaped (N, K), got shape {z.shape}")
    return z


def marginal_energy(logits: Any) -> np.ndarray:
    """E(x) = -logsumexp_k f(x)[k] per row, in float64, stable for any finite logits.

    logsumexp(z) = m + log(sum_k exp(z_k - m)) with m = max_k z_k: every exponent is <= 0, and the
    sum is >= 1, so nothing overflows or underflows to log(0).
    """
    z = _logits_2d(logits)
    if z.shape[0] == 0:
        return np.empty(0, dtype=np.float64)
    m = z.max(axis=1, keepdims=True)
    return -(m[:, 0] + np.log(np.exp(z - m).sum(axis=1)))


def joint_energy(logits: Any, labels: Any) -> np.ndarray:
    """E(x, y) = -f(x)[y] per row, in float64."""
    z = _logits_2d(logits)
    y = _as_int64(labels).reshape(-1)
    if y.shape[0] != z.shape[0]:
        raise ValueError(f"{z.shape[0]} rows of logits but {y.shape[0]} labels")
    return -z[np.arange(z.shape[0]), y]


def energy_gap(natural: Any, adversarial: Any) -> np.ndarray:
    """dE = E(x) - E(x*) elementwise (works for marginal and joint energies alike)."""
    a, b = _as_float64(natural), _as_float64(adversarial)
    if a.shape != b.shape:
        raise ValueError(f"natural and adversarial energies differ in shape: {a.shape} vs {b.shape}")
    return a - b


def mean_std(values: Any) -> tuple[float, float]:
    """(mean, population std with ddof=0) in float64; (nan, nan) for an empty sample."""
    v = _as_float64(values).reshape(-1)
    if v.size == 0:
        return math.nan, math.nan
    mean = float(v.mean())
    return mean, float(np.sqrt(np.mean((v - mean) ** 2)))


def wasserstein_1(a: Any, b: Any) -> float:
    """1-Wasserstein distance between the empirical distributions of two 1-D samples.

    W1(P, Q) = integral over q in (0, 1) of |F_P^-1(q) - F_Q^-1(q)| dq
             = integral over t of |F_P(t) - F_Q(t)| dt.

    Equal sizes n: the quantile functions are step functions on the same n steps, so
    W1 = (1/n) sum_i |a_(i) - b_(i)| (sorted samples). Unequal sizes: the second form, integrating
    the difference of the two empirical CDFs exactly between consecutive pooled values. Returns nan
    when either sample is empty.
    """
    x = np.sort(_as_float64(a).reshape(-1))
    y = np.sort(_as_float64(b).reshape(-1))
    if x.size == 0 or y.size == 0:
        return math.nan
    if x.size == y.size:
        return float(np.mean(np.abs(x - y)))
    pooled = np.sort(np.concatenate([x, y]))
    widths = np.diff(pooled)
    cdf_x = np.searchsorted(x, pooled[:-1], side="right") / x.size
    cdf_y = np.searchsorted(y, pooled[:-1], side="right") / y.size
    return float(np.sum(np.abs(cdf_x - cdf_y) * widths))


STAT_KEYS = ("n", "adv_mean", "adv_std", "gap_mean", "gap_std", "abs_gap_mean", "joint_gap_mean",
             "joint_gap_std", "w1")


def natural_statistics(natural_logits: Any) -> dict[str, float]:
    """Mean and std of the natural marginal energy E(x) over all points."""
    mean, std = mean_std(marginal_energy(natural_logits))
    return {"nat_mean": mean, "nat_std": std}


def gap_statistics(natural_logits: Any, adversarial_logits: Any, labels: Any) -> dict[str, float]:
    """Statistics of one attack kind over paired points (row i of both logits is the same point).

    The logits-level entry point of :func:`energy_statistics`.
    """
    return energy_statistics(marginal_energy(natural_logits), marginal_energy(adversarial_logits),
                             joint_energy(natural_logits, labels), joint_energy(adversarial_logits, labels))


def energy_statistics(e_nat: Any, e_adv: Any, j_nat: Any, j_adv: Any) -> dict[str, float]:
    """Statistics of one attack kind from paired per-point energies (natural vs adversarial).

    Keys (see ``STAT_KEYS``): ``n`` points; ``adv_mean``/``adv_std`` of E(x*); ``gap_mean``/
    ``gap_std`` of dE(x) = E(x) - E(x*); ``abs_gap_mean`` = mean |dE(x)|; ``joint_gap_mean``/
    ``joint_gap_std`` of dE(x, y) = E(x, y) - E(x*, y); ``w1`` = 1-Wasserstein distance between the
    natural and adversarial marginal-energy samples of these points. Every value but ``n`` is nan
    when there are no points. Taking energies (not logits) lets sharded runs recompute the numbers
    from the stored per-point arrays.
    """
    e_nat, e_adv = _as_float64(e_nat).reshape(-1), _as_float64(e_adv).reshape(-1)
    gap = energy_gap(e_nat, e_adv)
    joint_gap = energy_gap(_as_float64(j_nat).reshape(-1), _as_float64(j_adv).reshape(-1))
    adv_mean, adv_std = mean_std(e_adv)
    gap_mean, gap_std = mean_std(gap)
    joint_gap_mean, joint_gap_std = mean_std(joint_gap)
    return {
        "n": float(gap.size),
        "adv_mean": adv_mean,
        "adv_std": adv_std,
        "gap_mean": gap_mean,
        "gap_std": gap_std,
        "abs_gap_mean": float(np.mean(np.abs(gap))) if gap.size else math.nan,
        "joint_gap_mean": joint_gap_mean,
        "joint_gap_std": joint_gap_std,
        "w1": wasserstein_1(e_nat, e_adv),
    }


# normalised key -> (statistic of energy_statistics, which natural spread divides it)
NORMALISED_KEYS = {
    "w1_rel": ("w1", "marginal"),
    "abs_gap_rel": ("abs_gap_mean", "marginal"),
    "gap_std_rel": ("gap_std", "marginal"),
    "joint_gap_std_rel": ("joint_gap_std", "joint"),
}


def scale_free(value: float, natural_std: float) -> float:
    """``value / natural_std``: an energy-unit statistic in units of the model's own natural spread.

    |dE|, std dE and W1 are in logit units, so a model with small logits looks "aligned" for free;
    dividing by the std of its natural energies removes that scale (multiplying all logits by c > 0
    multiplies both by c). NaN when the spread is zero or not finite (no scale to compare with).
    """
    if not (math.isfinite(natural_std) and natural_std > 0):
        return math.nan
    return float(value) / natural_std


def normalised_statistics(stats: dict[str, float], e_nat_all: Any, j_nat_all: Any) -> dict[str, float]:
    """The scale-free companions (``NORMALISED_KEYS``) of :func:`energy_statistics`' output.

    Marginal statistics are divided by the std of E(x) over *all* natural test points, the joint one by
    the std of E(x, y) over all natural test points: one scale per model, whichever points a kind covers.
    """
    spread = {"marginal": mean_std(e_nat_all)[1], "joint": mean_std(j_nat_all)[1]}
    return {key: scale_free(stats[stat], spread[which]) for key, (stat, which) in NORMALISED_KEYS.items()}


def trades_decomposition(natural_logits: Any, adversarial_logits: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per point: (KL(p(.|x) || p(.|x*)), joint-energy term, marginal term), docs/science.md "TRADES".

    With log p(k|x) = f(x)[k] + E(x) = -E(x, k) + E(x):

        KL = sum_k p(k|x) [E(x*, k) - E(x, k)]  +  (E(x) - E(x*))
           = joint-energy term                  +  marginal gap dE(x)

    so TRADES' KL penalises the marginal energy gap implicitly. The KL itself is computed directly
    from log-softmax (not as the sum), so the identity is a check, not a definition.
    """
    z, z_adv = _logits_2d(natural_logits), _logits_2d(adversarial_logits)
    if z.shape != z_adv.shape:
        raise ValueError(f"natural and adversarial logits differ in shape: {z.shape} vs {z_adv.shape}")
    e_nat, e_adv = marginal_energy(z), marginal_energy(z_adv)
    log_p = z + e_nat[:, None]
    log_q = z_adv + e_adv[:, None]
    p = np.exp(log_p)
    kl = np.sum(p * (log_p - log_q), axis=1)
    joint_term = np.sum(p * ((-z_adv) - (-z)), axis=1)
    return kl, joint_term, e_nat - e_adv
