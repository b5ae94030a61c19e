"""``benchbed study attacks|eps`` and ``benchbed dynamics``: energy studies of one model (docs/studies.md)."""
from __future__ import annotations

import sys
from pathlib import Path

from benchbed import registry as plugin_registry
from benchbed.cli import warn_broken_plugins
from benchbed.contracts.errors import ConfigError
from benchbed.results.store import DEFAULT_RESULTS, ENV_RESULTS, ResultsStore


def _names(text: str | None, what: str) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError(f"--{what} is empty: give a comma-separated list")
    return names


def _multipliers(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--multipliers must be comma-separated numbers, got {text!r}") from None
    if not values or any(v < 0 or v != v for v in values):
        raise ConfigError(f"--multipliers must be non-negative numbers, got {text!r}")
    return values


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


def _setup(args, attacks=()):
    from benchbed.studies.common import prepare

    registry = plugin_registry.registry()
    warn_broken_plugins(registry)
    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    return prepare(registry, args.model, args.track, n_examples=args.n_examples, device=args.device,
                   data_dir=args.data_dir, attacks=attacks)


def cmd_study_attacks(args) -> int:
    from benchbed.studies import attack_study

    attacks = _names(args.attacks, "attacks") or list(attack_study.DEFAULT_ATTACKS)
    setup = _setup(args, attacks)
    study, arrays = attack_study.run(setup, attacks, progress=not args.no_progress)
    return _finish(args, study, arrays)


def cmd_study_eps(args) -> int:
    from benchbed.studies import eps_study
    from benchbed.studies.maths import EPS_MULTIPLIERS

    multipliers = _multipliers(args.multipliers) or list(EPS_MULTIPLIERS)
    setup = _setup(args, (eps_study.ATTACK,))
    study, arrays = eps_study.run(setup, multipliers, progress=not args.no_progress)
    return _finish(args, study, arrays)


def cmd_dynamics(args) -> int:
    from benchbed.studies import dynamics_study

    registry = plugin_registry.registry()
    spec = registry.models.get(args.model)
    checkpoints = dynamics_study.series_of(spec)  # refuse a model without a series before loading anything
    setup = _setup(args, (dynamics_study.ATTACK,))
    study, arrays = dynamics_study.run(setup, checkpoints, progress=not args.no_progress, every=args.every,
                                       eps=args.eps)
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
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_parser(sub) -> None:
    from benchbed.studies.attack_study import DEFAULT_ATTACKS

    study = sub.add_parser("study", help="energy studies of one model: per-attack energies, the eps curve")
    kinds = study.add_subparsers(dest="study", metavar="STUDY")
    study.set_defaults(func=lambda args: (study.print_help(file=sys.stderr), 2)[1])
    attacks = kinds.add_parser("attacks", help="natural vs adversarial energies per attack, on every test point")
    _common(attacks)
    attacks.add_argument("--attacks", metavar="A[,A...]", help=f"attacks to run (default: {','.join(DEFAULT_ATTACKS)};"
                         f" see `benchbed attacks`)")
    attacks.set_defaults(func=cmd_study_attacks)
    eps = kinds.add_parser("eps", help="energy gap and PGD robust accuracy over a grid of eps")
    _common(eps)
    eps.add_argument("--multipliers", metavar="K[,K...]", help="eps grid in units of the track's eps "
                     "(default: 0,0.25,0.5,1,2,4)")
    eps.set_defaults(func=cmd_study_eps)
    dyn = sub.add_parser("dynamics", help="clean/robust accuracy and energies along a model's training series")
    _common(dyn)
    dyn.add_argument("--every", type=int, default=1, metavar="K", help="evaluate every K-th checkpoint (and the "
                     "last; default: all)")
    dyn.add_argument("--eps", type=float, help="the attack's radius (default: the track's eps; e.g. the radius the "
                     "model was trained at)")
    dyn.set_defaults(func=cmd_dynamics)
