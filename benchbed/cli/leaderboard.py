"""``benchbed leaderboard``: render the static site from the results store."""
from __future__ import annotations

from pathlib import Path

from benchbed.results.store import DEFAULT_RESULTS, ENV_RESULTS


def cmd_leaderboard(args) -> int:
    from benchbed.leaderboard import render_site

    out = render_site(args.results, args.out)
    tracks = sum(1 for _ in (out / "tracks").rglob("*.html"))
    models = sum(1 for _ in (out / "models").rglob("*.html"))
    print(f"leaderboard: {tracks} track page(s) and {models} model page(s) written to {out}")
    print(f"open {(out / 'index.html').resolve().as_uri()} or push the folder to any static host")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "leaderboard", help="render the static leaderboard site from stored results",
        description="Render a self-contained static site (index, one page per track and per model, CSV/JSON "
                    "downloads) from the results store. The folder works from file:// and from any static host; "
                    "the same records always give byte-identical pages.")
    p.add_argument("--results", type=Path, metavar="DIR",
                   help=f"results folder (default: ${ENV_RESULTS} or ./{DEFAULT_RESULTS})")
    p.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: beside the results folder: "
                   "X/results -> X/site, any other DIR -> DIR-site)")
    p.set_defaults(func=cmd_leaderboard)
