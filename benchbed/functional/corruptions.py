"""Common-corruption statistics from per-point arrays (pure functions).

Arrays: ``correct`` (N, C, S) bool -- test point i under corruption c at severity s is classified
correctly; ``e_nat`` (N,) the marginal energy E(x) = -logsumexp f(x) of the clean point; ``e_cor``
(N, C, S) the energy of its corrupted copy. Every number is computed from the whole arrays, so a
sharded run (arrays concatenated along N) gives exactly the unsharded numbers.
"""
from __future__ import annotations

import math

import numpy as np

from benchbed.functional.detection import auroc
from benchbed.functional.energy import wasserstein_1


def _cube(values) -> np.ndarray:
    a = np.asarray(values)
    if a.ndim != 3:
        raise ValueError(f"expected per-point arrays shaped (N, corruptions, severities), got shape {a.shape}")
    return a


def accuracy(correct, corruption: int | None = None, severity: int | None = None) -> float:
    """Percent correct over the points and the selected corruption / severity (None: all of them).

    With every (corruption, severity) on the same N points this is the mean of the per-pair
    accuracies -- RobustBench's corruption accuracy when nothing is selected."""
    c = _cube(correct).astype(bool)
    if corruption is not None:
        c = c[:, corruption:corruption + 1]
    if severity is not None:
        c = c[:, :, severity:severity + 1]
    return 100.0 * float(c.mean()) if c.size else math.nan


def _severity_energies(e_cor, severity: int) -> np.ndarray:
    """Corrupted energies at one severity, pooled over corruptions (N * C values)."""
    return _cube(e_cor)[:, :, severity].astype(np.float64).reshape(-1)


def mean_energy(e_cor, severity: int) -> float:
    v = _severity_energies(e_cor, severity)
    return float(v.mean()) if v.size else math.nan


def mean_energy_shift(e_nat, e_cor, severity: int) -> float:
    """Mean over points and corruptions of E(corrupted x) - E(x): > 0 when corruption raises energy."""
    cube = _cube(e_cor)[:, :, severity].astype(np.float64)
    nat = np.asarray(e_nat, dtype=np.float64).reshape(-1, 1)
    return float((cube - nat).mean()) if cube.size else math.nan


def energy_w1(e_nat, e_cor, severity: int) -> float:
    """1-Wasserstein distance between the natural energies and the corrupted ones at ``severity``."""
    return wasserstein_1(np.asarray(e_nat, dtype=np.float64).reshape(-1), _severity_energies(e_cor, severity))


def energy_ood_auroc(e_nat, e_cor, severity: int) -> float:
    """AUROC of the energy score -E telling natural points (positive) from corrupted ones at ``severity``."""
    return auroc(-np.asarray(e_nat, dtype=np.float64).reshape(-1), -_severity_energies(e_cor, severity))
