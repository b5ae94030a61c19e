"""``benchbed study attacks``: natural vs adversarial energies per attack (kind "attacks").

Every attack runs on every test point; each row's energy statistics are over the points that attack
produced an x* for (``moved``; FAB-T, a minimal-norm attack, leaves most points at x, and counting
them would add dE = 0 and dilute its row), and the row records that count as ``n``. Robust accuracy is
over all points (an unmoved point is scored at x). The per-point energies of x* are NaN at unmoved points,
so the histograms show the same points as the row.
"""
from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from benchbed.contracts.studies import StudyArgument
from benchbed.functional.energy import joint_energy, marginal_energy
from benchbed.results.record import StudyResult
from benchbed.studies.common import StudySetup, as_numpy, columns_of, make_study, names_option, run_attack, setup_for
from benchbed.studies.maths import accuracy, energy_row

KIND = "attacks"
TITLE = "energies per attack"
DEFAULT_ATTACKS = ("pgd", "apgd-ce", "apgd-dlr", "apgd-t", "fab-t", "square", "cw-margin-t", "trades-kl")
DESCRIPTION = "natural vs adversarial energies per attack, on every test point"
ARGUMENTS = (StudyArgument("attacks", str, DEFAULT_ATTACKS, many=True, metavar="A[,A...]",
                           help=f"attacks to run (default: {','.join(DEFAULT_ATTACKS)}; see `benchbed attacks`)"),)
NOTE = ("Each attack ran on every test point (misclassified ones included) at the track's eps; x* is the point each "
        "attack hands back (the table's attack descriptions: `benchbed attacks`). Untargeted attacks are drawn in "
        "red, targeted ones in orange, the natural points in blue. All panels share one x-range (the 0.5th to 99.5th "
        "percentile of every energy shown; values outside are piled into the end bins), so they compare by eye. "
        "ΔE = E(x) − E(x*): positive when x* has the lower energy.")

COLUMNS = (
    ("attack", "", "the attack (`benchbed attacks` describes each, and which x* it hands back)"),
    ("kind", "", "untargeted (pushes the label's logit down) or targeted (pushes a chosen wrong class up)"),
    ("points", "points", "test points, all of them (misclassified ones included)"),
    ("moved", "points", "points the attack produced an x* for (FAB-T leaves x where it found nothing within eps)"),
    ("n", "points", "points the energy columns of this row are over: the moved ones (an unmoved point would add "
                    "dE = 0)"),
    ("robust_accuracy", "%", "all points whose x* (x where the attack left it) is still classified correctly"),
    ("E(x) mean", "energy", "mean natural marginal energy E(x) = -logsumexp f(x)"),
    ("E(x) std", "energy", "population std (ddof 0) of E(x)"),
    ("E(x*) mean", "energy", "mean adversarial marginal energy E(x*)"),
    ("E(x*) std", "energy", "population std (ddof 0) of E(x*)"),
    ("ΔE mean", "energy", "mean of E(x) - E(x*): > 0 when x* has the lower energy"),
    ("ΔE std", "energy", "population std (ddof 0) of E(x) - E(x*)"),
    ("E(x,y) mean", "energy", "mean natural joint energy E(x, y) = -f(x)[y]"),
    ("E(x*,y) mean", "energy", "mean adversarial joint energy E(x*, y)"),
    ("ΔE(x,y) mean", "energy", "mean of E(x, y) - E(x*, y)"),
    ("ΔE(x,y) std", "energy", "population std (ddof 0) of E(x, y) - E(x*, y)"),
    ("seconds", "s", "wall time of the attack"),
)


def run(setup: StudySetup, attacks: Sequence[str] = DEFAULT_ATTACKS, progress: bool = True,
        ) -> tuple[StudyResult, dict[str, np.ndarray]]:
    """Every attack on every point at the track's eps; a row and the per-point energies per attack."""
    import torch
    from tqdm.auto import tqdm

    start = time.perf_counter()
    labels = setup.points.labels
    with torch.no_grad(), setup.model.phase("test points"):
        natural = setup.model(setup.points.images)
    arrays = {"natural.marginal": marginal_energy(natural), "natural.joint": joint_energy(natural, labels)}
    rows = []
    bar = tqdm(list(attacks), desc=f"study attacks {setup.model_spec.name}", unit="attack", disable=not progress)
    for name in bar:
        bar.set_postfix_str(name)
        t0 = time.perf_counter()
        x_star, moved, kind = run_attack(setup, setup.model, name, setup.track.eps)
        with torch.no_grad(), setup.model.phase("adversarial inputs"):
            adversarial = setup.model(x_star)
        seconds = time.perf_counter() - t0
        moved = torch.as_tensor(moved, dtype=torch.bool).cpu()
        on = moved.to(natural.device)
        s = energy_row(natural[on], adversarial[on], labels[on.to(labels.device)])
        robust = accuracy(adversarial, labels)
        unmoved = ~moved.numpy()  # NaN there: the histograms, like the row, show only the points it moved
        arrays[f"{name}.marginal"] = np.where(unmoved, np.nan, marginal_energy(adversarial))
        arrays[f"{name}.joint"] = np.where(unmoved, np.nan, joint_energy(adversarial, labels))
        arrays[f"{name}.perturbation"] = as_numpy((x_star - setup.points.images).flatten(1).abs().amax(dim=1)
                                                  if setup.track.norm == "Linf"
                                                  else (x_star - setup.points.images).flatten(1).norm(dim=1))
        arrays[f"{name}.moved"] = moved.numpy()
        rows.append({"attack": name, "kind": kind, "points": int(len(labels)), "moved": int(moved.sum()),
                     "n": int(s["points"]), "robust_accuracy": robust, "E(x) mean": s["E_nat_mean"],
                     "E(x) std": s["E_nat_std"],
                     "E(x*) mean": s["E_adv_mean"], "E(x*) std": s["E_adv_std"], "ΔE mean": s["dE_mean"],
                     "ΔE std": s["dE_std"], "E(x,y) mean": s["J_nat_mean"], "E(x*,y) mean": s["J_adv_mean"],
                     "ΔE(x,y) mean": s["dJ_mean"], "ΔE(x,y) std": s["dJ_std"], "seconds": round(seconds, 2)})
    clean = accuracy(natural, labels)
    params = {"attacks": ",".join(attacks), "eps": setup.track.eps, "norm": setup.track.norm,
              "n_examples": setup.track.n_examples, "seed": setup.track.seed,
              "points": "every attack on all test points (misclassified included); each row's energy statistics over "
                        "the points it moved (column n)"}
    study = make_study(setup, KIND, params=params, rows=rows, columns=columns_of(KIND, COLUMNS),
                       summary={"clean_accuracy (%)": clean, "attacks": len(rows)},
                       wall_time_s=time.perf_counter() - start)
    return study, {k: as_numpy(v) for k, v in arrays.items()}


def run_study(request) -> tuple[StudyResult, dict[str, np.ndarray]]:
    attacks = names_option(request, "attacks", DEFAULT_ATTACKS)
    return run(setup_for(request, attacks), attacks, progress=request.show_bars)
