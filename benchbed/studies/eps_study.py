"""``benchbed study eps``: the energy gap and PGD robust accuracy over a grid of eps (kind "eps").

Why the untargeted gap changes sign: PGD raises the cross-entropy by pushing f_y(x) down. The
marginal energy E(x) = -logsumexp f(x) is dominated by the top logit, which at first *is* f_y, so
E(x*) rises (dE < 0) even once another class narrowly wins the argmax. E(x*) falls below E(x) only
when the new top logit climbs past where f_y(x) started: a larger eps. The rows record both
fractions (prediction flipped, top logit raised) beside the sign of dE.
"""
from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from benchbed.contracts.errors import ConfigError
from benchbed.contracts.studies import StudyArgument
from benchbed.functional.energy import marginal_energy
from benchbed.results.record import StudyResult
from benchbed.studies.common import StudySetup, columns_of, make_study, names_option, run_attack, setup_for
from benchbed.studies.maths import EPS_MULTIPLIERS, energy_row, sign_turn

KIND = "eps"
TITLE = "energy response over eps"
ATTACK = "pgd"
DESCRIPTION = "energy gap and PGD robust accuracy over a grid of eps"
ARGUMENTS = (StudyArgument("multipliers", float, EPS_MULTIPLIERS, many=True, metavar="K[,K...]",
                           help="eps grid in units of the track's eps (default: 0,0.25,0.5,1,2,4)"),)
NOTE = ("PGD (10 steps of eps/4 from a random start, final iterate, every test point) at multiples of the track's "
        "eps. When does an untargeted x* have the lower energy? PGD raises the cross-entropy by pushing the true "
        "class's logit f_y down. The marginal energy E(x) = −logsumexp f(x) follows the top logit, which at first is "
        "f_y itself, so E(x*) first rises (ΔE < 0), even after another class narrowly wins the prediction. E(x*) "
        "drops below E(x) only once the adversarial top logit climbs above the natural top logit; flipping the "
        "prediction is not enough. The second panel shows both fractions: ΔE turns positive with the second, not "
        "the first.")

COLUMNS = (
    ("eps / track eps", "", "the radius in units of the track's eps"),
    ("eps", "", "the attack's radius"),
    ("robust_accuracy", "%", "points still classified correctly after PGD (final iterate)"),
    ("E(x) mean", "energy", "mean natural marginal energy E(x)"),
    ("E(x*) mean", "energy", "mean adversarial marginal energy E(x*)"),
    ("ΔE mean", "energy", "mean of E(x) - E(x*) (> 0: x* has the lower energy)"),
    ("ΔE std", "energy", "population std (ddof 0) of E(x) - E(x*)"),
    ("ΔE(x,y) mean", "energy", "mean of E(x, y) - E(x*, y)"),
    ("flipped", "%", "points whose predicted class changed"),
    ("top logit raised", "%", "points whose adversarial top logit exceeds the natural top logit"),
    ("ΔE > 0", "%", "points whose x* has the lower marginal energy"),
)


def run(setup: StudySetup, multipliers: Sequence[float] = EPS_MULTIPLIERS, progress: bool = True,
        attack: str = ATTACK) -> tuple[StudyResult, dict[str, np.ndarray]]:
    import torch
    from tqdm.auto import tqdm

    start = time.perf_counter()
    labels = setup.points.labels
    with torch.no_grad(), setup.model.phase("test points"):
        natural = setup.model(setup.points.images)
    arrays = {"natural.marginal": marginal_energy(natural)}
    rows = []
    for i, k in enumerate(tqdm(list(multipliers), desc=f"study eps {setup.model_spec.name}", unit="eps",
                               disable=not progress)):
        eps = float(k) * setup.track.eps
        if eps > 0:
            x_star, _, _ = run_attack(setup, setup.model, attack, eps)
            with torch.no_grad(), setup.model.phase("adversarial inputs"):
                adversarial = setup.model(x_star)
        else:
            adversarial = natural  # eps 0: x* = x
        s = energy_row(natural, adversarial, labels)
        arrays[f"eps{i}.marginal"] = marginal_energy(adversarial)
        rows.append({"eps / track eps": float(k), "eps": eps, "robust_accuracy": s["robust_accuracy"],
                     "E(x) mean": s["E_nat_mean"], "E(x*) mean": s["E_adv_mean"], "ΔE mean": s["dE_mean"],
                     "ΔE std": s["dE_std"], "ΔE(x,y) mean": s["dJ_mean"], "flipped": s["flipped"],
                     "top logit raised": s["top_raised"], "ΔE > 0": s["dE_positive"]})
    turn = sign_turn([r["eps"] for r in rows], [r["ΔE mean"] for r in rows])
    params = {"attack": attack, "multipliers": ",".join(f"{k:g}" for k in multipliers), "track_eps": setup.track.eps,
              "norm": setup.track.norm, "n_examples": setup.track.n_examples, "seed": setup.track.seed,
              "points": "all test points (misclassified included)"}
    summary = {"ΔE turns positive at eps ≈": turn if turn is not None else "not on this grid"}
    study = make_study(setup, KIND, params=params, rows=rows, columns=columns_of(KIND, COLUMNS), summary=summary,
                       wall_time_s=time.perf_counter() - start)
    return study, arrays


def run_study(request) -> tuple[StudyResult, dict[str, np.ndarray]]:
    multipliers = names_option(request, "multipliers", EPS_MULTIPLIERS)
    if any(not (k >= 0) for k in multipliers):
        raise ConfigError(f"--multipliers must be non-negative numbers, got {','.join(map(str, multipliers))}")
    return run(setup_for(request, (ATTACK,)), multipliers, progress=request.show_bars)
