"""Resolving what a run asks for: the track (quick mode, attack mode), its metrics, its models, a shard.

Every check here refuses bad input in one line naming the fix, before any work starts; ``benchbed run``,
``benchbed.evaluate`` and the studies all resolve through these functions.
"""
from __future__ import annotations

from collections.abc import Sequence

from benchbed.contracts.errors import ConfigError, UnknownNameError
from benchbed.contracts.specs import AttackSpec, ModelSpec, TrackSpec
from benchbed.registry import Registry


def resolve_track(track: str | TrackSpec, registry: Registry, n_examples: int | None = None,
                  attack_mode: str | None = None) -> TrackSpec:
    spec = registry.tracks.get(track) if isinstance(track, str) else track
    registry.datasets.get(spec.dataset)
    attack = registry.attacks.get(spec.attack)
    spec = with_attack_mode(spec, attack_mode, attack)
    _check_attack_fits(spec, attack)
    for name in spec.metrics:
        registry.metrics.get(name)
    return with_n_examples(spec, n_examples)


def with_n_examples(track: TrackSpec, n_examples: int | None) -> TrackSpec:
    """The track on its first ``n_examples`` test points (a quick mode); None leaves it."""
    if n_examples is None:
        return track
    if n_examples <= 0:
        raise ConfigError(f"--n-examples must be a positive number of test points, got {n_examples}")
    return track.replace(n_examples=n_examples)


def check_attack_norm(track: TrackSpec, attack: AttackSpec) -> None:
    """Refuse an attack that does not declare the track's norm (AttackSpec.norms)."""
    if not attack.supports(track.norm):
        raise ConfigError(f"track {track.name!r} attacks in {track.norm} but attack {attack.name!r} supports only "
                          f"{', '.join(attack.norms) or 'no norm'}: pick an attack for {track.norm} "
                          f"(`benchbed attacks`) or fix the attack's AttackSpec.norms")


def _check_attack_fits(track: TrackSpec, attack) -> None:
    """Refuse, before any work, a track whose norm or options its attack does not declare."""
    check_attack_norm(track, attack)
    unknown = sorted(set(track.attack_options) - set(attack.options)) if attack.options else []
    if unknown:
        raise ConfigError(f"track {track.name!r} passes attack option(s) {', '.join(unknown)} that attack "
                          f"{attack.name!r} does not accept (it accepts: {', '.join(attack.options)}): "
                          f"remove them from the track's attack_options")


def with_attack_mode(track: TrackSpec, mode: str | None, attack: AttackSpec) -> TrackSpec:
    """The track with ``--attack-mode`` applied: "standard" (or None) leaves it; another name picks one of
    the option sets its attack declares (``AttackSpec.modes``), recorded as the track's ``attack_mode``."""
    if mode in (None, "", "standard"):
        return track
    if mode not in attack.modes:
        offered = ", ".join(["standard", *attack.modes])
        raise ConfigError(f"attack {attack.name!r} of track {track.name!r} has no mode {mode!r}: choose one of "
                          f"{offered}")
    return track.replace(attack_options=dict(attack.modes[mode]), attack_mode=mode)


def registered_track(track: TrackSpec, registry: Registry) -> TrackSpec:
    """The track as registered (the full protocol a quick run is compared with)."""
    return registry.tracks.get(track.name) if track.name in registry.tracks else track


def select_metrics(track: TrackSpec, registry: Registry, metrics: Sequence[str] | str | None) -> tuple[str, ...]:
    """The metrics a run computes: the track's (default), or a selection -- of the track's metrics, or of
    any registered metric (added to the track's run). Order: the track's first, then added ones."""
    if metrics is None:
        return tuple(track.metrics)
    if isinstance(metrics, str):
        metrics = [m for m in metrics.split(",") if m.strip()]
    chosen = list(dict.fromkeys(m.strip() for m in metrics))
    if not chosen:
        raise ConfigError(f"no metric selected: pick some of track {track.name!r}'s metrics "
                          f"({', '.join(track.metrics)}) or leave the selection out for all")
    for name in chosen:
        if name not in registry.metrics:
            err = UnknownNameError("metric", name, registry.metrics.names())
            raise ConfigError(f"{err} (track {track.name!r} computes: {', '.join(track.metrics)})") from None
    return tuple(m for m in track.metrics if m in chosen) + tuple(m for m in chosen if m not in track.metrics)


def resolve_models(track: TrackSpec, registry: Registry, names: list[str] | None) -> list[ModelSpec]:
    if not names:
        models = registry.models_for(track)
        if not models:
            raise ConfigError(f"no installed model is registered for track {track.name!r} (dataset "
                              f"{track.dataset}, {track.norm}): install a model plugin, see `benchbed models`")
        return models
    models = []
    for name in names:
        model = registry.models.get(name)
        check_model_fits(model, track)
        models.append(model)
    return models


def check_model_fits(model: ModelSpec, track: TrackSpec) -> None:
    """Refuse, in one line, a model of another dataset than the track's."""
    if model.dataset != track.dataset:
        raise ConfigError(f"model {model.name!r} is a {model.dataset} model but track {track.name!r} uses "
                          f"{track.dataset}: pick a {model.dataset} track (see `benchbed tracks`)")


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> (1, 4): the 0-based shard index and the number of shards (the CLI is 1-based)."""
    try:
        index, count = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ConfigError(f"--shard {text!r}: write it as I/N, e.g. --shard 2/4 for the second of 4 shards") from None
    if count < 1 or not 1 <= index <= count:
        raise ConfigError(f"--shard {text!r}: I must be between 1 and N (got {index}/{count})")
    return index - 1, count
