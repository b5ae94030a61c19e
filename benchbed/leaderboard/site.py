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

from benchbed.contracts.errors import BenchbedError
from benchbed.leaderboard import downloads, figures, tracks, views
from benchbed.leaderboard.flags import record_flags
from benchbed.leaderboard.presentation import Presentation
from benchbed.leaderboard.safety import fmt_number, fmt_seconds, safe_url
from benchbed.leaderboard.studies import study_view
from benchbed.results.canonical import json_default
from benchbed.results.record import Record
from benchbed.results.store import ResultsStore, atomic_write_bytes
from benchbed.results.tables import column_catalogue, reported_numbers, shown_records

DEFAULT_SITE = Path("leaderboards") / "local" / "site"  # beside the default results folder


def default_site_for(results_root: str | Path) -> Path:
    """Where pages go when no folder is named: beside the results, never inside them.

    ``X/results`` -> ``X/site`` (so the default ``leaderboards/local/results`` gives ``leaderboards/local/site``);
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
    env.globals.update(safe_url=safe_url, track_page=views.track_page, model_page=views.model_page)
    return env


def _static(env: Environment, name: str) -> str:
    source, _, _ = env.loader.get_source(env, name)
    return source.strip("\n")


def _csp_hash(source: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii")


def json_text(obj: Any) -> str:
    """Deterministic JSON (sorted keys, NaN/inf as null) for the downloads."""
    return json.dumps(_finite(obj), indent=2, sort_keys=True, ensure_ascii=False, default=json_default) + "\n"


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
            parts = name.split("/")
            if name in keep or "\\" in name or any(not p or p.startswith(".") for p in parts):
                continue  # only the names this renderer could have written: no hidden or ".." parts
            path = self.out / name
            if path.resolve().is_relative_to(root) and path.is_file():
                path.unlink()
        self.write(MANIFEST, "".join(f"{n}\n" for n in sorted(set(self.written))))


def provenance(rec: Record) -> dict[str, str]:
    """A record's provenance fields as display text (a dash where the record has none)."""
    attack = rec.attack
    return {
        "seed": str(rec.seed), "norm": rec.norm, "eps": f"{rec.eps:.6g}",
        "attack": attack.name if attack else "–",
        "attack_version": attack.version if attack else "",
        "attack_library": f"{attack.library} {attack.library_version}".strip() if attack else "",
        "device": rec.device or "–", "wall_time": fmt_seconds(rec.wall_time_s),
        "checkpoint": rec.checkpoint_sha256 or "–", "weights": rec.weights_sha256 or "–",
        "finished_at": rec.finished_at or "–", "result_key": rec.result_key,
        "quick": "yes" if rec.quick else "", "variant": rec.variant,
    }


def _grouped(tv: tracks.TrackView, row: views.Row) -> list[dict[str, Any]]:
    """A model's columns on a track by group (accuracy, energy, ...), headline columns first in each."""
    groups: dict[int, dict[str, Any]] = {}
    for c in tv.columns:
        groups.setdefault(c.group, {"label": c.group_label, "items": []})["items"].append((c, row.cells[c.name]))
    for g in groups.values():
        g["items"].sort(key=lambda item: not item[0].compact)  # stable: catalogue order otherwise
    return [groups[k] for k in sorted(groups)]


def array_figures(tv: tracks.TrackView, rec: Record, got: dict, presentation: Presentation) -> list[dict]:
    """The figures a record's metrics declare from its arrays, grouped under their sections (a figure
    whose arrays are not stored is named in its section's ``missing`` list)."""
    sections: dict[str, dict[str, list]] = {}
    zooms: dict[str, list[dict[str, Any]]] = {}
    ran = set(rec.metrics_run or [c.metric for c in tv.columns])
    for metric, plot in presentation.array_plots(presentation.metrics):  # drawn wherever the arrays are
        drawn = _array_figure(tv, rec, got, metric, plot)
        if drawn is None and metric not in ran:
            continue
        section = sections.setdefault(plot.section or plot.title, {"figures": [], "missing": []})
        if drawn is None:
            section["missing"].append(plot.title)
            continue
        section["figures"].append(drawn)
        own, shared = figures.data_range(got, plot), tv.ranges.get((metric, plot.name))
        wide = shared is not None and own is not None and (own[1] - own[0]) < 0.5 * (shared[1] - shared[0])
        if plot.zoom and wide:  # the shared range hides this model's shape: draw it on its own range too
            zooms.setdefault(plot.section or plot.title, []).append(
                {**drawn, "plot": figures.draw(got, plot), "label": f"{drawn['label']} (own range)",
                 "title": "The same values on this model's own range",
                 "caption": f"({plot.unit or 'no unit'}), for their shape."})
    return [{"title": title, "figures": sec["figures"] + zooms.get(title, []), "missing": sec["missing"]}
            for title, sec in sections.items()]


