"""Realistic result records for the leaderboard tests, written through the real results store.

They are real :class:`benchbed.results.record.Record` s (what ``benchbed run`` builds), with energy columns and
per-point energies (``energy_nat``, ``energy_adv_untargeted``, ``energy_adv_targeted``) and digits
generative columns with a PNG sample grid (``generative_grid_png``), as the energy and generative
metrics store them."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from benchbed.contracts.specs import AttackWarning
from benchbed.results.record import AttackProvenance, ColumnInfo, Flag, Record
from benchbed.results.store import ResultsStore

TRACK = "digits-linf"
ENERGY_COLUMNS = {
    "energy_nat_mean": ("mean marginal energy E(x) of the natural test points", None, "energy"),
    "energy_adv_mean_untargeted": ("mean E(x*) of the untargeted (APGD-CE) adversarial points", None, "energy"),
    "delta_energy_mean_untargeted": ("mean of dE(x) = E(x) - E(x*), untargeted", None, "energy"),
    "delta_energy_std_untargeted": ("std of dE(x), untargeted; lower = better aligned", False, "energy"),
    "abs_delta_energy_mean_untargeted": ("mean |dE(x)|, untargeted", False, "energy"),
    "wasserstein_untargeted": ("1-Wasserstein distance between natural and untargeted adversarial energies",
                               False, "energy"),
    "wasserstein_targeted": ("1-Wasserstein distance between natural and targeted adversarial energies",
                             False, "energy"),
}
GENERATIVE_COLUMNS = {
    "digits_is": ("digits Inception-style score of 1,000 samples (digits-CNN features)", True, ""),
    "digits_fid": ("digits FID of 1,000 samples against the training set (digits-CNN features)", False, ""),
    "digits_kid": ("digits KID of 1,000 samples against the training set", False, ""),
}
# name, recipe, architecture, clean, robust, energy (nat mean, untargeted gap, targeted gap, spread), IS, FID, KID
ZOO = [
    ("digits-standard-cnn", "standard", "SmallCNN", 98.44, 1.34, (-12.0, 9.0, -4.0, 1.6), 2.1, 140.2, 0.121),
    ("digits-pgdat-cnn", "PGD-AT", "SmallCNN", 96.88, 81.29, (-6.0, 1.6, -1.2, 0.9), 6.8, 41.7, 0.034),
    ("digits-trades-cnn", "TRADES", "SmallCNN", 95.99, 84.19, (-5.0, 0.8, -0.6, 0.6), 7.4, 33.9, 0.027),
    ("digits-weat-cnn", "WEAT", "SmallCNN", 96.21, 85.08, (-4.8, 0.5, -0.4, 0.5), 8.1, 27.5, 0.019),
    ("digits-jem-cnn", "JEM", "WideSmallCNN", 97.10, 12.47, (-9.5, 6.5, -3.0, 1.2), 8.9, 22.8, 0.015),
]


def columns_meta(energy: bool = True, generative: bool = True) -> dict[str, ColumnInfo]:
    cols = {
        "clean_accuracy": ColumnInfo("clean_accuracy", "percent of test points classified correctly", True, "%",
                                     headline=True, rank=2, group="accuracy", order=0),
        "robust_accuracy": ColumnInfo("robust_accuracy", "percent of test points still classified correctly under "
                                      "the track's attack at its norm and eps", True, "%", headline=True, rank=1,
                                      plot="y", group="accuracy", order=1),
    }
    if energy:
        cols.update({k: ColumnInfo("energy", d, h, u, headline=k == "wasserstein_untargeted", group="energy",
                                   order=len(cols) + i) for i, (k, (d, h, u)) in enumerate(ENERGY_COLUMNS.items())})
    if generative:
        cols.update({k: ColumnInfo("generative", d, h, u, headline=k != "digits_kid", plot="x" if k == "digits_fid"
                                   else "", group="generative", order=len(cols) + i)
                     for i, (k, (d, h, u)) in enumerate(GENERATIVE_COLUMNS.items())})
    return cols


def grid_png(seed: int, classes: int = 10, per_class: int = 8, cell: int = 24) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    img = (rng.random((classes * cell, per_class * cell)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def make_record(model: str, *, track: str = TRACK, recipe: str = "PGD-AT", architecture: str = "SmallCNN",
                clean: float | None = 95.0, robust: float | None = 80.0, energy: dict[str, float] | None = None,
                generative: dict[str, float] | None = None, n_examples: int = 449, registered: int = 449,
                flags: tuple[str, ...] = (), paper: str = "Towards Deep Learning Models Resistant to "
                "Adversarial Attacks", link: str = "https://arxiv.org/abs/1706.06083", venue: str = "ICLR 2018",
                footnote: str = "", finished_at: str = "2025-03-01T10:00:00+00:00",
                columns: dict[str, ColumnInfo] | None = None, seed: int = 0, extra_data: bool = False,
                variant: str = "") -> Record:
    """A record as ``benchbed run`` builds it, with energy and generative columns."""
    metrics: dict[str, float] = {}
    if clean is not None:
        metrics["clean_accuracy"] = clean
    if robust is not None:
        metrics["robust_accuracy"] = robust
    metrics.update(energy or {})
    metrics.update(generative or {})
    track_metrics = ["clean_accuracy", "robust_accuracy"] + (["energy"] if energy else []) + (
        ["generative"] if generative else [])
    all_columns = columns if columns is not None else columns_meta(bool(energy), bool(generative))
    kept = {k: v for k, v in all_columns.items() if k in metrics}
    return Record(
        status="ok", model=model, track=track, dataset="digits", variant=variant or (
            f"n{n_examples}" if n_examples != registered else ""),
        metrics=metrics, columns=kept, metrics_run=tuple(track_metrics), metric_errors={}, n_examples=n_examples,
        registered_n_examples=registered, seed=seed, norm="Linf", eps=0.1,
        attack=AttackProvenance("autoattack", "pyautoattack", "0.2.0", "standard", {"version": "standard"},
                                {"apgd-ce": 301, "apgd-t": 12, "fab-t": 0, "square": 1},
                                tuple(AttackWarning("gradient masking" if "mask" in f else "warning", f)
                                      for f in flags)),
        flags=tuple(Flag("gradient masking" if "mask" in f else "warning", f, "attack") for f in flags),
        metric_info={}, arrays=(), arrays_sha256="", checkpoint_sha256="ab" * 32, weights_sha256="ef" * 32,
        versions={"benchbed": "0.2.0", "numpy": "2.0.0", "pyautoattack": "0.2.0", "python": "3.11.7",
                  "torch": "2.4.0", "torch-fidelity": "0.3.0", "torchvision": "0.19.0"},
        plugins={"model": {"plugin": "lb-test", "distribution": "lb-test", "version": "1.0"}},
        model_info={"name": model, "dataset": "digits", "threat_models": ["Linf"], "architecture": architecture,
                    "recipe": recipe, "family": "joint" if recipe == "JEM" else "classifier", "paper": paper,
                    "venue": venue, "link": link, "extra_data": extra_data, "checkpoint_sha256": "ab" * 32,
                    "footnote": footnote, "reported": {}, "extra": {}},
        track_info={"name": track, "dataset": "digits", "norm": "Linf", "eps": 0.1, "eps_label": "0.1",
                    "n_examples": n_examples, "attack": "autoattack", "attack_options": {"version": "standard"},
                    "metrics": track_metrics, "seed": seed,
                    "generation": {"n_samples": 1000, "steps": 50, "step_size": 0.8, "noise": 0.001,
                                   "seed_kind": "pca", "column_prefix": "digits_"} if generative else None,
                    "description": "embedded default: scikit-learn digits, Linf eps 0.1, all 449 test points"},
        result_key="cd" * 32, units=(), device="cpu (2 threads)", wall_time_s=12.5,
        timings_s={"attack": 10.25, "metric:clean_accuracy": 0.031}, finished_at=finished_at, run_id="test-run")


def make_arrays(seed: int, n: int, nat_mean: float, gap_u: float, gap_t: float, spread: float,
                energy: bool = True, grid: bool = True) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {"index": np.arange(n, dtype=np.int64), "robust": rng.random(n) < 0.8}
    if energy:
        nat = rng.normal(nat_mean, 1.5, n)
        arrays["energy_nat"] = nat
        arrays["energy_adv_untargeted"] = nat - gap_u - np.abs(rng.normal(0, spread, n))
        arrays["energy_adv_targeted"] = nat - gap_t + np.abs(rng.normal(0, spread, n))
    if grid:
        arrays["generative_grid_png"] = np.frombuffer(grid_png(seed), dtype=np.uint8)
    return arrays


def energy_metrics(arrays: dict[str, np.ndarray]) -> dict[str, float]:
    nat, adv_u, adv_t = arrays["energy_nat"], arrays["energy_adv_untargeted"], arrays["energy_adv_targeted"]
    du = nat - adv_u
    return {
        "energy_nat_mean": float(nat.mean()), "energy_adv_mean_untargeted": float(adv_u.mean()),
        "delta_energy_mean_untargeted": float(du.mean()), "delta_energy_std_untargeted": float(du.std()),
        "abs_delta_energy_mean_untargeted": float(np.abs(du).mean()),
        "wasserstein_untargeted": float(np.abs(np.sort(nat) - np.sort(adv_u)).mean()),
        "wasserstein_targeted": float(np.abs(np.sort(nat) - np.sort(adv_t)).mean()),
    }


def write_zoo(root: Path, *, track: str = TRACK, n: int = 449, energy: bool = True, generative: bool = True,
              extra: list[tuple[dict, dict]] | None = None) -> ResultsStore:
    """The five-model digits zoo (plus ``extra`` (record, arrays) pairs) written to a results store."""
    store = ResultsStore(root)
    for i, (name, recipe, arch, clean, robust, (nat, gu, gt, sp), is_, fid, kid) in enumerate(ZOO):
        arrays = make_arrays(i, n, nat, gu, gt, sp, energy=energy, grid=generative)
        rec = make_record(
            name, track=track, recipe=recipe, architecture=arch, clean=clean, robust=robust,
            energy=energy_metrics(arrays) if energy else None,
            generative={"digits_is": is_, "digits_fid": fid, "digits_kid": kid} if generative else None,
            n_examples=n, finished_at=f"2025-03-0{i + 1}T10:00:00+00:00",
            flags=("possible gradient masking: the robust accuracy under APGD-CE and APGD-T differs a lot from "
                   "FAB-T's",) if recipe == "JEM" else (),
        )
        store.write(rec, arrays)
    for rec, arrays in extra or []:
        store.write(rec, arrays)
    return store
