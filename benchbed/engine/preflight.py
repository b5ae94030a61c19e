"""Preflight: everything a run will need, checked before any work starts.

A run that discovers a missing file after hours of sampling has wasted those hours. So before the
first unit runs, :func:`preflight` looks for what the track and the selected metrics need -- the
dataset's files (and their torchvision integrity check), the files metrics read themselves
(``MetricSpec.check``: corrupted copies of the test points), the attack's library, the feature
extractor's weights and torch-fidelity, the sampler, the executor's optional dependency -- and
:func:`check_run` raises one :class:`PreflightError` listing every missing thing, one line each, with
how to get it. The checks are cheap (file look-ups, md5 of dataset files, imports); the downloads
allowed are the small files the run would fetch anyway: torch-fidelity's own Inception weights, and
RobustBench's list of its 5,000 ImageNet file names.

Models' checkpoints are checked by the scheduler's planning, which loads and fingerprints every model
(its checksum included) before any unit runs; a model that fails there fails alone.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Sequence
from pathlib import Path

from benchbed.contracts.errors import BenchbedError
from benchbed.contracts.specs import TrackSpec

# executor -> (module it imports, how to install it)
EXECUTOR_DEPENDENCIES = {"ray": ("ray", "pip install 'benchbed[ray]'")}


class PreflightError(BenchbedError):
    """What a run needs but does not have: one line per missing thing, each with its fix."""

    def __init__(self, track: str, problems: Sequence[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"the run on track {track!r} cannot start, {len(self.problems)} thing(s) missing "
                         f"(nothing was computed):\n{lines}")


def _installed(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _train_split_problem(track: TrackSpec, registry, specs) -> str | None:
    """One line when metrics need the training split of a dataset that has none (e.g. a test-only set)."""
    dataset = registry.datasets.get(track.dataset)
    needing = [s.name for s in specs if "train" in s.requires]
    if not needing or "train" in dataset.splits:
        return None
    return (f"metric(s) {', '.join(needing)} need the training split of dataset {dataset.name!r} (e.g. the FID "
            f"reference and the PCA seeds), which it does not have (its splits: {', '.join(dataset.splits)}): leave "
            f"them out (--metrics) or register the dataset with a train split")


def _dataset_problems(track: TrackSpec, registry, data_dir: Path | None, needs_train: bool) -> list[str]:
    dataset = registry.datasets.get(track.dataset)
    if dataset.check is None:
        return []
    out: list[str] = []
    for split in ("test", "train") if needs_train and "train" in dataset.splits else ("test",):
        try:
            problem = dataset.check(split, data_dir)
        except Exception as exc:  # noqa: BLE001 -- a broken check must not hide the run's real needs
            problem = f"dataset {track.dataset!r}: its file check failed ({type(exc).__name__}: {exc})"
        if problem and problem not in out:
            out.append(problem)
    return out


def _metric_file_problems(track: TrackSpec, specs: Sequence, data_dir: Path | None) -> list[str]:
    """Files the metrics read themselves (``MetricSpec.check``), e.g. corrupted copies of the test points."""
    out: list[str] = []
    for spec in specs:
        if getattr(spec, "check", None) is None:
            continue
        try:
            found = spec.check(track, data_dir)
        except Exception as exc:  # noqa: BLE001 -- a broken check must not hide the run's real needs
            found = [f"metric {spec.name!r}: its file check failed ({type(exc).__name__}: {exc})"]
        lines = [found] if isinstance(found, str) else list(found or ())
        out.extend(line for line in lines if line and line not in out)
    return out


def _extractor_problems(name: str) -> list[str]:
    if not _installed("torch-fidelity"):
        return ["torch-fidelity (IS/FID/KID) is not installed: pip install torch-fidelity"]
    from benchbed.generative.fidelity import INCEPTION, ensure_extractor, resolve_inception_weights

    try:
        ensure_extractor(name)
        if name == INCEPTION:
            resolve_inception_weights()  # a local file, torch hub's cache, or torch-fidelity's download now
        elif name == "digits-cnn":
            from benchbed.contracts.checkpoints import verify_sha256
            from benchbed.generative.extractor import WEIGHTS_PATH, WEIGHTS_SHA256

            verify_sha256(WEIGHTS_PATH, WEIGHTS_SHA256, "reinstall benchbed (the digits extractor ships with it) "
                          "or retrain it with python -m benchbed.generative.train_extractor")
    except BenchbedError as exc:
        return [str(exc)]
    return []


def preflight(track: TrackSpec, metrics: Sequence[str], registry, data_dir: Path | None = None,
              executor: str | None = None, models: Sequence = ()) -> list[str]:
    """The things the run of ``metrics`` on ``track`` needs but lacks, one line each (empty: all there)."""
    specs = [registry.metrics.get(m) for m in metrics]
    needs = {r for s in specs for r in s.requires}
    problems = _dataset_problems(track, registry, data_dir, needs_train="train" in needs)
    problems.extend(p for p in _metric_file_problems(track, specs, data_dir) if p not in problems)
    no_train = _train_split_problem(track, registry, specs)
    if no_train:
        problems.append(no_train)
    if "attack" in needs or any(r.startswith("iterates:") for r in needs):
        attack = registry.attacks.get(track.attack)
        if attack.library and not _installed(attack.library):
            problems.append(f"attack {attack.name!r} needs the Python package {attack.library!r}, which is not "
                            f"installed: pip install {attack.library}")
    if "generation" in needs:
        settings = track.generation
        if settings is None:
            problems.append(f"track {track.name!r} has no generation settings, which metric(s) "
                            f"{', '.join(s.name for s in specs if 'generation' in s.requires)} need: give it "
                            f"GenerationSettings(...) or leave those metrics out (--metrics)")
        else:
            # the sampler each model is drawn with (a track may leave it to the model: sampler="model")
            wanted = {settings.sampler_for(m): m.name for m in models} or {settings.sampler_for(): ""}
            for sampler, model in sorted(wanted.items()):
                if sampler not in registry.samplers:
                    whose = f"model {model!r} on track {track.name!r}" if model else f"track {track.name!r}"
                    problems.append(f"sampler {sampler!r} ({whose}) is not registered: install the plugin that "
                                    f"provides it (see `benchbed plugins`)")
            problems.extend(_extractor_problems(settings.feature_extractor))
    if executor in EXECUTOR_DEPENDENCIES:
        module, fix = EXECUTOR_DEPENDENCIES[executor]
        if importlib.util.find_spec(module) is None:
            problems.append(f"the {executor} executor needs the Python package {module!r}: {fix}")
    return problems


def check_run(track: TrackSpec, metrics: Sequence[str], registry, data_dir: Path | None = None,
              executor: str | None = None, models: Sequence = ()) -> None:
    """Raise :class:`PreflightError` listing every missing thing, or return when the run can start."""
    problems = preflight(track, metrics, registry, data_dir, executor, models)
    if problems:
        raise PreflightError(track.name, problems)
