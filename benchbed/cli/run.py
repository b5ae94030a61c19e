"""``benchbed run``: evaluate models on a track, store the records, print the table, render pages."""
from __future__ import annotations

import signal
import sys
from pathlib import Path

from benchbed import registry as plugin_registry
from benchbed.builtin.tracks import DEFAULT_TRACK
from benchbed.cli import warn_broken_plugins
from benchbed.engine.planning import RunOptions
from benchbed.engine.summary import RunSummary
from benchbed.results.runlog import RUNLOG_NAME
from benchbed.results.store import DEFAULT_RESULTS, ENV_RESULTS, PUBLISHED_RESULTS, ResultsStore
from benchbed.results.tables import format_frame, hidden_columns, records_frame


def _terminate(signum, frame):  # SIGTERM ends a run like Ctrl-C: a line, and an end event in the run log
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def cmd_run(args) -> int:
    from benchbed.engine.runner import run

    registry = plugin_registry.registry()
    warn_broken_plugins(registry)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        summary = run(run_options(args), registry=registry)
    finally:
        signal.signal(signal.SIGTERM, previous)
    store = ResultsStore(args.out)
    records = summary.records
    print(f"\nUnits of this run ({summary.track}):")
    print(summary_table(summary), end="")
    print(f"\nTrack {summary.track} (accuracies in %, {len(records)} model(s)):")
    print(format_frame(records_frame(records, all_columns=args.all_columns, intervals=True), "table"), end="")
    hidden = 0 if args.all_columns else hidden_columns(records)
    if hidden:
        print(f"({hidden} more column(s): --all-columns, or `benchbed results --track {summary.track} "
              f"--all-columns`; --format csv for a file)")
    for outcome in summary.incomplete:
        print(f"incomplete {outcome.model}: {outcome.error}; run the other shards (or `benchbed run "
              f"--shards {summary.n_shards}` on the combined folder) to merge it", file=sys.stderr)
    print(f"results written to {store.root} (run log: {store.root / RUNLOG_NAME})")
    _compare(records, store, args.compare)
    if not args.no_leaderboard and store.records():
        from benchbed.leaderboard import render_site

        site = render_site(store.root, args.site)
        print(f"leaderboard pages written to {site}")
    # last, so the final lines name the real cause: metrics that failed (their record keeps the others'
    # numbers, marked partial), then models that failed
    for record in records:
        for metric, error in record.metric_errors.items():
            print(f"PARTIAL {record.model}: metric {metric!r} failed (the other metrics' numbers are kept): "
                  f"{error}", file=sys.stderr)
    for outcome in summary.failed:
        print(f"FAILED {outcome.model}: {outcome.error}", file=sys.stderr)
    return 1 if summary.failed else 0


def run_options(args) -> RunOptions:
    """The run the command line asks for."""
    return RunOptions(args.track, tuple(args.model or ()), n_examples=args.n_examples, metrics=args.metrics,
                      attack_mode=args.attack_mode, device=args.device, threads=args.threads, shards=args.shards,
                      shard=args.shard, executor=args.executor, address=args.address, workers=args.workers,
                      retries=args.retries, force=args.force, results_dir=args.out, data_dir=args.data_dir,
                      show_progress=not args.no_progress)


