"""``benchbed plugins | datasets | models | attacks | metrics | samplers | tracks | studies``."""
from __future__ import annotations

import pandas as pd

from benchbed import registry as plugin_registry
from benchbed.cli import warn_broken_plugins


def _print(rows: list[dict], empty: str) -> int:
    if not rows:
        print(empty)
        return 0
    with pd.option_context("display.max_colwidth", 70, "display.width", 200):
        print(pd.DataFrame(rows).to_string(index=False))
    return 0


def cmd_plugins(args) -> int:
    host = plugin_registry.host()
    registry = host.registry  # collecting marks plugins whose register hooks fail
    rows = []
    empty = {name: why for name in host.infos if (why := host.emptiness(name))}
    for info in host.infos.values():
        provides = ", ".join(f"{len(v)} {k}" for k, v in sorted(info.provides.items()))
        status = "BROKEN" if not info.ok else "EMPTY" if info.name in empty else "ok"
        rows.append({"plugin": info.name, "distribution": info.distribution, "version": info.version,
                     "status": status, "provides": provides or "-"})
    code = _print(rows, "no plugins loaded")
    for info in host.infos.values():
        if not info.ok:
            print(f"\nbroken plugin {info.name!r} ({info.distribution}): {info.error}")
        elif info.name in empty:
            print(f"\nempty plugin {info.name!r} ({info.distribution}): {empty[info.name]}")
    del registry
    return code


def cmd_datasets(args) -> int:
    reg = plugin_registry.registry()
    warn_broken_plugins(reg)
    rows = [{"name": d.name, "classes": d.num_classes, "shape": "x".join(map(str, d.image_shape)),
             "splits": ",".join(d.splits),
             "offline": "embedded" if d.embedded else "needs files", "plugin": reg.datasets.source(d.name),
             "description": d.description} for d in map(reg.datasets.get, reg.datasets.names(args.pattern))]
    return _print(rows, "no datasets match")


def cmd_models(args) -> int:
    reg = plugin_registry.registry()
    warn_broken_plugins(reg)
    if args.track:
        candidates = reg.models_for(reg.tracks.get(args.track))
    else:
        candidates = list(reg.models)
    import fnmatch

    chosen = [m for m in candidates if fnmatch.fnmatchcase(m.name, args.pattern)]
    rows = [{"name": m.name, "dataset": m.dataset, "threat models": ",".join(m.threat_models),
             "architecture": m.architecture, "recipe": m.recipe, "family": m.family,
             "plugin": reg.models.source(m.name)}
            for m in chosen]
    # Numbers the model's source published (e.g. RobustBench's leaderboard), shown only when some
    # model has them; benchbed's own numbers are in `benchbed results`.
    for key, label in (("clean_accuracy", "reported clean %"), ("robust_accuracy", "reported robust %")):
        if any(key in m.reported for m in chosen):
            for row, m in zip(rows, chosen):
                value = m.reported.get(key)
                row[label] = "-" if value is None else f"{float(value):.2f}"
    return _print(rows, "no models match" + (f" track {args.track!r}" if args.track else ""))


def cmd_attacks(args) -> int:
    reg = plugin_registry.registry()
    warn_broken_plugins(reg)
    rows = [{"name": a.name, "norms": ",".join(a.norms), "provides": ",".join(a.provides) or "-",
             "modes": "; ".join(f"{m}: {a.mode_descriptions.get(m, '')}".rstrip(": ") for m in a.modes) or "-",
             "plugin": reg.attacks.source(a.name), "description": a.description}
            for a in map(reg.attacks.get, reg.attacks.names(args.pattern))]
    return _print(rows, "no attacks match")