def _array_figure(tv, rec: Record, got: dict, metric: str, plot) -> dict[str, Any] | None:
    caption = plot.caption.replace("{track}", tv.name)
    if plot.kind == "image":
        uri = figures.image_uri(got, plot)
        if uri is None:
            return None
        extra = figures.info_text(rec.metric_info.get(metric), plot.caption_info)
        text = f"{caption} {extra}".strip()
        return {"kind": "image", "uri": uri, "title": plot.title, "caption": text if text.endswith(".") else text + "."}
    drawn = figures.draw(got, plot, x_range=tv.ranges.get((metric, plot.name)))
    if drawn is None:
        return None
    return {"kind": plot.kind, "plot": drawn, "title": plot.title, "caption": caption,
            "label": f"{plot.title} on {tv.name}: {drawn['y_label']} against {drawn['x_label']}"}


def _model_views(track_views: list[tracks.TrackView], arrays: dict[tuple[str, str], dict], others: dict,
                 studies: dict[tuple[str, str], list[dict]], presentation: Presentation) -> list[dict]:
    by_model: dict[str, list[tuple[tracks.TrackView, views.Row]]] = defaultdict(list)
    for tv in track_views:
        for row in tv.rows:
            by_model[row.model].append((tv, row))
    models = []
    for name in sorted(by_model):
        # the track that measures the most first (e.g. digits-linf before the generative-only digits-joint)
        entries = sorted(by_model[name], key=lambda e: (-len(e[1].record.metrics), e[0].name))
        first = entries[0][1]
        per_track = []
        for tv, row in entries:
            rec = row.record
            got = arrays.get((tv.name, name), {})
            n_ranked = sum(1 for r in tv.rows if r.rank is not None)
            per_track.append({
                "track": tv, "row": row, "record": rec,
                "metrics": [(c, row.cells[c.name]) for c in tv.columns],
                "headline": [(c, row.cells[c.name]) for c in tv.columns if c.compact],
                "groups": _grouped(tv, row),
                "rank": row.rank, "n_ranked": n_ranked, "n_models": len(tv.rows),
                "prov": provenance(rec),
                "flipped": sorted(rec.attack.flipped_by.items()) if rec.attack else [],
                "versions": sorted(rec.versions.items()),
                "plugins": sorted((role, f"{p.get('distribution', '?')} {p.get('version', '?')}")
                                  for role, p in rec.plugins.items() if isinstance(p, dict)),
                "timings": [(k, fmt_seconds(v)) for k, v in sorted(rec.timings_s.items())],
                "figures": array_figures(tv, rec, got, presentation),
                "others": others.get((tv.name, name), []),
                "studies": studies.get((tv.name, name), []),
                "raw": json_text(rec.to_dict()),
            })
        info = first.info
        models.append({
            "name": name, "page": views.model_page(name), "row": first,
            "download": views.page_base("models", name),
            "link_text": info.get("link") if isinstance(info.get("link"), str) else "",
            "threat_models": ", ".join(str(t) for t in info.get("threat_models", []) if isinstance(t, str)),
            "checkpoint": first.record.checkpoint_sha256, "weights": first.record.weights_sha256,
            "reported": [(k, fmt_number(v)) for k, v in sorted(reported_numbers(first.record).items())],
            "tracks": per_track, "records": [e[1].record.to_dict() for e in entries],
        })
    return models


