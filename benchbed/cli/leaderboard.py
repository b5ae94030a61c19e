"""``benchbed leaderboard``: render the static site from the results store."""
from __future__ import annotations

from pathlib import Path

from ..store import DEFAULT_RESULTS, ENV_RESULTS


def cmd_leaderboard(args) -> int:
    from ..leaderboard import render_site

    out = render_site(args.results, args.out)
    print(f"leaderboard pages written to {out} (open {out / 'index.html'})")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("leaderboard", help="render the static leaderboard site from stored results")
    p.add_argument("--results", type=Path, help=f"results folder (default: ${ENV_RESULTS} or ./{DEFAULT_RESULTS})")
    p.add_argument("--out", type=Path, help="output folder (default: ./leaderboards/site)")
    p.set_defaults(func=cmd_leaderboard)
