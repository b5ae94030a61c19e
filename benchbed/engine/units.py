"""Units of work: (model, track, shard of whole attack blocks), and what their numbers depend on.

A track's test points are cut into attack blocks of ``track.block_size`` examples (block ``b`` is
attacked with seed ``track.seed + b``, see :mod:`benchbed.engine.context`). A run with ``--shards N`` groups
the blocks into ``N`` contiguous shards, one unit per (model, shard). Because every block sees the
same attack calls whichever shard it lands in, the per-point arrays of the shards, concatenated,
are exactly the arrays of an unsharded run, and every number is a declared reduction of them
(:mod:`benchbed.contracts.reductions`), so sharded and unsharded numbers agree exactly.

Metric scope (``MetricSpec.scope``): ``"example"`` metrics run in every shard; ``"model"`` metrics
(e.g. FID of samples, which does not depend on the test points) run once per model, in a unit of
their own (``model``) whenever the model also has per-point metrics: an unsharded run is then two
units, ``points`` and ``model``, which side by side fill the CPUs a model's long attack leaves idle
at the end of a run. A model with metrics of one scope only is one unit, ``all``.

Keys: a record is reused only when its :func:`result_key` matches -- the model's name, claimed
checksum and the fingerprint of the weights benchbed loaded; what in the track changes numbers; the
metrics run; the library versions; and the version of every plugin involved (model, dataset,
attack and its library, metrics, sampler).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from benchbed.contracts.errors import ConfigError
from benchbed.contracts.specs import ModelSpec, TrackSpec
from benchbed.results.provenance import distribution_version, stable_hash
from benchbed.results.record import UnitInfo

ALL = "all"
POINTS = "points"  # an unsharded run's per-point metrics, when the model-level ones are a unit of their own
MODEL = "model"


@dataclass(frozen=True)
class Unit(UnitInfo):
    """One piece of work: a model on test points [start, stop) of a track (or the model-level unit).

    Its :class:`~benchbed.results.record.UnitInfo` part (id, shard, range, metrics, key) is what records
    keep of it; ``info()`` is that part alone."""

    model: str
    track: str
    variant: str

    @property
    def uid(self) -> str:  # "all" | "points" | "shard-0002-of-0004" | "model"
        return self.id

    @property
    def indices(self) -> np.ndarray:
        return np.arange(self.start, self.stop, dtype=np.int64)

    def describe(self) -> str:
        if self.uid == ALL:
            return f"{self.model}"
        if self.uid == MODEL:
            return f"{self.model} [model-level metrics]"
        if self.uid == POINTS:
            return f"{self.model} [per-point metrics]"
        return f"{self.model} [shard {self.shard + 1}/{self.n_shards}: points {self.start}-{self.stop - 1}]"

    def info(self) -> UnitInfo:
        return UnitInfo(**{f.name: getattr(self, f.name) for f in fields(UnitInfo)})


def shard_id(shard: int, n_shards: int) -> str:
    return f"shard-{shard + 1:04d}-of-{n_shards:04d}"


def n_blocks(track: TrackSpec) -> int:
    return math.ceil(track.n_examples / track.block_size)


def shard_ranges(track: TrackSpec, n_shards: int) -> list[tuple[int, int]]:
    """[start, stop) example ranges of ``n_shards`` contiguous groups of whole attack blocks."""
    blocks = n_blocks(track)
    n_shards = max(1, min(n_shards, blocks))
    groups = np.array_split(np.arange(blocks), n_shards)
    return [(int(g[0]) * track.block_size, min(track.n_examples, (int(g[-1]) + 1) * track.block_size))
            for g in groups]


def variant_of(registered: TrackSpec, track: TrackSpec, metrics: Sequence[str]) -> str:
    """"" for the registered track's own protocol; else what differs: ``n<points>`` (quick mode),
    the attack mode's name (``--attack-mode``, e.g. ``fast``), ``a<hash>`` (other attack or attack
    options), ``m<hash>`` (a metric selection)."""
    parts = []
    if track.n_examples != registered.n_examples:
        parts.append(f"n{track.n_examples}")
    if track.attack_mode != registered.attack_mode:
        parts.append(track.attack_mode)  # a mode the attack declares (a checked plain word)
    elif (track.attack, dict(track.attack_options)) != (registered.attack, dict(registered.attack_options)):
        parts.append("a" + stable_hash([track.attack, dict(track.attack_options)])[:8])
    if tuple(metrics) != tuple(registered.metrics):
        parts.append("m" + stable_hash(list(metrics))[:8])
    return "-".join(parts)


def attack_provenance(registry, name: str) -> dict[str, Any]:
    """The attack's plugin and the version of the library that does its work (both change its numbers)."""
    attack = registry.attacks.get(name)
    return {**registry.provenance("attacks", name), "library": attack.library,
            "library_version": distribution_version(attack.library) if attack.library else ""}


def plugin_provenance(registry, model: ModelSpec, track: TrackSpec, metrics: Sequence[str]) -> dict[str, Any]:
    """The plugins (and the attack's library) whose code makes this model's numbers on this track."""
    out: dict[str, Any] = {"model": registry.provenance("models", model.name),
                           "dataset": registry.provenance("datasets", track.dataset)}
    specs = [registry.metrics.get(m) for m in metrics]
    if any("attack" in s.requires for s in specs):
        out["attack"] = attack_provenance(registry, track.attack)
    for spec in specs:
        out[f"metric:{spec.name}"] = registry.provenance("metrics", spec.name)
    if track.generation is not None and any("generation" in s.requires for s in specs):
        name = track.generation.sampler_for(model)
        out[f"sampler:{name}"] = registry.provenance("samplers", name)
    return out


def result_key(model: ModelSpec, weights_sha256: str, track: TrackSpec, metrics: Sequence[str],
               versions: Mapping[str, str], plugins: Mapping[str, Any]) -> str:
    """What a model's numbers on a track depend on (not how the work was sharded)."""
    return stable_hash({"model": model.name, "checkpoint": model.checkpoint_sha256, "weights": weights_sha256,
                        "track": track.key_info(), "metrics": list(metrics), "versions": dict(versions),
                        "plugins": dict(plugins)})


def plan_units(model: ModelSpec, track: TrackSpec, registry, n_shards: int, *, metrics: Sequence[str],
               variant: str, result: str) -> list[Unit]:
    """The units of one model on one track. ``n_shards`` is capped at the track's number of blocks."""
    if n_shards < 1:
        raise ConfigError(f"--shards must be >= 1, got {n_shards}")
    ranges = shard_ranges(track, n_shards)
    k = len(ranges)

    def unit(uid: str, shard: int | None, start: int, stop: int, names: Sequence[str]) -> Unit:
        key = stable_hash({"result": result, "unit": uid, "start": start, "stop": stop, "metrics": list(names)})
        return Unit(id=uid, shard=shard, n_shards=k, start=start, stop=stop, metrics=tuple(names), key=key,
                    model=model.name, track=track.name, variant=variant)

    example = [m for m in metrics if registry.metrics.get(m).scope == "example"]
    model_level = [m for m in metrics if m not in example]
    if k == 1 and not (example and model_level):
        return [unit(ALL, 0, 0, track.n_examples, metrics)]
    if k == 1:
        units = [unit(POINTS, 0, 0, track.n_examples, example)]
    else:
        units = [unit(shard_id(i, k), i, start, stop, example) for i, (start, stop) in enumerate(ranges)] \
            if example else []
    if model_level:
        units.append(unit(MODEL, None, 0, track.n_examples, model_level))
    return units
