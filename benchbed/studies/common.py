"""What every study needs: the model (guarded), the track's points, provenance, and the stored result."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchbed.contracts.errors import ConfigError
from benchbed.contracts.specs import DatasetSpec, LabelledImages, ModelSpec, TrackSpec
from benchbed.results.record import ColumnInfo, StudyResult


def pick_track(registry, model_spec: ModelSpec, track_name: str | None) -> TrackSpec:
    """The track named, or the default one for the model's dataset and threat model; refuses a mismatch."""
    from benchbed.builtin.tracks import DEFAULT_TRACK

    if track_name is not None:
        track = registry.tracks.get(track_name)
    else:
        fits = [t for t in registry.tracks if t.dataset == model_spec.dataset and t.norm in model_spec.threat_models]
        fits.sort(key=lambda t: t.name != DEFAULT_TRACK)
        if not fits:
            raise ConfigError(f"no registered track evaluates {model_spec.dataset} models under "
                              f"{'/'.join(model_spec.threat_models)}: pass --track (see `benchbed tracks`)")
        track = fits[0]
    if track.dataset != model_spec.dataset:
        raise ConfigError(f"model {model_spec.name!r} is a {model_spec.dataset} model but track {track.name!r} uses "
                          f"{track.dataset}: pick a {model_spec.dataset} track (see `benchbed tracks`)")
    return track


@dataclass
class StudySetup:
    """One model on one track's first ``n`` test points, ready to attack."""

    registry: Any
    model_spec: ModelSpec
    track: TrackSpec
    dataset: DatasetSpec
    device: Any
    model: Any  # GuardedModel
    points: LabelledImages  # on the device
    weights_sha256: str
    versions: dict[str, str]
    plugins: dict[str, Any]

    def guard(self, module):
        """Another module of the same model (a training checkpoint), guarded like the model."""
        from benchbed.engine.context import GuardedModel

        return GuardedModel(module.to(self.device).eval(), self.model_spec.name, self.dataset.num_classes).eval()


def prepare(registry, model_name: str, track_name: str | None, *, n_examples: int | None, device: str | None,
            data_dir: Path | None, attacks: Sequence[str] = ()) -> StudySetup:
    """Check the request (one-line errors), then load the model and the points."""
    from benchbed.engine.devices import resolve_device
    from benchbed.engine.evaluation import load_model, test_points
    from benchbed.engine.runner import check_attack_norm, with_n_examples
    from benchbed.engine.units import attack_provenance
    from benchbed.results.provenance import library_versions, state_dict_sha256

    model_spec = registry.models.get(model_name)
    track = pick_track(registry, model_spec, track_name)
    for name in attacks:
        check_attack_norm(track, registry.attacks.get(name))
    track = with_n_examples(track, None if n_examples is None else min(n_examples, track.n_examples))
    dataset = registry.datasets.get(track.dataset)
    points = test_points(track, registry, data_dir)
    dev = resolve_device(device)
    module = load_model(model_spec, dev)
    plugins: dict[str, Any] = {"model": registry.provenance("models", model_spec.name),
                               "dataset": registry.provenance("datasets", track.dataset)}
    for name in attacks:
        plugins[f"attack:{name}"] = attack_provenance(registry, name)
    setup = StudySetup(registry=registry, model_spec=model_spec, track=track, dataset=dataset, device=dev,
                       model=None, points=LabelledImages(points.images.to(dev), points.labels.to(dev)),
                       weights_sha256=state_dict_sha256(module), versions=library_versions(), plugins=plugins)
    setup.model = setup.guard(module)
    return setup


def setup_for(request, attacks: Sequence[str] = ()) -> StudySetup:
    """:func:`prepare` for a :class:`benchbed.contracts.studies.StudyRequest`."""
    return prepare(request.registry, request.model, request.track, n_examples=request.n_examples,
                   device=request.device, data_dir=request.data_dir, attacks=attacks)


def names_option(request, name: str, default: Sequence[Any]) -> list[Any]:
    """A list option of the request (its default when not given); one line when it is empty."""
    value = request.options.get(name)
    if value is None:
        return list(default)
    values = list(value)
    if not values:
        raise ConfigError(f"--{name.replace('_', '-')} is empty: give a comma-separated list")
    return values


def run_attack(setup: StudySetup, model, attack: str, eps: float, options: Mapping[str, Any] | None = None,
               seed: int | None = None):
    """Run a registered attack on all the setup's points; (x* on every point, moved mask, kind)."""
    import torch

    from benchbed.contracts.specs import AttackRequest

    spec = setup.registry.attacks.get(attack)
    if not spec.provides:
        raise ConfigError(f"attack {attack!r} hands back no iterate kind (AttackSpec.provides) the study could read: "
                          f"use one of the study attacks (see `benchbed attacks`)")
    request = AttackRequest(model=model, images=setup.points.images.clone(), labels=setup.points.labels.clone(),
                            norm=setup.track.norm, eps=float(eps), seed=setup.track.seed if seed is None else seed,
                            device=setup.device, batch_size=setup.track.batch_size, options=dict(options or {}))
    with model.phase("adversarial inputs"):
        result = spec.run(request)
    kind = spec.provides[0]
    iterate = result.iterates.get(kind)
    if iterate is None:
        raise ConfigError(f"attack {attack!r} declared it provides {kind!r} iterates but returned none")
    return iterate.images.to(setup.device), torch.as_tensor(iterate.mask).cpu(), kind


def column(name: str, description: str, unit: str = "", higher_is_better: bool | None = None, *, kind: str,
           order: int) -> tuple[str, ColumnInfo]:
    return name, ColumnInfo(kind, description, higher_is_better, unit, order=order)


def columns_of(kind: str, spec: Sequence[tuple[str, str, str]]) -> dict[str, ColumnInfo]:
    """Study columns from (name, unit, description) triples, in order."""
    return dict(column(n, d, u, kind=kind, order=i) for i, (n, u, d) in enumerate(spec))


def make_study(setup: StudySetup, kind: str, *, params: dict[str, Any], rows: Sequence[dict[str, Any]],
               columns: dict[str, ColumnInfo] | Sequence[tuple[str, str, str]], summary: dict[str, Any],
               wall_time_s: float) -> StudyResult:
    """The stored result of a study of ``setup``'s model: its rows, their columns ({name: ColumnInfo}, or
    (name, unit, description) triples in order), parameters, summary and the setup's provenance."""
    from benchbed.engine.devices import device_name
    from benchbed.results.provenance import stable_hash

    if not isinstance(columns, Mapping):
        columns = columns_of(kind, columns)
    key = stable_hash({"kind": kind, "model": setup.model_spec.name, "weights": setup.weights_sha256,
                       "track": setup.track.key_info(), "params": params, "versions": setup.versions,
                       "plugins": setup.plugins})
    return StudyResult(
        kind=kind, model=setup.model_spec.name, track=setup.track.name, params=params, rows=tuple(rows),
        columns=columns, summary=summary, arrays=(), weights_sha256=setup.weights_sha256,
        checkpoint_sha256=setup.model_spec.checkpoint_sha256, versions=dict(setup.versions),
        plugins=dict(setup.plugins), model_info=setup.model_spec.info(), track_info=setup.track.info(), key=key,
        device=device_name(setup.device), wall_time_s=round(wall_time_s, 3),
        finished_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))


def as_numpy(values) -> np.ndarray:
    import torch

    if isinstance(values, torch.Tensor):
        return values.detach().to("cpu", torch.float64).numpy()
    return np.asarray(values, dtype=np.float64)


prepare_study = setup_for  # the public names (benchbed.plugin)
study_result = make_study
