"""Render the static leaderboard site: an index, one page per track, one page per model, downloads.

The output folder is self-contained (inline CSS and JS, plots as inline SVG, sample grids as data:
URIs), uses relative links only, and works from ``file://`` as well as from any static host. The same
records always give byte-identical files. Files that an earlier render wrote but this one does not
(a model that was removed, say) are deleted, guided by the folder's ``.benchbed-site`` manifest;
nothing else in the folder is touched.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from ..errors import BenchbedError
from ..store import ResultsStore, _json_default, atomic_write_bytes, slug
from . import data
from .safety import fmt_number, fmt_seconds, safe_url, text

DEFAULT_SITE = Path("leaderboards") / "site"


def default_site_for(results_root: str | Path) -> Path:
    """Where pages go when no folder is named: beside the results, never inside them.

    ``X/results`` -> ``X/site`` (so the default ``leaderboards/results`` gives ``leaderboards/site``);
    any other folder ``X/name`` -> ``X/name-site``.
    """
    root = Path(results_root)
    return root.parent / ("site" if root.name == "results" else f"{root.name}-site")
MANIFEST = ".benchbed-site"
ALL_RECORDS = "records.json"


def environment() -> Environment:
    """The jinja2 environment: autoescaping on for every template, file-based or from a string."""
    env = Environment(loader=PackageLoader("benchbed.leaderboard", "templates"), autoescape=True,
                      keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = fmt_number
    env.globals.update(safe_url=safe_url, track_page=data.track_page, model_page=data.model_page)
    return env


def _static(env: Environment, name: str) -> str:
    source, _, _ = env.loader.get_source(env, name)
    return source.strip("\n")


def _csp_hash(source: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii")


def json_text(obj: Any) -> str:
    """Deterministic JSON (sorted keys, NaN/inf as null) for the downloads."""
    return json.dumps(_finite(obj), indent=2, sort_keys=True, ensure_ascii=False, default=_json_default) + "\n"


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


class _Writer:
    def __init__(self, out: Path):
        self.out = out
        self.written: list[str] = []

    def write(self, name: str, content: str | bytes) -> None:
        data_ = content.encode("utf-8") if isinstance(content, str) else content
        path = self.out / name
        if not (path.is_file() and path.read_bytes() == data_):  # leave unchanged files alone
            atomic_write_bytes(path, data_)  # with the user's umask: a web server can read the pages
        self.written.append(name)

    def finish(self) -> None:
        manifest = self.out / MANIFEST
        old: list[str] = []
        if manifest.is_file():
            old = [line.strip() for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
        keep = set(self.written) | {MANIFEST}
        root = self.out.resolve()
        for name in old:
            if name in keep or "/" in name or "\\" in name or name.startswith("."):
                continue  # only flat file names this renderer could have written
            path = self.out / name
            if path.resolve().parent == root and path.is_file():
                path.unlink()
        self.write(MANIFEST, "".join(f"{n}\n" for n in sorted(set(self.written))))


def provenance(rec: dict[str, Any]) -> dict[str, str]:
    """A record's provenance fields as display text (a dash where the record has none)."""
    attack = data._dict(rec.get("attack"))
    wall = data.number(rec.get("wall_time_s"))
    eps = data.number(rec.get("eps"))
    return {
        "seed": text(rec.get("seed")) or "–",
        "norm": text(rec.get("norm")) or "–",
        "eps": f"{eps:.6g}" if eps is not None else "–",
        "attack": text(attack.get("name")) or "–",
        "attack_version": text(attack.get("version")),
        "device": text(rec.get("device")) or "–",
        "wall_time": fmt_seconds(wall),
        "checkpoint": text(rec.get("checkpoint_sha256")) or "–",
        "finished_at": text(rec.get("finished_at")) or "–",
        "unit_key": text(rec.get("unit_key")),
        "quick": "yes" if rec.get("quick") is True else "",
    }


