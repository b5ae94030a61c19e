"""``benchbed run``: evaluate models on a track, store the records, print the table, render pages."""
from __future__ import annotations

import sys
from pathlib import Path

from .. import plugins
from ..builtin.tracks import DEFAULT_TRACK
from ..store import DEFAULT_RESULTS, ENV_RESULTS, ResultsStore
from ..tables import format_frame, records_frame
from . import warn_broken_plugins


def cmd_run(args) -> int:
    from ..runner import run_track

    registry = plugins.registry()
    warn_broken_plugins(registry)
    summary = run_track(args.track, args.model or None, n_examples=args.n_examples, device=args.device,
                        results_dir=args.out, data_dir=args.data_dir, registry=registry)
    store = ResultsStore(args.out)
    records = [store.record(summary.track, o.model) for o in summary.outcomes if o.status == "ok"]
    print(f"\nTrack {summary.track} (accuracies in %, {len(records)} model(s)):")
    print(format_frame(records_frame([r for r in records if r]), "table"), end="")
    for outcome in summary.failed:
        print(f"FAILED {outcome.model}: {outcome.error}", file=sys.stderr)
    print(f"results written to {store.root}")
    if not args.no_leaderboard:
        from ..leaderboard import render_site

        site = render_site(store.root, args.site)
        print(f"leaderboard pages written to {site}")
    return 1 if summary.failed else 0


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="evaluate models on a track (default: the embedded digits-linf track)")
    p.add_argument("--track", default=DEFAULT_TRACK, help=f"track to run (default: {DEFAULT_TRACK})")
    p.add_argument("--model", action="append", metavar="M",
                   help="model to evaluate (repeatable; default: every model registered for the track)")
    p.add_argument("--n-examples", type=int, help="evaluate only the first N test points (a recorded quick mode)")
    p.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best available)")
    p.add_argument("--out", type=Path, help=f"results folder (default: ${ENV_RESULTS} or ./{DEFAULT_RESULTS})")
    p.add_argument("--data-dir", type=Path, help="dataset folder (default: $BENCHBED_DATA or ~/.cache/benchbed/data)")
    p.add_argument("--site", type=Path, help="where to render the leaderboard pages (default: ./leaderboards/site)")
    p.add_argument("--no-leaderboard", action="store_true", help="do not render the pages after the run")
    p.set_defaults(func=cmd_run)
