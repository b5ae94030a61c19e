"""``benchbed results``: a track's table, one row per model."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import BenchbedError
from ..store import DEFAULT_RESULTS, ENV_RESULTS, ResultsStore
from ..tables import format_frame, records_frame

FORMATS = ("table", "csv", "json")


def cmd_results(args) -> int:
    store = ResultsStore(args.out)
    records = store.records(args.track)
    if not records:
        where = f" for track {args.track!r}" if args.track else ""
        raise BenchbedError(f"no results{where} in {store.root}: run `benchbed run` first or pass --out DIR")
    print(format_frame(records_frame(records), args.format), end="")
    failures = store.failures(args.track)
    for rec in failures:
        print(f"note: last attempt of {rec['model']} on {rec['track']} failed: {rec.get('error')}", file=sys.stderr)
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("results", help="print result tables (one row per model)")
    p.add_argument("--track", help="only this track")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--out", type=Path, help=f"results folder (default: ${ENV_RESULTS} or ./{DEFAULT_RESULTS})")
    p.set_defaults(func=cmd_results)
