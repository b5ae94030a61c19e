"""``benchbed study NAME``: run a registered study of one model (docs/studies.md), store it, render the pages.

Every study's options come from its :class:`benchbed.contracts.studies.StudySpec` arguments. ``benchbed
dynamics`` and ``benchbed generation-study`` are deprecated aliases of ``benchbed study dynamics|generation``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from benchbed import registry as plugin_registry
from benchbed.cli import warn_broken_plugins
from benchbed.contracts.errors import ConfigError
from benchbed.contracts.studies import StudyArgument, StudyRequest
from benchbed.engine.threads import unit_threads
from benchbed.results.store import DEFAULT_RESULTS, ENV_RESULTS, ResultsStore

TYPE_WORDS = {int: ("an integer", "integers"), float: ("a number", "numbers"), str: ("a name", "names"),
              bool: ("a flag", "flags")}
ALIASES = {"dynamics": "dynamics", "generation-study": "generation"}  # old command -> study, until 0.4


def _value(text: str, argument: StudyArgument, flag: str):
    if not argument.many:
        try:
            return argument.type(text)
        except ValueError:
            raise ConfigError(f"{flag} must be {TYPE_WORDS[argument.type][0]}, got {text!r}") from None
    try:
        return [argument.type(t.strip()) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ConfigError(f"{flag} must be comma-separated {TYPE_WORDS[argument.type][1]}, got {text!r}") from None


def options_of(args, spec) -> dict:
    """The study's declared options from the parsed command line (defaults where not given)."""
    out = {}
    for a in spec.arguments:
        given = getattr(args, a.name, None)
        if a.type is bool:
            out[a.name] = bool(given) or bool(a.default)
        else:
            out[a.name] = a.default if given is None else _value(given, a, "--" + a.name.replace("_", "-"))
    return out


def _print(study) -> None:
    from benchbed.leaderboard.safety import fmt_number

    names = [n for n, _ in sorted(study.columns.items(), key=lambda kv: kv[1].order)]
    cells = [[fmt_number(v) if isinstance(v, float) else str(v)
              for v in (row.get(n) for n in names)] for row in study.rows]
    widths = [max(len(n), *(len(r[i]) for r in cells)) for i, n in enumerate(names)]
    print("  ".join(n.rjust(w) for n, w in zip(names, widths)))
    for r in cells:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
    for k, v in study.summary.items():
        print(f"{k}: {fmt_number(v) if isinstance(v, float) else v}")


def _finish(args, study, arrays) -> int:
    store = ResultsStore(args.out)
    stored = store.write_study(study, arrays)
    print(f"\nStudy {stored.kind!r} of {stored.model} on {stored.track} ({stored.wall_time_s:.1f} s):")
    _print(stored)
    print(f"stored in {store.study_path(stored.track, stored.model, stored.kind)}")
    if not args.no_leaderboard:
        from benchbed.leaderboard import render_site

        if any(r.model == stored.model and r.track == stored.track for r in store.records()):
            print(f"leaderboard pages written to {render_site(store.root, args.site)}")
        else:  # the model page is made from the model's record on the track
            print(f"no record of {stored.model} on {stored.track} in {store.root}: the study shows on its model page "
                  f"once `benchbed run --track {stored.track} --model {stored.model} --out {store.root}` has run")
    return 0


def cmd_study(args) -> int:
    registry = plugin_registry.registry()
    warn_broken_plugins(registry)
    if getattr(args, "alias", None):
        print(f"benchbed: warning: `benchbed {args.alias}` is deprecated and goes in 0.4: use "
              f"`benchbed study {args.study}`", file=sys.stderr)
    spec = registry.studies.get(args.study)
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    quiet = args.no_progress or getattr(args, "quiet", False)
    request = StudyRequest(registry=registry, model=args.model, track=args.track, options=options_of(args, spec),
                           n_examples=args.n_examples, device=args.device, data_dir=args.data_dir,
                           progress=(lambda message: None) if quiet else (lambda message: print(message, flush=True)),
                           show_bars=not quiet)
    with unit_threads(args.threads):  # torch's and BLAS's threads, as a run's unit
        study, arrays = spec.run(request)
    return _finish(args, study, arrays)


def _common(p) -> None:
    p.add_argument("--model", required=True, help="the model to study (see `benchbed models`)")
    p.add_argument("--track", help="track whose points, eps and seed to use (default: the model's dataset's "
                                   "default track)")
    p.add_argument("--n-examples", type=int, metavar="N", help="only the first N test points (recorded)")
    p.add_argument("--out", type=Path, help=f"results folder (default: ${ENV_RESULTS} or ./{DEFAULT_RESULTS})")
    p.add_argument("--site", type=Path, help="where to render the pages (default: beside the results folder)")
    p.add_argument("--no-leaderboard", action="store_true", help="do not render the pages afterwards")
    p.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best available)")
    p.add_argument("--threads", type=int, metavar="N", help="torch CPU threads")
    p.add_argument("--data-dir", type=Path, help="dataset folder (default: $BENCHBED_DATA or ~/.cache/benchbed/data)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars or lines")


def _declared(p, spec) -> None:
    for a in spec.arguments:
        flag = "--" + a.name.replace("_", "-")
        if a.type is bool:
            p.add_argument(flag, dest=a.name, action="store_true", help=a.help)
        else:
            p.add_argument(flag, dest=a.name, metavar=a.metavar or None, help=a.help)


def add_parser(sub) -> None:
    registry = plugin_registry.registry()
    study = sub.add_parser("study", help="studies of one model beyond a track's columns (`benchbed studies` "
                                         "lists them)")
    kinds = study.add_subparsers(dest="study", metavar="STUDY")
    study.set_defaults(func=lambda args: (study.print_help(file=sys.stderr), 2)[1])
    for spec in registry.studies:
        p = kinds.add_parser(spec.name, help=spec.description or spec.title)
        _common(p)
        _declared(p, spec)
        p.set_defaults(func=cmd_study, alias=None)
    for old, name in ALIASES.items():
        if name not in registry.studies:
            continue
        p = sub.add_parser(old, help=f"deprecated: use `benchbed study {name}`")
        _common(p)
        _declared(p, registry.studies.get(name))
        if old == "generation-study":
            p.add_argument("--quiet", action="store_true", help="deprecated spelling of --no-progress")
        p.set_defaults(func=cmd_study, study=name, alias=old, no_leaderboard=old == "generation-study")