def _resolver():
    """Column reductions for the paired tests: from the registered metrics where plugins load."""
    from benchbed import registry as plugin_registry
    from benchbed.results.paired import plain_reduction, registry_resolver

    try:
        return registry_resolver(plugin_registry.registry())
    except Exception:  # noqa: BLE001 -- no plugins: percentages and means only
        return plain_reduction


def render_site(results_dir: str | Path | None = None, out_dir: str | Path | None = None,
                presentation: Presentation | None = None) -> Path:
    """Render every track in the results store into ``out_dir`` (default: :func:`default_site_for`).

    Each (track, model) shows its full-protocol record where there is one; quick and partial runs
    are listed on the model page, marked as such, and never replace it. Figures, flag explanations
    and unit words come from what the plugins declare (``presentation``; default: the installed ones)."""
    store = ResultsStore(results_dir)
    every = store.records()
    if not every:
        where = store.root if store.root.is_dir() else f"{store.root} (no such folder)"
        raise BenchbedError(f"no valid result records in {where}: run `benchbed run` first to evaluate models, "
                            f"or pass --results DIR pointing at a results folder (the published ones: "
                            f"--results leaderboards/results)")
    out = Path(out_dir) if out_dir is not None else default_site_for(store.root)
    if out.exists() and not out.is_dir():
        raise BenchbedError(f"cannot write the leaderboard site to {out}: it is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)

    presentation = presentation or Presentation.installed()
    shown = shown_records(every)
    others: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    shown_ids = {id(r) for r in shown}
    for rec in every:
        if id(rec) not in shown_ids:
            others[(rec.track, rec.model)].append({
                "variant": rec.variant, "n_examples": rec.n_examples, "quick": rec.quick, "partial": rec.partial,
                "attack_mode": rec.attack_mode,
                "metrics": [(c, fmt_number(rec.value(c), info.unit)) for c, info in
                            column_catalogue([rec]).items() if info.rank or info.headline],
                "flags": record_flags(rec, presentation), "finished_at": rec.finished_at})
    arrays = {(r.track, r.model): store.arrays(r) for r in shown}
    with views.page_names(sorted({r.track for r in every}), sorted({r.model for r in every})):
        _render(store, out, every, shown, others, arrays, presentation)
    return out


def _render(store: ResultsStore, out: Path, every, shown, others, arrays, presentation: Presentation) -> None:
    """Write every page and download of the site (page addresses set by the caller)."""
    env = environment()
    css, js = _static(env, "style.css"), _static(env, "site.js")
    assets = {"css": Markup(css), "js": Markup(js),  # our own static files, not plugin text
              "csp": f"default-src 'none'; img-src data:; style-src '{_csp_hash(css)}'; "
                     f"script-src '{_csp_hash(js)}'; base-uri 'none'; form-action 'none'"}
    resolve = _resolver()
    track_views = []
    for name in sorted({r.track for r in shown}):
        recs = [r for r in shown if r.track == name]
        track_views.append(tracks.build_track(name, recs, {r.model: arrays[(name, r.model)] for r in recs},
                                              presentation, resolve))
    study_views: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for study in store.studies():
        study_views[(study.track, study.model)].append(study_view(study, store.study_arrays(study), presentation))
    models = _model_views(track_views, arrays, others, study_views, presentation)

    writer = _Writer(out)
    writer.write("index.html", env.get_template("index.html.j2").render(
        tracks=track_views, models=models, n_records=len(every), all_records=ALL_RECORDS, root="", **assets))
    for tv in track_views:
        base = tv.meta["download"]
        writer.write(tv.page, env.get_template("track.html.j2").render(track=tv, root=views.page_root(tv.page),
                                                                       **assets))
        writer.write(f"{base}.csv", downloads.track_frame(tv).to_csv(index=False, lineterminator="\n"))
        writer.write(f"{base}.json", json_text(downloads.track_json(tv)))
        writer.write(f"{base}.records.json", json_text([r.to_dict() for r in tv.records]))
    for m in models:
        writer.write(m["page"], env.get_template("model.html.j2").render(model=m, root=views.page_root(m["page"]),
                                                                         **assets))
        writer.write(f"{m['download']}.records.json", json_text(m["records"]))
    writer.write(ALL_RECORDS, json_text([r.to_dict() for r in every]))
    writer.write(".nojekyll", "")
    writer.finish()
