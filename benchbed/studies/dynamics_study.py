"""``benchbed study dynamics``: every checkpoint of a model's training series under PGD-10 (kind "dynamics").

Per checkpoint: clean and robust accuracy, mean E(x) and E(x*) and their gap, on the track's
points at the track's eps. The model's own ``ModelSpec.training_series()`` provides the checkpoints.
"""
from __future__ import annotations

import time

import numpy as np

from benchbed.contracts.errors import ConfigError
from benchbed.contracts.studies import StudyArgument
from benchbed.functional.energy import marginal_energy
from benchbed.results.record import StudyResult
from benchbed.studies.common import StudySetup, columns_of, make_study, run_attack, setup_for
from benchbed.studies.maths import energy_row

KIND = "dynamics"
TITLE = "training dynamics"
ATTACK = "pgd"
STEPS = 10
DESCRIPTION = "clean/robust accuracy and energies along a model's training series"
ARGUMENTS = (
    StudyArgument("every", int, 1, metavar="K", help="evaluate every K-th checkpoint (and the last; default: all)"),
    StudyArgument("eps", float, None, help="the attack's radius (default: the track's eps; e.g. the radius the "
                                           "model was trained at)"),
)
NOTE = ("Every checkpoint of the model's training series, evaluated on the track's points with PGD-10 (final "
        "iterate) at the eps named above (the track's unless the run chose another). Robust overfitting shows as "
        "robust accuracy falling after its peak while clean accuracy holds; in energies, as the natural and "
        "adversarial energies drifting apart (the gap leaving 0).")

COLUMNS = (
    ("step", "", "training step of the checkpoint (epoch)"),
    ("label", "", "the checkpoint as its plugin names it"),
    ("clean_accuracy", "%", "natural test points classified correctly"),
    ("robust_accuracy", "%", "points still correct after PGD-10 (final iterate) at the study's eps"),
    ("E(x) mean", "energy", "mean natural marginal energy E(x)"),
    ("E(x*) mean", "energy", "mean adversarial marginal energy E(x*)"),
    ("ΔE mean", "energy", "mean of E(x) - E(x*) (> 0: x* has the lower energy)"),
    ("ΔE std", "energy", "population std (ddof 0) of E(x) - E(x*)"),
    ("|ΔE| mean", "energy", "mean of |E(x) - E(x*)|"),
)


def series_of(model_spec) -> list:
    """The model's training checkpoints (one-line error when it publishes none)."""
    if model_spec.training_series is None:
        raise ConfigError(f"model {model_spec.name!r} publishes no training series (ModelSpec.training_series): "
                          f"`benchbed study dynamics` needs a model whose plugin exposes its checkpoints")
    checkpoints = list(model_spec.training_series())
    if not checkpoints:
        raise ConfigError(f"model {model_spec.name!r}: its training series is empty")
    return checkpoints


def run(setup: StudySetup, checkpoints=None, progress: bool = True, every: int = 1, eps: float | None = None,
        ) -> tuple[StudyResult, dict[str, np.ndarray]]:
    """``eps``: the attack's radius (default: the track's; e.g. a model's training radius)."""
    import torch
    from tqdm.auto import tqdm

    from benchbed.results.provenance import stable_hash, state_dict_sha256

    if every < 1:
        raise ConfigError(f"--every must be >= 1, got {every}")
    eps = setup.track.eps if eps is None else float(eps)
    if not (eps > 0 and np.isfinite(eps)):
        raise ConfigError(f"--eps must be a positive number, got {eps}")
    start = time.perf_counter()
    checkpoints = list(series_of(setup.model_spec) if checkpoints is None else checkpoints)
    chosen = [c for i, c in enumerate(checkpoints) if i % every == 0 or i == len(checkpoints) - 1]
    labels = setup.points.labels
    rows, weights = [], []
    for checkpoint in tqdm(chosen, desc=f"dynamics {setup.model_spec.name}", unit="checkpoint",
                           disable=not progress):
        module = checkpoint.loader(setup.device)
        weights.append(state_dict_sha256(module))
        model = setup.guard(module)
        with torch.no_grad(), model.phase("test points"):
            natural = model(setup.points.images)
        x_star, _, _ = run_attack(setup, model, ATTACK, eps, options={"steps": STEPS})
        with torch.no_grad(), model.phase("adversarial inputs"):
            adversarial = model(x_star)
        s = energy_row(natural, adversarial, labels)
        gap = s["dE_mean"]
        abs_gap = float(np.mean(np.abs(marginal_energy(natural) - marginal_energy(adversarial))))
        rows.append({"step": int(checkpoint.step), "label": checkpoint.label or f"step {checkpoint.step}",
                     "clean_accuracy": s["clean_accuracy"], "robust_accuracy": s["robust_accuracy"],
                     "E(x) mean": s["E_nat_mean"], "E(x*) mean": s["E_adv_mean"], "ΔE mean": gap,
                     "ΔE std": s["dE_std"], "|ΔE| mean": abs_gap})
    best = max(rows, key=lambda r: r["robust_accuracy"])
    params = {"attack": f"{ATTACK}-{STEPS}", "eps": eps, "track_eps": setup.track.eps, "norm": setup.track.norm,
              "n_examples": setup.track.n_examples, "seed": setup.track.seed, "checkpoints": len(rows),
              "of_series": len(checkpoints), "series_sha256": stable_hash(weights)}
    summary = {"best robust_accuracy (%)": best["robust_accuracy"], "at step": best["step"],
               "final robust_accuracy (%)": rows[-1]["robust_accuracy"],
               "final clean_accuracy (%)": rows[-1]["clean_accuracy"]}
    study = make_study(setup, KIND, params=params, rows=rows, columns=columns_of(KIND, COLUMNS), summary=summary,
                       wall_time_s=time.perf_counter() - start)
    arrays = {"step": np.array([r["step"] for r in rows], dtype=np.int64)}
    return study, arrays


def run_study(request) -> tuple[StudyResult, dict[str, np.ndarray]]:
    checkpoints = series_of(request.registry.models.get(request.model))  # refuse before loading anything
    every = request.options.get("every")
    return run(setup_for(request, (ATTACK,)), checkpoints, progress=request.show_bars,
               every=1 if every is None else int(every), eps=request.options.get("eps"))
