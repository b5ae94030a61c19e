"""One planning path for ``benchbed run`` and ``benchbed.evaluate``.

A run is asked for with a :class:`RunOptions` (the options of ``benchbed run``). :func:`resolve_run`
turns it into a :class:`RunSetup` -- the resolved track (quick mode, attack mode), the metrics, the
variant the record is stored as, the library versions and the run's id -- and :func:`plan_model`
turns one model (and the fingerprint of its weights) into its :class:`ModelPlan`: the plugins its
numbers depend on, its result key and its units. The scheduler (:mod:`benchbed.engine.scheduler`)
and :func:`benchbed.evaluate` both plan through these two functions, so a registered model gets the
same record from either.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from benchbed.contracts.errors import ConfigError
from benchbed.contracts.events import (
    MetricDone,
    Observers,
    RunInfo,
    RunStart,
    UnitDone,
    UnitFailed,
    UnitProgress,
    UnitStart,
    progress_milestone,
)
from benchbed.contracts.specs import ModelSpec, TrackSpec
from benchbed.engine.evaluation import Expected, UnitTask
from benchbed.engine.preflight import check_run
from benchbed.engine.resolve import parse_shard, registered_track, resolve_track, select_metrics
from benchbed.engine.units import Unit, plan_units, plugin_provenance, result_key, variant_of
from benchbed.registry import PluginSelection, Registry
from benchbed.results.provenance import library_versions
from benchbed.results.record import UnitResult
from benchbed.results.runlog import new_run_id


@dataclass(frozen=True)
class RunOptions:
    """What a run is asked to do: the options of ``benchbed run``, as one value.

    ``n_examples``: the first N test points (a quick mode, stored as its own variant). ``metrics``:
    compute only these (of the track's, or added registered metrics; a partial record, its own
    variant). ``attack_mode``: "standard" (default) or a cheaper mode the attack declares (its own
    variant). ``shards``: cut each model's test points into this many units of whole attack blocks.
    ``shard``: run only this shard here (0-based int, or ``"I/N"`` 1-based, as on the CLI).
    ``executor``: a registered executor (``local``, ``ray``) with its ``address``, ``workers`` and
    ``retries``. ``force``: recompute even what is stored and current. ``run_log``: append events
    to ``runlog.jsonl``.
    """

    track: str | TrackSpec
    models: tuple[str, ...] = ()
    n_examples: int | None = None
    metrics: tuple[str, ...] | str | None = None
    attack_mode: str | None = None
    device: str | None = None
    threads: int | None = None
    shards: int = 1
    shard: int | str | None = None
    executor: str = "local"
    address: str | None = None
    workers: int | None = None
    retries: int | None = None
    force: bool = False
    results_dir: str | Path | None = None
    data_dir: str | Path | None = None
    cache_dir: str | Path | None = None
    show_progress: bool = True
    run_log: bool = True

    def __post_init__(self):  # accept lists (as the CLI and callers give them) and keep the value hashable
        if not isinstance(self.models, tuple):
            object.__setattr__(self, "models", tuple(self.models or ()))
        if self.metrics is not None and not isinstance(self.metrics, (str, tuple)):
            object.__setattr__(self, "metrics", tuple(self.metrics))

    def replace(self, **changes) -> RunOptions:
        return replace(self, **changes)


@dataclass(frozen=True)
class RunSetup:
    """A run resolved once: what every model of it is planned against."""

    track: TrackSpec  # with the quick mode and attack mode applied
    registered: TrackSpec  # the track as registered (the full protocol)
    metrics: tuple[str, ...]
    variant: str  # "" for the registered protocol, else what differs (see units.variant_of)
    versions: dict[str, str]
    run_id: str
    data_dir: Path | None = None
    cache_dir: Path | None = None
    n_shards: int = 1
    only_shard: int | None = None  # 0-based: the one shard this run computes; None: all
    force: bool = False
    threads: int | None = None  # torch CPU threads per unit (None: torch's default)
    threads_said: str | None = None  # how they were chosen, in words (the run's first line)
    device: str | None = None  # resolved by the runner once the executor is known
    selection: PluginSelection | None = None  # the plugins workers load

    @property
    def shard_label(self) -> str | None:
        return None if self.only_shard is None else f"{self.only_shard + 1}/{self.n_shards}"


@dataclass(frozen=True)
class ModelPlan:
    """One model's plan: its result key, its units and what a worker must find to compute them."""

    spec: ModelSpec
    key: str
    units: list[Unit] = field(default_factory=list)
    expected: Expected | None = None


def resolve_run(options: RunOptions, registry: Registry, *, single_unit: bool = False) -> RunSetup:
    """Resolve the track, the metrics, the variant, the shards and the threads of a run (one-line errors)."""
    track = resolve_track(options.track, registry, options.n_examples, options.attack_mode)
    registered = registered_track(track, registry)
    metrics = select_metrics(track, registry, options.metrics)
    n_shards, only_shard = resolve_shards(options.shards, options.shard)
    threads, threads_said = cpu_threads(options.threads, options.device, single_unit=single_unit)
    return RunSetup(track, registered, metrics, variant_of(registered, track, metrics), library_versions(),
                    new_run_id(), Path(options.data_dir).resolve() if options.data_dir else None,
                    Path(options.cache_dir).resolve() if options.cache_dir else None, n_shards=n_shards,
                    only_shard=only_shard, force=options.force, threads=threads, threads_said=threads_said,
                    device=options.device)


