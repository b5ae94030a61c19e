"""Static leaderboard pages rendered with jinja2 (autoescaping on) from the results store."""
from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from ..errors import BenchbedError
from ..store import ResultsStore, atomic_write_bytes, slug
from ..tables import column_meta, records_frame

DEFAULT_SITE = Path("leaderboards") / "site"


def _env() -> Environment:
    env = Environment(loader=PackageLoader("benchbed.leaderboard", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      keep_trailing_newline=True)
    env.filters["fmt"] = lambda v: "–" if v is None or v != v else (f"{v:.2f}" if isinstance(v, float) else v)
    return env


def render_site(results_dir: str | Path | None = None, out_dir: str | Path | None = None) -> Path:
    store = ResultsStore(results_dir)
    records = store.records()
    if not records:
        raise BenchbedError(f"no results in {store.root}: run `benchbed run` first, or pass --results DIR")
    out = Path(out_dir) if out_dir else DEFAULT_SITE
    env = _env()
    tracks = []
    for track in sorted({r["track"] for r in records}):
        recs = [r for r in records if r["track"] == track]
        frame = records_frame(recs)
        meta = column_meta(recs)
        columns = [c for c in frame.columns if c not in ("track",)]
        page = f"track-{slug(track)}.html"
        atomic_write_bytes(out / page, env.get_template("track.html.j2").render(
            track=track, info=recs[0].get("track_info", {}), columns=columns, meta=meta,
            rows=frame.to_dict(orient="records")).encode())
        atomic_write_bytes(out / f"track-{slug(track)}.csv", frame.to_csv(index=False).encode())
        tracks.append({"name": track, "page": page, "n_models": len(recs), "info": recs[0].get("track_info", {})})
    atomic_write_bytes(out / "index.html", env.get_template("index.html.j2").render(tracks=tracks).encode())
    return out
