"""Evaluating one unit: the worker side, the same in this process, on a Ray worker, or from Python.

:func:`evaluate_unit` loads the model, checks it is the model the run planned (the fingerprint of its
weights, the library and plugin versions), wraps it in a :class:`~benchbed.engine.context.GuardedModel`,
and runs each of the unit's metrics on a private copy of the unit's points. A metric that fails
costs that metric only (the record becomes partial, with the metric's one-line error); a model
whose logits are NaN/inf or of the wrong shape anywhere fails the whole unit. It depends on nothing
above it: not on the scheduler, the store, the executors or the CLI.
"""
from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from benchbed.contracts.checkpoints import weights_only_refusal
from benchbed.contracts.errors import BenchbedError, ConfigError, ModelOutputError, describe_error
from benchbed.contracts.specs import LabelledImages, MetricOutput, ModelSpec, TrackSpec
from benchbed.engine.units import Unit, plugin_provenance
from benchbed.registry import PluginHost, PluginSelection, Registry
from benchbed.results.provenance import library_versions, state_dict_sha256
from benchbed.results.record import AttackProvenance, Flag, UnitResult

PROBE_SIZE = 8
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Expected:
    """What the scheduler planned with: the worker refuses to compute under anything else."""

    weights_sha256: str
    versions: Mapping[str, str]
    plugins: Mapping[str, Any]
    metrics: tuple[str, ...]  # the run's metrics (a unit may compute some of them)


@dataclass(frozen=True)
class UnitTask:
    """Everything a worker needs to compute one unit (plain data: it travels to Ray workers)."""

    unit: Unit
    track: TrackSpec
    expected: Expected
    device: str | None = None
    data_dir: str | None = None
    cache_dir: str | None = None
    plugins: PluginSelection = field(default_factory=PluginSelection)
    threads: int | None = None  # torch threads while computing (None: leave as is)
    run_id: str = ""
    attempt: int = 1

    @property
    def id(self) -> str:
        return f"{self.unit.model}/{self.unit.variant}/{self.unit.uid}"

    def retry(self) -> UnitTask:
        return replace(self, attempt=self.attempt + 1)


def test_points(track: TrackSpec, registry: Registry, data_dir: Path | None) -> LabelledImages:
    """The first ``track.n_examples`` points of the track's test split."""
    split = registry.datasets.get(track.dataset).load("test", data_dir)
    if track.n_examples > len(split):
        raise ConfigError(f"track {track.name!r} asks for {track.n_examples} examples but the {track.dataset} "
                          f"test split has only {len(split)}: use --n-examples {len(split)} or fewer")
    return split.slice(0, track.n_examples)


def load_model(model_spec: ModelSpec, device) -> Any:
    """``model_spec.load(device)``, with torch's weights-only refusal turned into one line."""
    try:
        return model_spec.load(device)
    except Exception as exc:
        refusal = weights_only_refusal(exc, f"the checkpoint of model {model_spec.name!r}")
        if refusal is not None:
            raise refusal from None
        raise


def fingerprint(model_spec: ModelSpec) -> str:
    """The fingerprint of the weights a model's loader gives (loaded on the CPU)."""
    return state_dict_sha256(load_model(model_spec, "cpu"))


def model_flags(model_spec: ModelSpec, model, probe, device) -> list[Flag]:
    """benchbed's own observations about a model, kept with its record."""
    from benchbed.engine.context import inplace_mutation

    flags = []
    if inplace_mutation(model, probe.to(device)):
        flags.append(Flag("modifies its input", "the model changes its input tensor in place; benchbed hands every "
                          "call a private copy, so no other model's data or number is affected", "benchbed"))
    if not SHA256_HEX.match(model_spec.checkpoint_sha256 or ""):
        claimed = model_spec.checkpoint_sha256 or "nothing"
        flags.append(Flag("unverified checkpoint", f"the plugin claims checkpoint sha256 {claimed!r}, which is not a "
                          f"sha256; the weights are identified by benchbed's own fingerprint", "benchbed"))
    return flags


def _check_output(name: str, metric, out: Any, n_points: int) -> MetricOutput:
    if not isinstance(out, MetricOutput):
        legacy = type(out).__name__ == "MetricResult" or isinstance(out, Mapping)
        raise BenchbedError(f"metric {name!r} returned {type(out).__name__}, not a MetricOutput(arrays=..., "
                            f"info=...)" + ("; its numbers come from Column.reduce since 0.2 (CHANGELOG.md, "
                                            "'Migrating from 0.1')" if legacy else ""))
    for key, values in out.arrays.items():
        values = np.asarray(values)
        if metric.scope == "example" and (values.ndim == 0 or values.shape[0] != n_points):
            raise BenchbedError(f"metric {name!r} returned array {key!r} of shape {values.shape}, not one row per "
                                f"test point ({n_points}); arrays of scope-'model' metrics may have any shape")
    return out


def _compute_metrics(ctx, unit, registry: Registry, n_points: int, on_metric: Callable[[str], None] | None):
    """Every metric of the unit on ``ctx``: (arrays, scope-"model" array names, infos, errors)."""
    from benchbed.engine.batching import is_out_of_memory

    arrays: dict[str, np.ndarray] = {"index": unit.indices} if unit.uid != "model" else {}
    whole: list[str] = []  # arrays of scope-"model" metrics
    info: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    for name in unit.metrics:
        metric = registry.metrics.get(name)
        t0 = time.perf_counter()
        try:
            out = _check_output(name, metric, metric.compute(ctx), n_points)
        except ModelOutputError:
            raise  # the model misbehaves: none of its numbers can be trusted
        except Exception as exc:  # noqa: BLE001 -- one failing metric must not discard the others
            if is_out_of_memory(exc):
                raise  # the unit restarts at a smaller batch size (benchbed.engine.batching)
            errors[name] = describe_error(exc)
        else:
            clash = sorted(set(out.arrays) & set(arrays))
            if clash:
                errors[name] = f"metric {name!r} returned array(s) {', '.join(clash)} that another metric already made"
            else:
                arrays.update({k: np.asarray(v) for k, v in out.arrays.items()})
                if metric.scope == "model":
                    whole.extend(out.arrays)
                info[name] = dict(out.info)
        ctx.timings[f"metric:{name}"] = time.perf_counter() - t0
        if on_metric is not None:
            on_metric(name)
    return arrays, whole, info, errors


