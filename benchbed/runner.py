"""Run a track: every model, every metric, one record per (model, track); broken models are isolated."""
from __future__ import annotations

import datetime as dt
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import plugins
from .context import EvaluationContext, check_logits
from .devices import device_name, resolve_device
from .errors import BenchbedError, ConfigError
from .provenance import library_versions, stable_hash
from .specs import LabelledImages, MetricResult, ModelSpec, TrackSpec
from .store import SCHEMA_VERSION, ResultsStore


@dataclass
class UnitOutcome:
    model: str
    status: str  # "ok" | "failed"
    record: dict[str, Any] | None = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class RunSummary:
    track: str
    outcomes: list[UnitOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[UnitOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def records(self) -> list[dict[str, Any]]:
        return [o.record for o in self.outcomes if o.record is not None]


def resolve_track(track: str | TrackSpec, registry, n_examples: int | None = None) -> TrackSpec:
    spec = registry.track(track) if isinstance(track, str) else track
    registry.dataset(spec.dataset)
    registry.attack(spec.attack)
    for name in spec.metrics:
        registry.metric(name)
    if n_examples is not None:
        if n_examples <= 0:
            raise ConfigError(f"--n-examples must be a positive number of test points, got {n_examples}")
        spec = spec.replace(n_examples=n_examples)
    return spec


def resolve_models(track: TrackSpec, registry, names: list[str] | None) -> list[ModelSpec]:
    if not names:
        models = registry.models_for(track)
        if not models:
            raise ConfigError(f"no installed model is registered for track {track.name!r} (dataset "
                              f"{track.dataset}, {track.norm}): install a model plugin, see `benchbed models`")
        return models
    models = []
    for name in names:
        model = registry.model(name)
        if model.dataset != track.dataset:
            raise ConfigError(f"model {name!r} is a {model.dataset} model but track {track.name!r} uses "
                              f"{track.dataset}: pick a {model.dataset} track (see `benchbed tracks`)")
        models.append(model)
    return models


def test_points(track: TrackSpec, registry, data_dir: Path | None) -> LabelledImages:
    split = registry.dataset(track.dataset).load("test", data_dir)
    if track.n_examples > len(split):
        raise ConfigError(f"track {track.name!r} asks for {track.n_examples} examples but the "
                          f"{track.dataset} test split has only {len(split)}: use --n-examples {len(split)} or fewer")
    return LabelledImages(split.images[: track.n_examples], split.labels[: track.n_examples])


def unit_key(model: ModelSpec, track: TrackSpec, indices: np.ndarray, versions: dict[str, str]) -> str:
    """What a finished unit's numbers depend on: reuse it only when all of this is unchanged."""
    return stable_hash({
        "model": model.name, "checkpoint": model.checkpoint_sha256, "track": track.info(),
        "indices": [int(indices[0]), int(indices[-1]), len(indices)], "versions": versions,
    })


def _columns(registry, track: TrackSpec) -> dict[str, dict[str, Any]]:
    out = {}
    for metric_name in track.metrics:
        for col in registry.metric(metric_name).columns:
            out[col.name] = {"metric": metric_name, "description": col.description,
                             "higher_is_better": col.higher_is_better, "unit": col.unit}
    return out


def _registered_n_examples(registry, track: TrackSpec) -> int:
    registered = registry.items["tracks"].get(track.name)
    return registered.n_examples if registered is not None else track.n_examples


def _as_result(value) -> MetricResult:
    return value if isinstance(value, MetricResult) else MetricResult(values=dict(value))


def evaluate_unit(model_spec: ModelSpec, track: TrackSpec, points: LabelledImages, indices: np.ndarray,
                  device, registry, *, data_dir: Path | None = None, cache_dir: Path | None = None,
                  progress=None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Evaluate one model on some of a track's points. Raises on any failure."""
    import torch

    start = time.perf_counter()
    dataset = registry.dataset(track.dataset)
    model = model_spec.load(device)
    probe = points.images[: min(8, len(points))]
    with torch.no_grad():
        check_logits(model(probe.to(device)), len(probe), dataset.num_classes, model_spec.name)
    ctx = EvaluationContext(model=model, model_spec=model_spec, track=track, dataset=dataset, points=points,
                            indices=indices, device=device, attack=registry.attack(track.attack),
                            data_dir=data_dir, cache_dir=cache_dir, registry=registry, progress=progress)
    columns = _columns(registry, track)
    values: dict[str, float] = {}
    arrays: dict[str, np.ndarray] = {"index": np.asarray(indices, dtype=np.int64)}
    info: dict[str, Any] = {}
    for metric_name in track.metrics:
        metric = registry.metric(metric_name)
        t0 = time.perf_counter()
        result = _as_result(metric.compute(ctx))
        ctx.timings[f"metric:{metric_name}"] = time.perf_counter() - t0
        declared = {c.name for c in metric.columns}
        for column, value in result.values.items():
            if column not in declared:
                raise BenchbedError(f"metric {metric_name!r} returned undeclared column {column!r}: "
                                    f"declare it in the metric's columns")
            values[column] = float(value)
        arrays.update({k: np.asarray(v) for k, v in result.arrays.items()})
        if result.info:
            info[metric_name] = result.info
    versions = library_versions()
    attack_info = info.get("robust_accuracy", {})
    record = {
        "schema_version": SCHEMA_VERSION,
        "status": "ok",
        "model": model_spec.name,
        "track": track.name,
        "dataset": track.dataset,
        "metrics": values,
        "columns": columns,
        "n_examples": len(points),
        # quick mode: fewer points than the registered track asks for (recorded, shown on the pages)
        "quick": len(points) < _registered_n_examples(registry, track),
        "seed": track.seed,
        "norm": track.norm,
        "eps": track.eps,
        "attack": {"name": track.attack, "version": attack_info.get("attack_version",
                                                                    track.attack_options.get("version")),
                   "flipped_by": attack_info.get("flipped_by", {}), "warnings": attack_info.get("warnings", [])},
        "flags": list(attack_info.get("warnings", [])),
        "metric_info": info,
        "arrays": sorted(arrays),
        "wall_time_s": round(time.perf_counter() - start, 3),
        "timings_s": {k: round(v, 3) for k, v in ctx.timings.items()},
        "device": device_name(device),
        "versions": versions,
        "checkpoint_sha256": model_spec.checkpoint_sha256,
        "model_info": model_spec.info(),
        "track_info": track.info(),
        "unit_key": unit_key(model_spec, track, indices, versions),
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return record, arrays


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, BenchbedError):
        return str(exc)
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"


def run_track(track: str | TrackSpec, models: list[str] | None = None, *, n_examples: int | None = None,
              device: str | None = None, results_dir: str | Path | None = None, data_dir: str | Path | None = None,
              registry=None, show_progress: bool = True) -> RunSummary:
    from tqdm.auto import tqdm

    registry = registry or plugins.registry()
    spec = resolve_track(track, registry, n_examples)
    model_specs = resolve_models(spec, registry, models)
    torch_device = resolve_device(device)
    data_dir = Path(data_dir) if data_dir else None
    points = test_points(spec, registry, data_dir)
    indices = np.arange(len(points))
    store = ResultsStore(results_dir)
    summary = RunSummary(spec.name)
    bar = tqdm(model_specs, desc=f"{spec.name}", unit="model", disable=not show_progress)
    for model_spec in bar:
        bar.set_postfix_str(model_spec.name)
        t0 = time.perf_counter()
        note = lambda msg, _m=model_spec.name: bar.set_postfix_str(f"{_m}: {msg}")  # noqa: E731
        try:
            record, arrays = evaluate_unit(model_spec, spec, points, indices, torch_device, registry,
                                           data_dir=data_dir, progress=note)
        except Exception as exc:  # one broken model must not stop the others
            message = describe_error(exc)
            store.write_failure({"status": "failed", "model": model_spec.name, "track": spec.name,
                                 "error": message, "versions": library_versions()})
            summary.outcomes.append(UnitOutcome(model_spec.name, "failed", error=message,
                                                seconds=time.perf_counter() - t0))
            tqdm.write(f"benchbed: model {model_spec.name!r} failed: {message}")
            continue
        store.write(record, arrays)
        summary.outcomes.append(UnitOutcome(model_spec.name, "ok", record=record, seconds=time.perf_counter() - t0))
    return summary
