"""The Python API: evaluate any ``nn.Module`` (or a registered model) on a track, and look things up.

::

    import benchbed

    result = benchbed.evaluate(my_model, track="digits-linf", n_examples=100, device="cpu")
    print(result.metrics["robust_accuracy"])
    result.to_frame()                      # the row `benchbed results` would print
    benchbed.list_models("rb/cifar10-linf/*")
    model = benchbed.load_model("aa-example-resnet18", device="cpu")

``evaluate`` runs exactly what ``benchbed run`` runs for one model -- planned by the same
:func:`benchbed.engine.planning.plan_model`, the worker's :func:`benchbed.engine.evaluation.evaluate_unit`
on the same test points, and the one record builder :func:`benchbed.results.builder.build_record` -- so an
unregistered model gets the numbers it would get as a registered plugin, and a registered one (pass its
name) gets the record ``benchbed run`` writes.
"""
from __future__ import annotations

import fnmatch
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchbed.builtin.tracks import DEFAULT_TRACK
from benchbed.contracts.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import torch
    from torch import nn

    from benchbed.contracts.specs import ModelSpec, TrackSpec
    from benchbed.registry import Registry
    from benchbed.results.record import Record

ADHOC_RECIPE = "unregistered"
ADHOC_PLUGIN = "benchbed.evaluate"