def resolve_shards(shards: int, shard: int | str | None) -> tuple[int, int | None]:
    """(number of shards, the 0-based shard this run computes or None for all), checked."""
    if isinstance(shard, str):
        only_shard, n_shards = parse_shard(shard)
        if shards not in (1, n_shards):
            raise ConfigError(f"--shard {shard} says {n_shards} shards but --shards says {shards}: drop one")
        shards = n_shards
    else:
        only_shard = shard
    if shards < 1:
        raise ConfigError(f"--shards must be >= 1, got {shards}")
    if only_shard is not None and not 0 <= only_shard < shards:
        raise ConfigError(f"shard {only_shard} is out of range for {shards} shard(s)")
    return shards, only_shard


def preflight(setup: RunSetup, registry: Registry, models: Sequence[ModelSpec], executor: str | None = None) -> None:
    """Every missing thing (data, optional libraries, plugins), listed before any work starts."""
    check_run(setup.track, setup.metrics, registry, setup.data_dir, executor, list(models))


def plan_model(model: ModelSpec, weights_sha256: str, setup: RunSetup, registry: Registry,
               n_shards: int = 1) -> ModelPlan:
    """The plan of ``model`` (whose loaded weights have fingerprint ``weights_sha256``) in this run."""
    plugins = plugin_provenance(registry, model, setup.track, setup.metrics)
    key = result_key(model, weights_sha256, setup.track, setup.metrics, setup.versions, plugins)
    units = plan_units(model, setup.track, registry, n_shards, metrics=setup.metrics, variant=setup.variant,
                       result=key)
    return ModelPlan(model, key, units, Expected(weights_sha256, dict(setup.versions), plugins, setup.metrics))


def cpu_threads(threads: int | None, device: str | None, *, single_unit: bool = False,
                ) -> tuple[int | None, str | None]:
    """torch CPU threads per unit, and how they were chosen. A run leaves the default to its executor (the
    local one picks workers x threads once it knows how many units there are, engine/cpu.py);
    ``single_unit`` (benchbed.evaluate) gives one unit on the CPU the idle CPUs, sampled."""
    if threads is not None:
        return threads, f"{threads} (--threads)"
    if single_unit and (device is None or str(device).startswith("cpu")):
        from benchbed.engine.cpu import plan_cpus, sample_cpus

        return plan_cpus(1, sample_cpus(), side_by_side=False).threads, None
    return None, None


def start_observers(setup: RunSetup, options: RunOptions, registry: Registry, models: Sequence[str], *,
                    planned: int, executor: str, results: str) -> Observers:
    """The run's observers, told that it starts (:class:`RunInfo`, then a ``run_start`` event)."""
    mode, device = options.attack_mode, setup.device
    cpus = "cpus" if executor == "local" else "threads"  # the local executor says workers x threads
    header = {"device": device or "auto", cpus: setup.threads_said or "torch's default", "executor": executor,
              "shards": setup.n_shards, "n_examples": setup.track.n_examples, "metrics": ",".join(setup.metrics),
              **({"attack_mode": mode} if mode not in (None, "standard") else {}),
              **({"variant": setup.variant} if setup.variant else {})}
    info = RunInfo(run_id=setup.run_id, track=setup.track.name, models=tuple(models), results_dir=results,
                   planned=planned, show_progress=options.show_progress, run_log=options.run_log, header=header)
    observers = Observers(info, list(registry.observers))
    observers.emit(RunStart(
        models=list(models), shards=setup.n_shards, variant=setup.variant, force=setup.force,
        shard=setup.shard_label, n_examples=setup.track.n_examples,
        metrics=list(setup.metrics), executor=executor, device=device, planned=planned, argv=list(sys.argv),
        results=results))
    return observers


# -- the unit events both the scheduler and benchbed.evaluate send (same kinds, same fields) ----------------
def unit_start(task: UnitTask) -> UnitStart:
    unit = task.unit
    return UnitStart(model=unit.model, unit=unit.uid, attempt=task.attempt, describe=unit.describe(),
                     metrics=list(unit.metrics), start=unit.start, stop=unit.stop, key=unit.key)


def unit_done(task: UnitTask, seconds: float, result: UnitResult) -> UnitDone:
    unit = task.unit
    return UnitDone(model=unit.model, unit=unit.uid, key=unit.key, attempt=task.attempt, seconds=round(seconds, 3),
                    device=result.device, errors=dict(result.metric_errors))


def unit_progress(task: UnitTask, message: str) -> UnitProgress:
    return UnitProgress(model=task.unit.model, unit=task.unit.uid, message=message,
                        milestone=progress_milestone(message))


def metric_done(task: UnitTask, metric: str) -> MetricDone:
    return MetricDone(model=task.unit.model, unit=task.unit.uid, metric=metric)


def unit_failed(task: UnitTask, error: str, detail: str = "") -> UnitFailed:
    unit = task.unit
    return UnitFailed(model=unit.model, unit=unit.uid, attempt=task.attempt, message=error, detail=detail[-4000:])
