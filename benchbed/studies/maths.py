"""The studies' numbers as pure functions of natural and adversarial logits (numpy float64 out).

Signs follow :mod:`benchbed.functional.energy`: E(x) = -logsumexp f(x), E(x, y) = -f(x)[y], and the gap
dE = E(x) - E(x*) (> 0 when x* has the lower energy, i.e. looks *more* likely to the model).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from benchbed.functional.energy import _as_float64, _as_int64, joint_energy, marginal_energy, mean_std

EPS_MULTIPLIERS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)  # the eps curve's grid, in units of the track's eps


def accuracy(logits: Any, labels: Any) -> float:
    """Percent of rows whose top logit is the label (nan for no rows)."""
    z, y = _as_float64(logits), _as_int64(labels).reshape(-1)
    return float(100.0 * np.mean(z.argmax(axis=1) == y)) if y.size else float("nan")


def top_logit_raised(natural_logits: Any, adversarial_logits: Any) -> np.ndarray:
    """Per point: is the adversarial top logit above the natural top logit? (max_k f(x*)_k > max_k f(x)_k)

    For an untargeted x*, this -- not a flipped prediction -- is (up to the other logits' share of the
    logsumexp) what makes E(x*) < E(x): the attack lowers f_y, and the energy falls only once another
    logit climbs past where f_y started."""
    return _as_float64(adversarial_logits).max(axis=1) > _as_float64(natural_logits).max(axis=1)


def energy_row(natural_logits: Any, adversarial_logits: Any, labels: Any) -> dict[str, float]:
    """One attack's energy summary over paired points (row i of both logits is the same point)."""
    e_nat, e_adv = marginal_energy(natural_logits), marginal_energy(adversarial_logits)
    j_nat, j_adv = joint_energy(natural_logits, labels), joint_energy(adversarial_logits, labels)
    out: dict[str, float] = {"points": float(e_nat.size),
                             "clean_accuracy": accuracy(natural_logits, labels),
                             "robust_accuracy": accuracy(adversarial_logits, labels)}
    for key, values in (("E_nat", e_nat), ("E_adv", e_adv), ("dE", e_nat - e_adv),
                        ("J_nat", j_nat), ("J_adv", j_adv), ("dJ", j_nat - j_adv)):
        out[f"{key}_mean"], out[f"{key}_std"] = mean_std(values)
    flipped = _as_float64(adversarial_logits).argmax(axis=1) != _as_float64(natural_logits).argmax(axis=1)
    out["flipped"] = float(100.0 * flipped.mean()) if flipped.size else float("nan")
    out["top_raised"] = float(100.0 * top_logit_raised(natural_logits, adversarial_logits).mean()) \
        if flipped.size else float("nan")
    out["dE_positive"] = float(100.0 * np.mean(e_nat - e_adv > 0)) if e_nat.size else float("nan")
    return out


def sign_turn(eps: Any, gap_mean: Any) -> float | None:
    """The eps at which the mean gap first turns from < 0 to >= 0, by linear interpolation on the grid;
    None if it never does (or is never negative)."""
    e, g = _as_float64(eps).reshape(-1), _as_float64(gap_mean).reshape(-1)
    for i in range(1, len(e)):
        if g[i - 1] < 0 <= g[i]:
            return float(e[i - 1] + (e[i] - e[i - 1]) * (-g[i - 1]) / (g[i] - g[i - 1]))
    return None
