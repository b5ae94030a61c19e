"""Run a track: resolve what to run, then hand it to a :class:`~benchbed.engine.scheduler.Scheduler`.

``run_track`` is what ``benchbed run`` calls: it resolves the track (and a quick mode or a metric
selection, which make a *variant* stored beside the full-protocol record, never over it), the
models, the executor and the run's observers, loads the test points once, plans and runs.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from benchbed import registry as plugin_registry
from benchbed.contracts.errors import ConfigError, UnknownNameError
from benchbed.contracts.events import Observers, RunInfo
from benchbed.contracts.specs import AttackSpec, ModelSpec, TrackSpec
from benchbed.engine.cpu import choose_local_cpus
from benchbed.engine.evaluation import test_points
from benchbed.engine.executors.pool import refuse_in_starting_worker, registry_shareable
from benchbed.engine.preflight import check_run
from benchbed.engine.scheduler import RunSummary, Scheduler
from benchbed.engine.units import variant_of
from benchbed.registry import PluginSelection, Registry
from benchbed.results.provenance import library_versions
from benchbed.results.runlog import new_run_id
from benchbed.results.store import ResultsStore


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
        if model.dataset != track.dataset:
            raise ConfigError(f"model {name!r} is a {model.dataset} model but track {track.name!r} uses "
                              f"{track.dataset}: pick a {model.dataset} track (see `benchbed tracks`)")
        models.append(model)
    return models


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> (1, 4): the 0-based shard index and the number of shards (the CLI is 1-based)."""
    try:
        index, count = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ConfigError(f"--shard {text!r}: write it as I/N, e.g. --shard 2/4 for the second of 4 shards") from None
    if count < 1 or not 1 <= index <= count:
        raise ConfigError(f"--shard {text!r}: I must be between 1 and N (got {index}/{count})")
    return index - 1, count


def make_executor(name: str, registry: Registry, **options):
    """An executor by registered name; options that are None are left to the executor's defaults."""
    spec = registry.executors.get(name)
    return spec.make(**{k: v for k, v in options.items() if v is not None})


def run_track(track: str | TrackSpec, models: list[str] | None = None, *, n_examples: int | None = None,
              metrics: Sequence[str] | str | None = None, device: str | None = None,
              results_dir: str | Path | None = None, data_dir: str | Path | None = None,
              registry: Registry | None = None, show_progress: bool = True, shards: int = 1,
              shard: int | str | None = None, executor: str = "local", address: str | None = None,
              workers: int | None = None, threads: int | None = None, force: bool = False,
              retries: int | None = None, cache_dir: str | Path | None = None,
              selection: PluginSelection | None = None, run_log: bool = True,
              attack_mode: str | None = None) -> RunSummary:
    """Evaluate ``models`` (default: all registered for the track) on ``track``, unit by unit.

    ``n_examples``: the first N test points (a quick mode, stored as its own variant). ``metrics``:
    compute only these (of the track's, or added registered metrics; a partial record, stored as its
    own variant). ``shards``: cut each model's test points into this many units of whole attack blocks
    (capped at the number of blocks). ``shard``: run only this shard here (0-based int, or ``"I/N"``
    1-based, as on the CLI). ``executor``: a registered executor (``local``, ``ray``). ``force``:
    recompute even what is stored and current. ``run_log``: append events to ``runlog.jsonl``.
    ``attack_mode``: "standard" (default) or "fast" (AutoAttack's APGD-CE + APGD-T only; its own variant).
    """
    refuse_in_starting_worker()
    shareable = registry_shareable(registry, selection)
    registry = registry or plugin_registry.registry()
    spec = resolve_track(track, registry, n_examples, attack_mode)
    registered = registered_track(spec, registry)
    chosen = select_metrics(spec, registry, metrics)
    model_specs = resolve_models(spec, registry, models)
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
    store = ResultsStore(results_dir)
    data_dir = Path(data_dir).resolve() if data_dir else None
    check_run(spec, chosen, registry, data_dir, executor, model_specs)  # every missing thing, before any work starts
    cache_dir = Path(cache_dir).resolve() if cache_dir else None
    threads_said = None if threads is None else f"{threads} (--threads)"
    exe = make_executor(executor, registry, address=address, workers=workers, threads=threads, retries=retries,
                        device=device if executor != "local" else None)
    if exe.name == "local":
        from benchbed.engine.devices import resolve_device

        device = str(resolve_device(device))
    points = test_points(spec, registry, data_dir)
    run_id = new_run_id()
    selection = selection or plugin_registry.host().selection
    variant = variant_of(registered, spec, chosen)
    if only_shard is not None and shards > 1 and only_shard * spec.block_size >= spec.n_examples:
        sys.stderr.write(f"benchbed: warning: track {spec.name!r} has fewer than {only_shard + 1} shard(s) of whole "
                         f"attack blocks ({spec.block_size} examples each); shard {only_shard + 1}/{shards} has no "
                         f"examples\n")
    scheduler = Scheduler(track=spec, registered=registered, models=model_specs, registry=registry, store=store,
                          executor=exe, metrics=chosen, variant=variant, versions=library_versions(),
                          selection=selection, points=points, run_id=run_id, device=device, data_dir=data_dir,
                          cache_dir=cache_dir, threads=threads, force=force, n_shards=shards, only_shard=only_shard)
    scheduler.plan()  # fingerprints the models first, so the observers learn how many units will run
    if exe.name == "local":
        threads_said = choose_local_cpus(exe, len(scheduler.pending), device, workers, threads, shareable)
    info = RunInfo(run_id=run_id, track=spec.name, models=tuple(m.name for m in model_specs),
                   results_dir=str(store.root), planned=len(scheduler.pending), show_progress=show_progress,
                   run_log=run_log, header={"device": device or "auto",
                                            ("cpus" if exe.name == "local" else "threads"):
                                                threads_said or "torch's default",
                                            "executor": exe.name, "shards": shards,
                                            "n_examples": spec.n_examples, "metrics": ",".join(chosen),
                                            **({"attack_mode": attack_mode} if attack_mode not in (None, "standard")
                                               else {}),
                                            **({"variant": variant} if variant else {})})
    observers = Observers(info, list(registry.observers))
    observers.emit("run_start", models=list(info.models), shards=shards, variant=variant, force=force,
                   shard=None if only_shard is None else f"{only_shard + 1}/{shards}", n_examples=spec.n_examples,
                   metrics=list(chosen), executor=exe.name, device=device, planned=len(scheduler.pending),
                   argv=sys.argv, results=str(store.root))
    return scheduler.run(observers)