@dataclass
class EvaluationResult:
    """What :func:`evaluate` returns: the :class:`~benchbed.results.record.Record`, its per-point arrays, and
    the numbers at hand (``result.metrics``, ``result["robust_accuracy"]``)."""

    record: Record
    arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    path: Path | None = None  # where the record was written, when ``results_dir`` was given

    @property
    def model(self) -> str:
        return self.record.model

    @property
    def track(self) -> str:
        return self.record.track

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self.record.metrics)

    @property
    def n_examples(self) -> int:
        return self.record.n_examples

    @property
    def quick(self) -> bool:
        return self.record.quick

    @property
    def partial(self) -> bool:
        return self.record.partial

    @property
    def intervals(self) -> dict[str, Any]:
        """Each column's 95 % confidence interval (``.low``, ``.high``, ``.level``, ``.method``), where it has one."""
        return dict(self.record.intervals)

    def __getitem__(self, column: str) -> float:
        """``result["robust_accuracy"]``: a metric column's value."""
        return self.record.metrics[column]

    def to_frame(self) -> pd.DataFrame:
        """A one-row DataFrame with the columns ``benchbed results`` prints for this track."""
        from benchbed.results.tables import records_frame

        return records_frame([self.record], all_columns=True)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able record (the arrays are left out)."""
        return self.record.to_dict()


# -- lookups ----------------------------------------------------------------------------------------
def _registry(registry=None) -> Registry:
    if registry is not None:
        return registry
    from benchbed import registry as plugin_registry
    return plugin_registry.registry()


def list_models(pattern: str = "*", track: str | None = None, *, registry=None) -> list[str]:
    """Names of registered models matching a wildcard (``fnmatch``: ``*``, ``?``, ``[...]``), sorted.

    With ``track``, only the models registered for it (its dataset and threat model).
    """
    reg = _registry(registry)
    names = [m.name for m in reg.models_for(reg.tracks.get(track))] if track else reg.models.names()
    return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))


def list_tracks(pattern: str = "*", *, registry=None) -> list[str]:
    """Names of registered tracks matching a wildcard, sorted."""
    return _registry(registry).tracks.names(pattern)


def get_model_spec(name: str, *, registry=None) -> ModelSpec:
    """The registered :class:`~benchbed.contracts.specs.ModelSpec` (metadata, reported numbers) of a model."""
    return _registry(registry).models.get(name)


def load_model(name: str, device: str | torch.device | None = None, *, registry=None) -> nn.Module:
    """A registered model, loaded (checksum checked) in eval mode on ``device`` (default: the best here)."""
    from benchbed.engine.devices import resolve_device

    return _registry(registry).models.get(name).load(resolve_device(device))


# -- evaluation -------------------------------------------------------------------------------------
def adhoc_spec(model: nn.Module, track: TrackSpec, name: str | None = None) -> ModelSpec:
    """A ModelSpec for an unregistered module on ``track`` (loader: move it to the device)."""
    from benchbed.contracts.specs import ModelSpec, check_name
    from benchbed.results.provenance import state_dict_sha256

    def loader(device, _module=model):
        return _module.to(device)

    return ModelSpec(
        name=check_name("model", name or type(model).__name__), dataset=track.dataset,
        threat_models=(track.norm,), architecture=type(model).__name__, recipe=ADHOC_RECIPE, loader=loader,
        checkpoint_sha256=state_dict_sha256(model),
        footnote="evaluated from Python with benchbed.evaluate (not a registered plugin); the checksum is "
                 "benchbed's fingerprint of its weights",
        extra={"source": ADHOC_PLUGIN, "module": f"{type(model).__module__}.{type(model).__qualname__}"},
    )


def evaluate(model: nn.Module | str, track: str | TrackSpec = DEFAULT_TRACK, n_examples: int | None = None,
             device: str | torch.device | None = None, metrics: list[str] | str | None = None,
             name: str | None = None, data_dir: str | Path | None = None, results_dir: str | Path | None = None,
             *, progress: bool = True, threads: int | None = None, attack_mode: str | None = None,
             registry=None) -> EvaluationResult:
    """Evaluate a model on a track, as ``benchbed run`` would (default track: the embedded ``digits-linf``).

    ``model``: an ``nn.Module`` mapping images in [0, 1] shaped (N, C, H, W) to logits (N, classes),
    with any input normalisation inside it -- moved to ``device`` and put in eval mode for the run,
    and handed back in the training mode it had; or the name of a registered model. ``n_examples``:
    the first N test points (a recorded quick mode). ``metrics``: a selection of metrics (default:
    the track's; e.g. ``["clean_accuracy"]`` skips the attack). ``name``: the module's name in the
    record (default: its class name). ``results_dir``: also write the record there, where
    ``benchbed results --out`` and the leaderboard read it. ``progress``: show progress on stderr.
    ``threads``: torch CPU threads while evaluating (default: the CPUs left idle, as ``benchbed run``;
    torch's setting is restored afterwards). ``attack_mode``: a cheaper mode the track's attack declares
    (AutoAttack's "fast": APGD-CE + APGD-T only), a labelled variant, as ``benchbed run --attack-mode``.
    """
    import numpy as np

    from benchbed.engine import planning
    from benchbed.engine.devices import resolve_device
    from benchbed.engine.evaluation import UnitTask, test_points
    from benchbed.results.builder import build_record

    reg = _registry(registry)
    torch_device = resolve_device(device)
    options = planning.RunOptions(track, n_examples=n_examples, metrics=metrics, attack_mode=attack_mode,
                                  device=str(torch_device), threads=threads, data_dir=data_dir,
                                  results_dir=results_dir, show_progress=progress, run_log=False)
    setup = planning.resolve_run(options, reg, single_unit=True)
    model_spec, weights, reg = _model_to_evaluate(model, setup.track, reg, name)
    planning.preflight(setup, reg, [model_spec])  # every missing thing, before any work starts
    points = test_points(setup.track, reg, setup.data_dir)
    plan = planning.plan_model(model_spec, weights, setup, reg, n_shards=1)
    tasks = [UnitTask(unit=unit, track=setup.track, expected=plan.expected, device=str(torch_device),
                      data_dir=str(setup.data_dir) if setup.data_dir else None, run_id=setup.run_id,
                      threads=setup.threads) for unit in plan.units]
    observers = planning.start_observers(setup, options, reg, [model_spec.name], planned=len(tasks),
                                         executor="local", results=str(results_dir or ""))
    parts = _observed_units(tasks, reg, points, observers, None if isinstance(model, str) else model)
    spec, chosen, key, variant, run_id = setup.track, setup.metrics, plan.key, setup.variant, setup.run_id
    record, merged = build_record(spec, parts, {m: reg.metrics.get(m) for m in chosen},
                                  metrics_run=chosen, registered_n_examples=setup.registered.n_examples,
                                  result_key=key, variant=variant, run_id=run_id)
    path = None
    if results_dir is not None:
        from benchbed.results.store import ResultsStore

        store = ResultsStore(results_dir)
        record = store.write(record, merged)
        path = store.record_path(record.track, record.model, record.variant)
    if record.metric_errors:
        for metric, error in record.metric_errors.items():
            sys.stderr.write(f"benchbed: warning: metric {metric!r} failed: {error}\n")
    return EvaluationResult(record, {k: np.asarray(v) for k, v in merged.items()}, path)


def _model_to_evaluate(model: nn.Module | str, track: TrackSpec, reg: Registry, name: str | None):
    """(its ModelSpec, the fingerprint of its weights, the registry that knows it) for a module or a name."""
    from benchbed.engine.evaluation import fingerprint
    from benchbed.engine.resolve import check_model_fits
    from benchbed.results.provenance import state_dict_sha256

    if isinstance(model, str):
        model_spec = reg.models.get(model)
        check_model_fits(model_spec, track)  # a one-line refusal, as `benchbed run --model` gives
        return model_spec, fingerprint(model_spec), reg  # as `benchbed run` fingerprints it
    if not callable(getattr(model, "forward", None)) or not hasattr(model, "state_dict"):
        raise ConfigError(f"benchbed.evaluate needs a torch.nn.Module or a registered model's name, got "
                          f"{type(model).__name__}")
    model_spec = adhoc_spec(model, track, name)
    if model_spec.name in reg.models:
        raise ConfigError(f"model name {model_spec.name!r} is already registered by a plugin: pass another "
                          f"name=... (or evaluate the registered one by its name)")
    return model_spec, state_dict_sha256(model), reg.with_model(model_spec, ADHOC_PLUGIN)


def _observed_units(tasks, reg: Registry, points, observers, module: nn.Module | None):
    """Evaluate the model's units here, one after another, telling the observers what the scheduler would (same
    events, same fields); the threads (run_task) and the module's training mode are restored afterwards."""
    from benchbed.contracts.events import RunEnd
    from benchbed.engine import planning
    from benchbed.engine.executors.base import run_task

    was_training = bool(getattr(module, "training", False))
    parts, seconds = [], 0.0
    try:
        for task in tasks:
            observers.emit(planning.unit_start(task))
            try:
                result, arrays = run_task(
                    task, registry=reg, points=points,
                    progress=lambda m, task=task: observers.emit(planning.unit_progress(task, m)),
                    on_metric=lambda m, task=task: observers.emit(planning.metric_done(task, m)))
            except BaseException as exc:
                observers.emit(planning.unit_failed(task, str(exc)))
                observers.emit(RunEnd(seconds=seconds, units=len(tasks), done=len(parts), failed=1,
                                      models={task.unit.model: "failed"}))
                raise
            observers.emit(planning.unit_done(task, result.wall_time_s, result))
            parts.append((result, arrays))
            seconds += result.wall_time_s
    finally:
        if module is not None:
            module.train(was_training)
    observers.emit(RunEnd(seconds=seconds, units=len(tasks), done=len(tasks), models={tasks[0].unit.model: "ok"}))
    return parts