def summary_table(summary: RunSummary) -> str:
    """The end-of-run summary: per model, units done / skipped / failed and time; then totals."""
    rows = [("model", "units", "done", "skipped", "failed", "status", "time")]
    for outcome in summary.outcomes:
        mine = [u for u in summary.units if u.model == outcome.model and u.status != "other-shard"]
        status = outcome.status + (" (cached)" if outcome.cached and outcome.status == "ok" else "")
        if outcome.record is not None and outcome.record.partial:
            status += " (partial)"
        rows.append((outcome.model, str(len(mine)), *(str(sum(u.status == s for u in mine))
                                                      for s in ("done", "skipped", "failed")),
                     status, f"{outcome.seconds:.1f}s"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i in (0, 5) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    c = summary.counts()
    lines.append(f"{c['units']} unit(s): {c['done']} done, {c['skipped']} skipped, {c['failed']} failed "
                 f"in {summary.seconds:.1f}s ({summary.executor} executor, {summary.n_shards} shard(s), "
                 f"run {summary.run_id})")
    return "\n".join(lines) + "\n"


def _compare(records, store: ResultsStore, folder: Path | None) -> None:
    """Print how this run's numbers compare with the published ones (unless it wrote those)."""
    from benchbed.results.compare import compare_records, describe

    published = Path(folder) if folder is not None else PUBLISHED_RESULTS
    if str(folder) == "none" or not records or not published.is_dir():
        return
    if published.resolve() == store.root.resolve():
        return
    for line in describe(compare_records(records, ResultsStore(published)), published):
        print(line)


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="evaluate models on a track (default: the embedded digits-linf track)")
    p.add_argument("--track", default=DEFAULT_TRACK, help=f"track to run (default: {DEFAULT_TRACK})")
    p.add_argument("--model", action="append", metavar="M",
                   help="model to evaluate (repeatable; default: every model registered for the track)")
    p.add_argument("--n-examples", type=int, help="evaluate only the first N test points (a recorded quick mode, "
                   "stored beside the full-protocol record)")
    p.add_argument("--metrics", metavar="M[,M...]", help="compute only these metrics (of the track's, or any "
                   "registered metric added to its run; see `benchbed metrics`); the record is marked partial "
                   "when some of the track's metrics are left out")
    p.add_argument("--attack-mode", metavar="MODE", default="standard",
                   help="standard: the track's own attack options (default); or a cheaper mode its attack declares "
                        "(`benchbed attacks` lists them; AutoAttack's 'fast': APGD-CE + APGD-T only, robust accuracy "
                        "an upper bound on standard AA's), stored and labelled as its own variant, never ranked with "
                        "standard results")
    p.add_argument("--all-columns", action="store_true", help="print every column, not the headline ones")
    p.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best available)")
    p.add_argument("--out", type=Path, help=f"results folder (default: ${ENV_RESULTS} or ./{DEFAULT_RESULTS}, "
                   f"an ignored scratch folder; publishing means --out {PUBLISHED_RESULTS})")
    p.add_argument("--compare", type=Path, metavar="DIR", help=f"after the run, compare its numbers with the "
                   f"records in DIR (default: the published ./{PUBLISHED_RESULTS} when it exists; 'none': don't)")
    p.add_argument("--data-dir", type=Path, help="dataset folder (default: $BENCHBED_DATA or ~/.cache/benchbed/data)")
    p.add_argument("--site", type=Path, help="where to render the leaderboard pages (default: beside "
                   "the results folder: X/results -> X/site, any other DIR -> DIR-site)")
    p.add_argument("--no-leaderboard", action="store_true", help="do not render the pages after the run")
    scale = p.add_argument_group("units, shards and executors (see docs/scale.md)")
    scale.add_argument("--shards", type=int, default=1, metavar="N",
                       help="cut each model's test points into N units of whole attack blocks (numbers are "
                            "identical to an unsharded run); finished units are skipped on the next run")
    scale.add_argument("--shard", metavar="I/N", help="run only shard I of N here (1-based), e.g. 2/4; a "
                       "model's record is merged once all its shards are in the results folder")
    scale.add_argument("--force", action="store_true", help="recompute units even if they are stored and current")
    scale.add_argument("--executor", default="local",
                       help="a registered executor (`benchbed plugins`): local: units on this machine, side by "
                            "side in worker processes on the CPU, one after another on a GPU (default); ray: units "
                            "as Ray tasks, one GPU each where there are GPUs (pip install 'benchbed[ray]')")
    scale.add_argument("--address", help="Ray cluster to join (e.g. auto or HOST:PORT); default: start a local "
                       "Ray instance")
    scale.add_argument("--workers", type=int, metavar="N", help="at most N units at once: local, N worker "
                       "processes on the CPU (default: as many as the idle CPUs, sampled for 0.3 s, and the units "
                       "allow; 1: one after another in this process); Ray: N units in flight (local instance: N CPUs)")
    scale.add_argument("--threads", type=int, metavar="N", help="torch CPU threads per unit (default: locally 1 "
                       "when several units run, the idle CPUs (at most 16) for a single unit, said in the run's "
                       "first line; Ray: 1). Energies and FIDs move in their last digits with it, never with "
                       "--workers: compare runs at the same N (the published records: 1)")
    scale.add_argument("--retries", type=int, metavar="N",
                       help="resubmit a failed unit N times (default: 1 with Ray, 0 locally)")
    scale.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_run)