def evaluate_unit(task: UnitTask, *, registry: Registry, points: LabelledImages,
                  progress: Callable[[str], None] | None = None,
                  on_metric: Callable[[str], None] | None = None) -> tuple[UnitResult, dict[str, np.ndarray]]:
    """Compute one unit on its points (``points``: the whole track's, the unit takes its slice)."""
    import torch

    from benchbed.engine.batching import batch_size_info, run_halving, with_batch_size
    from benchbed.engine.context import EvaluationContext, GuardedModel
    from benchbed.engine.devices import device_name, resolve_device

    start = time.perf_counter()
    unit, track = task.unit, task.track
    device = resolve_device(task.device)
    model_spec = registry.models.get(unit.model)
    dataset = registry.datasets.get(track.dataset)
    versions = library_versions()
    plugins = plugin_provenance(registry, model_spec, track, task.expected.metrics)
    if dict(versions) != dict(task.expected.versions) or plugins != dict(task.expected.plugins):
        differ = _diff(task.expected, versions, plugins)
        raise BenchbedError(f"this worker's libraries or plugins differ from the run's ({differ}): install the same "
                            f"versions everywhere the run's units go")
    model = load_model(model_spec, device)
    weights = state_dict_sha256(model)
    if weights != task.expected.weights_sha256:
        raise BenchbedError(f"model {unit.model!r} loaded different weights than when the run was planned (fingerprint "
                            f"{weights[:12]}… vs {task.expected.weights_sha256[:12]}…): its loader is not "
                            f"deterministic, or its checkpoint changed during the run")
    guarded = GuardedModel(model, unit.model, dataset.num_classes).eval()
    sub = points.slice(unit.start, unit.stop).copy()  # this unit's own copy: nobody else's data

    def attempt(size: int):
        probe = sub.images[:min(PROBE_SIZE, size)]  # the probe is a batch too: it must fit
        with torch.no_grad(), guarded.phase("probe images"):
            guarded(probe.to(device))
        flags = model_flags(model_spec, model, probe, device)
        ctx = EvaluationContext(model=guarded, model_spec=model_spec, track=with_batch_size(track, size),
                                dataset=dataset, points=sub, indices=unit.indices, device=device,
                                attack=registry.attacks.get(track.attack),
                                data_dir=Path(task.data_dir) if task.data_dir else None,
                                cache_dir=Path(task.cache_dir) if task.cache_dir else None, registry=registry,
                                progress=progress)
        return flags, ctx, _compute_metrics(ctx, unit, registry, len(sub), on_metric)

    def halved(old: int, new: int) -> None:
        if progress is not None:
            progress(f"out of memory at batch size {old}: the unit restarts at {new}")

    (flags, ctx, (arrays, whole, info, errors)), _ = run_halving(attempt, track.batch_size, halved)
    attack = None
    if ctx.ran("attack"):
        spec = ctx.attack_spec
        result = ctx.attack_result
        attack = AttackProvenance(spec.name, spec.library, plugins.get("attack", {}).get("library_version", ""),
                                  result.version, dict(track.attack_options), dict(result.flipped_by),
                                  tuple(result.warnings))
    record = UnitResult(
        model=unit.model, track=track.name, variant=unit.variant, unit=unit.info(), metric_info=info,
        metric_errors=errors, attack=attack, flags=tuple(flags), arrays=tuple(sorted(arrays)),
        whole_arrays=tuple(sorted(whole)),
        weights_sha256=weights, checkpoint_sha256=model_spec.checkpoint_sha256, versions=dict(versions),
        plugins=plugins, model_info=model_spec.info(), device=device_name(device),
        track_info={**track.info(), **batch_size_info(track, ctx.track)},
        wall_time_s=round(time.perf_counter() - start, 3), timings_s={k: round(v, 3) for k, v in ctx.timings.items()},
        finished_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), run_id=task.run_id,
        attempt=task.attempt)
    return record, arrays


def _diff(expected: Expected, versions: Mapping[str, str], plugins: Mapping[str, Any]) -> str:
    out = [f"{k} {versions.get(k)} here vs {v}" for k, v in expected.versions.items() if versions.get(k) != v]
    out += [f"plugin {k}" for k, v in expected.plugins.items() if plugins.get(k) != v]
    return "; ".join(out[:3]) or "plugin set"


# -- on a worker: the registry and points built the way the driver's were -------------------------------------
_WORKER_REGISTRIES: dict[PluginSelection, Registry] = {}
_POINTS: dict[tuple, LabelledImages] = {}


def worker_registry(selection: PluginSelection) -> Registry:
    if selection not in _WORKER_REGISTRIES:
        _WORKER_REGISTRIES[selection] = PluginHost(selection).registry
    return _WORKER_REGISTRIES[selection]


def worker_points(track: TrackSpec, registry: Registry, data_dir: str | None) -> LabelledImages:
    key = (track.dataset, track.n_examples, data_dir)
    if key not in _POINTS:
        _POINTS.clear()  # keep one track's points at most
        _POINTS[key] = test_points(track, registry, Path(data_dir) if data_dir else None)
    return _POINTS[key]
