"""``benchbed run``: evaluate models on a track, store the records, print the table, render pages."""
from __future__ import annotations

import sys
from pathlib import Path

from .. import plugins
from ..builtin.tracks import DEFAULT_TRACK
from ..executors import EXECUTORS
from ..runlog import RUNLOG_NAME
from ..store import DEFAULT_RESULTS, ENV_RESULTS, ResultsStore
from ..tables import format_frame, headline_frame, records_frame
from . import warn_broken_plugins


def cmd_run(args) -> int:
    from ..runner import run_track

    registry = plugins.registry()
    warn_broken_plugins(registry)
    summary = run_track(args.track, args.model or None, n_examples=args.n_examples, device=args.device,
                        results_dir=args.out, data_dir=args.data_dir, registry=registry,
                        show_progress=not args.no_progress, shards=args.shards, shard=args.shard,
                        executor=args.executor, address=args.address, workers=args.workers,
                        threads=args.threads, force=args.force, retries=args.retries)
    store = ResultsStore(args.out)
    records = [o.record for o in summary.outcomes if o.status == "ok"]  # as stored (run_track re-reads them)
    print(f"\nUnits of this run ({summary.track}):")
    print(summary.table(), end="")
    print(f"\nTrack {summary.track} (accuracies in %, {len(records)} model(s)):")
    frame, hidden = headline_frame(records_frame(records))
    print(format_frame(frame, "table"), end="")
    if hidden:
        print(f"({hidden} more column(s): `benchbed results --track {summary.track}` prints them all, "
              f"--format csv for a file)")
    for outcome in summary.failed:
        print(f"FAILED {outcome.model}: {outcome.error}", file=sys.stderr)
    for outcome in summary.incomplete:
        print(f"incomplete {outcome.model}: {outcome.error}; run the other shards (or `benchbed run "
              f"--shards {summary.n_shards}` on the combined folder) to merge it", file=sys.stderr)
    print(f"results written to {store.root} (run log: {store.root / RUNLOG_NAME})")
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
    p.add_argument("--site", type=Path, help="where to render the leaderboard pages (default: beside "
                   "the results folder: leaderboards/results -> leaderboards/site, any other DIR -> DIR-site)")
    p.add_argument("--no-leaderboard", action="store_true", help="do not render the pages after the run")
    scale = p.add_argument_group("units, shards and executors (see docs/scale.md)")
    scale.add_argument("--shards", type=int, default=1, metavar="N",
                       help="cut each model's test points into N units of whole attack blocks (numbers are "
                            "identical to an unsharded run); finished units are skipped on the next run")
    scale.add_argument("--shard", metavar="I/N", help="run only shard I of N here (1-based), e.g. 2/4; a "
                       "model's record is merged once all its shards are in the results folder")
    scale.add_argument("--force", action="store_true", help="recompute units even if they are stored and current")
    scale.add_argument("--executor", choices=EXECUTORS, default="local",
                       help="local: units one after another in this process (default); ray: units as Ray "
                            "tasks, one GPU each where there are GPUs (pip install 'benchbed[ray]')")
    scale.add_argument("--address", help="Ray cluster to join (e.g. auto or HOST:PORT); default: start a local "
                       "Ray instance")
    scale.add_argument("--workers", type=int, metavar="N", help="Ray: at most N units at once (local instance: "
                       "N CPUs)")
    scale.add_argument("--threads", type=int, metavar="N", help="torch CPU threads per unit (Ray default: 1)")
    scale.add_argument("--retries", type=int, metavar="N",
                       help="resubmit a failed unit N times (default: 1 with Ray, 0 locally)")
    scale.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_run)
