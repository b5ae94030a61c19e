"""Run a track: resolve what to run, then hand it to a :class:`~benchbed.engine.scheduler.Scheduler`.

:func:`run` is what ``benchbed run`` calls, with a :class:`~benchbed.engine.planning.RunOptions`: it
resolves the track (and a quick mode or a metric selection, which make a *variant* stored beside the
full-protocol record, never over it), the models, the executor and the run's observers, loads the test
points once, plans (:func:`benchbed.engine.planning.plan_model`, per model) and runs.
:func:`run_track` is the same with keyword arguments.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from benchbed import registry as plugin_registry
from benchbed.contracts.specs import TrackSpec
from benchbed.engine import planning
from benchbed.engine.cpu import choose_local_cpus
from benchbed.engine.evaluation import test_points
from benchbed.engine.executors.pool import refuse_in_starting_worker, registry_shareable
from benchbed.engine.planning import RunOptions
from benchbed.engine.resolve import (  # noqa: F401  (re-exported: the names callers import from here)
    check_attack_norm,
    check_model_fits,
    parse_shard,
    registered_track,
    resolve_models,
    resolve_track,
    select_metrics,
    with_attack_mode,
    with_n_examples,
)
from benchbed.engine.scheduler import RunSummary, Scheduler
from benchbed.registry import PluginSelection, Registry
from benchbed.results.store import ResultsStore


def make_executor(name: str, registry: Registry, **options):
    """An executor by registered name; options that are None are left to the executor's defaults."""
    spec = registry.executors.get(name)
    return spec.make(**{k: v for k, v in options.items() if v is not None})


def run(options: RunOptions, *, registry: Registry | None = None,
        selection: PluginSelection | None = None) -> RunSummary:
    """Evaluate ``options.models`` (default: all registered for the track) on ``options.track``, unit by unit."""
    refuse_in_starting_worker()
    shareable = registry_shareable(registry, selection)
    registry = registry or plugin_registry.registry()
    setup = planning.resolve_run(options, registry)
    spec = setup.track
    model_specs = resolve_models(spec, registry, list(options.models))
    store = ResultsStore(options.results_dir)
    planning.preflight(setup, registry, model_specs, options.executor)  # every missing thing, before any work
    device = options.device
    exe = make_executor(options.executor, registry, address=options.address, workers=options.workers,
                        threads=setup.threads, retries=options.retries,
                        device=device if options.executor != "local" else None)
    if exe.name == "local":
        from benchbed.engine.devices import resolve_device

        device = str(resolve_device(device))
    setup = replace(setup, device=device, selection=selection or plugin_registry.host().selection)
    points = test_points(spec, registry, setup.data_dir)
    shards, only_shard = setup.n_shards, setup.only_shard
    if only_shard is not None and shards > 1 and only_shard * spec.block_size >= spec.n_examples:
        sys.stderr.write(f"benchbed: warning: track {spec.name!r} has fewer than {only_shard + 1} shard(s) of whole "
                         f"attack blocks ({spec.block_size} examples each); shard {only_shard + 1}/{shards} has no "
                         f"examples\n")
    scheduler = Scheduler(setup, model_specs, registry=registry, store=store, executor=exe, points=points)
    scheduler.plan()  # fingerprints the models first, so the observers learn how many units will run
    if exe.name == "local":  # workers x threads from the idle CPUs and the units to compute, said in words
        setup = replace(setup, threads_said=choose_local_cpus(exe, len(scheduler.pending), device, options.workers,
                                                              options.threads, shareable))
    observers = planning.start_observers(setup, options, registry, [m.name for m in model_specs],
                                         planned=len(scheduler.pending), executor=exe.name, results=str(store.root))
    return scheduler.run(observers)


def run_track(track: str | TrackSpec, models: Sequence[str] | None = None, *, registry: Registry | None = None,
              selection: PluginSelection | None = None, results_dir: str | Path | None = None,
              **options) -> RunSummary:
    """:func:`run` with the options as keyword arguments (those of :class:`~benchbed.engine.planning.RunOptions`)."""
    return run(RunOptions(track, tuple(models or ()), results_dir=results_dir, **options), registry=registry,
               selection=selection)