def cmd_metrics(args) -> int:
    """Every metric's columns, with their real names on the tracks that run it (or on --track)."""
    reg = plugin_registry.registry()
    warn_broken_plugins(reg)
    tracks = [reg.tracks.get(args.track)] if args.track else list(reg.tracks)
    # in order of meaning: as the tracks run them (accuracy, energy, generative), then the others by name
    order = list(dict.fromkeys(m for t in tracks for m in t.metrics))
    names = sorted(reg.metrics.names(args.pattern), key=lambda n: (order.index(n) if n in order else len(order), n))
    rows = []
    for m in map(reg.metrics.get, names):
        on = [t for t in tracks if m.name in t.metrics] or ([tracks[0]] if args.track else [])
        seen: dict[str, list[str]] = {}
        columns = {}
        for track in on or [None]:
            for col in (m.columns_for(track) if track is not None else m.columns):
                seen.setdefault(col.name, []).append(track.name if track is not None else "-")
                columns.setdefault(col.name, col)
        for name, col in columns.items():
            direction = {True: "higher", False: "lower", None: "-"}[col.higher_is_better]
            rows.append({"metric": m.name, "column": name, "headline": "yes" if col.headline or col.rank else "-",
                         "unit": col.unit or "-", "better": direction,
                         "tracks": ",".join(seen[name]), "plugin": reg.metrics.source(m.name),
                         "description": col.description})
    return _print(rows, "no metrics match")


def cmd_samplers(args) -> int:
    reg = plugin_registry.registry()
    warn_broken_plugins(reg)
    rows = [{"name": s.name, "plugin": reg.samplers.source(s.name), "description": s.description}
            for s in map(reg.samplers.get, reg.samplers.names(args.pattern))]
    return _print(rows, "no samplers match")


def cmd_tracks(args) -> int:
    reg = plugin_registry.registry()
    warn_broken_plugins(reg)
    rows = [{"name": t.name, "dataset": t.dataset, "threat model": t.norm, "eps": t.eps_label or f"{t.eps:g}",
             "n_examples": t.n_examples, "attack": f"{t.attack} ({t.attack_options.get('version', '-')})",
             # AutoAttack's randomness is per batch and per block (seed + b): what a direct call needs to match
             "batch": t.batch_size, "block": t.block_size, "seed": t.seed,
             "metrics": ", ".join(t.metrics), "models": len(reg.models_for(t))}
            for t in map(reg.tracks.get, reg.tracks.names(args.pattern))]
    return _print(rows, "no tracks match")


def cmd_studies(args) -> int:
    reg = plugin_registry.registry()
    warn_broken_plugins(reg)
    rows = [{"name": s.name, "plugin": reg.studies.source(s.name), "options": " ".join(
             f"--{a.name.replace('_', '-')}" for a in s.arguments) or "-", "description": s.description or s.title}
            for s in map(reg.studies.get, reg.studies.names(args.pattern))]
    return _print(rows, "no studies match")


def add_parser(sub) -> None:
    p = sub.add_parser("plugins", help="list loaded plugins, their distribution and version, and broken ones")
    p.set_defaults(func=cmd_plugins)
    for name, func, what in (("datasets", cmd_datasets, "datasets"), ("attacks", cmd_attacks, "attacks"),
                             ("metrics", cmd_metrics, "metrics and the columns they produce"),
                             ("samplers", cmd_samplers, "samplers (how images are drawn from a classifier)"),
                             ("tracks", cmd_tracks, "tracks (benchmarks)"),
                             ("studies", cmd_studies, "studies (`benchbed study NAME`)")):
        p = sub.add_parser(name, help=f"list {what}")
        p.add_argument("pattern", nargs="?", default="*", help="wildcard filter, e.g. 'cifar*'")
        if name == "metrics":
            p.add_argument("--track", help="column names as on this track (default: every track that runs it)")
        p.set_defaults(func=func)
    p = sub.add_parser("models", help="list models (those registered for a track with --track)")
    p.add_argument("pattern", nargs="?", default="*", help="wildcard filter, e.g. 'digits-*'")
    p.add_argument("--track", help="only models registered for this track")
    p.set_defaults(func=cmd_models)