def _model_views(tracks: list[data.TrackView], store: ResultsStore) -> list[dict[str, Any]]:
    by_model: dict[str, list[tuple[data.TrackView, data.Row]]] = defaultdict(list)
    for tv in tracks:
        for row in tv.rows:
            by_model[row.model].append((tv, row))
    models = []
    for name in sorted(by_model):
        entries = sorted(by_model[name], key=lambda e: e[0].name)
        first = entries[0][1]
        info = data.model_info(first.record)
        link = info.get("link")
        per_track = []
        for tv, row in entries:
            rec = row.record
            arrays = store.arrays(tv.name, name)
            flipped = data._dict(data._dict(rec.get("attack")).get("flipped_by"))
            n_ranked = sum(1 for r in tv.rows if r.rank is not None)
            per_track.append({
                "track": tv, "row": row, "record": rec,
                "metrics": [(c, row.cells[c.name]) for c in tv.columns],
                "rank": row.rank, "n_ranked": n_ranked, "n_models": len(tv.rows),
                "prov": provenance(rec),
                "flipped": [(text(k), fmt_number(data.number(v), "count") if data.number(v) is not None
                             else text(v)) for k, v in sorted(flipped.items(), key=lambda kv: str(kv[0]))],
                "versions": [(text(k), text(v)) for k, v in sorted(
                    data._dict(rec.get("versions")).items(), key=lambda kv: str(kv[0]))],
                "timings": [(text(k), fmt_seconds(data.number(v))) for k, v in sorted(
                    data._dict(rec.get("timings_s")).items(), key=lambda kv: str(kv[0]))],
                "energy": data.energy_histogram(arrays, small=False),
                "delta": data.delta_histogram(arrays),
                "grid": data.sample_grid(store, rec, arrays),
                "generates": bool(data._dict(rec.get("track_info")).get("generation")),
                "raw": json_text(rec),
            })
        models.append({
            "name": name, "page": data.model_page(name), "slug": slug(name), "info": info,
            "paper": text(info.get("paper")), "paper_url": safe_url(link),
            "link_text": text(link), "venue": text(info.get("venue")),
            "architecture": text(info.get("architecture")), "recipe": text(info.get("recipe")),
            "extra_data": data.extra_data_label(info.get("extra_data")),
            "threat_models": ", ".join(text(t) for t in data._list(info.get("threat_models"))),
            "footnote": text(info.get("footnote")), "dataset": text(info.get("dataset") or first.record.get("dataset")),
            "checkpoint": text(info.get("checkpoint_sha256") or first.record.get("checkpoint_sha256")),
            "reported": [(text(k), fmt_number(data.number(v)) if data.number(v) is not None else text(v))
                         for k, v in sorted(data._dict(info.get("reported")).items(), key=lambda kv: str(kv[0]))],
            "tracks": per_track, "records": [e[1].record for e in entries],
        })
    return models


def render_site(results_dir: str | Path | None = None, out_dir: str | Path | None = None) -> Path:
    """Render every track in the results store into ``out_dir`` (default: :func:`default_site_for`)."""
    store = ResultsStore(results_dir)
    records = store.records()
    if not records:
        where = store.root if store.root.is_dir() else f"{store.root} (no such folder)"
        raise BenchbedError(f"no result records in {where}: run `benchbed run` first to evaluate models, "
                            f"or pass --results DIR pointing at a results folder")
    out = Path(out_dir) if out_dir is not None else default_site_for(store.root)
    if out.exists() and not out.is_dir():
        raise BenchbedError(f"cannot write the leaderboard site to {out}: it is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)

    env = environment()
    css, js = _static(env, "style.css"), _static(env, "site.js")
    assets = {"css": Markup(css), "js": Markup(js),  # our own static files, not plugin text
              "csp": f"default-src 'none'; img-src data:; style-src '{_csp_hash(css)}'; "
                     f"script-src '{_csp_hash(js)}'; base-uri 'none'; form-action 'none'"}

    tracks = []
    for name in sorted({r["track"] for r in records}):
        recs = [r for r in records if r["track"] == name]
        tracks.append(data.build_track(name, recs, store))
    models = _model_views(tracks, store)

    writer = _Writer(out)
    writer.write("index.html", env.get_template("index.html.j2").render(
        tracks=tracks, models=models, n_records=len(records), all_records=ALL_RECORDS, **assets))
    for tv in tracks:
        writer.write(tv.page, env.get_template("track.html.j2").render(track=tv, **assets))
        writer.write(f"track-{tv.slug}.csv", data.track_frame(tv).to_csv(index=False, lineterminator="\n"))
        writer.write(f"track-{tv.slug}.json", json_text(data.track_json(tv)))
        writer.write(f"track-{tv.slug}.records.json", json_text(tv.records))
    for m in models:
        writer.write(m["page"], env.get_template("model.html.j2").render(model=m, **assets))
        writer.write(f"model-{m['slug']}.records.json", json_text(m["records"]))
    writer.write(ALL_RECORDS, json_text(records))
    writer.write(".nojekyll", "")
    writer.finish()
    return out
