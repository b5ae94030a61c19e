"""The committed site (leaderboards/site/) must be exactly what the committed records render to.

Fix a failure with ``scripts/render-committed-site.sh`` and commit leaderboards/site/.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lb_pages import model_file, track_file
from lb_records import TRACK, make_record, write_zoo

from benchbed.leaderboard import render_site
from benchbed.leaderboard.site import MANIFEST
from benchbed.results.store import ResultsStore

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "leaderboards" / "results"
SITE = REPO / "leaderboards" / "site"
FIX = "run scripts/render-committed-site.sh and commit leaderboards/site/"


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def staleness(results: Path, site: Path, scratch: Path) -> list[str]:
    """What differs between ``site`` and a fresh render of ``results`` (files the renderer does not
    write, like a CNAME, are allowed)."""
    fresh = _files(render_site(results, scratch))
    if not site.is_dir():
        return [f"{site} is missing"]
    committed = _files(site)
    missing = sorted(n for n in fresh if n not in committed)
    changed = sorted(n for n in fresh if n in committed and committed[n] != fresh[n])
    listed = committed.get(MANIFEST, b"").decode("utf-8").split()
    stale = sorted(n for n in listed if n not in fresh)  # rendered once, for records since removed
    return [f"{label}: {', '.join(names[:10])}{' ...' if len(names) > 10 else ''}"
            for label, names in (("missing", missing), ("out of date", changed), ("stale", stale)) if names]


def test_committed_site_is_up_to_date(tmp_path):
    if not ResultsStore(RESULTS).records():
        pytest.skip(f"no committed result records in {RESULTS.relative_to(REPO)} yet: nothing to compare "
                    f"(the lead commits the digits zoo's records and its rendered site together)")
    problems = staleness(RESULTS, SITE, tmp_path / "site")
    assert not problems, f"the committed leaderboard site is stale ({'; '.join(problems)}): {FIX}"


def test_the_staleness_check_notices_every_kind_of_drift(tmp_path):
    results, site = tmp_path / "results", tmp_path / "site"
    store = write_zoo(results)
    render_site(results, site)
    (site / "CNAME").write_text("example.org\n")  # a file of the publisher's own is fine
    assert staleness(results, site, tmp_path / "s1") == []
    store.write(make_record("digits-new-cnn", robust=1.0))  # a new record
    assert any(p.startswith("missing: ") and model_file("digits-new-cnn", ".html") in p
               for p in staleness(results, site, tmp_path / "s2"))
    render_site(results, site)
    store.write(make_record("digits-new-cnn", robust=2.0))  # a changed record
    assert any(p.startswith("out of date: ") and track_file(TRACK, ".html") in p
               for p in staleness(results, site, tmp_path / "s3"))
    render_site(results, site)
    shutil.copy(site / model_file("digits-new-cnn", ".html"), tmp_path / "keep.html")
    store.record_path(TRACK, "digits-new-cnn").unlink()  # a removed record, its page left behind by hand
    render_site(results, site)
    shutil.copy(tmp_path / "keep.html", site / model_file("digits-new-cnn", ".html"))
    manifest = (site / MANIFEST).read_text() + model_file("digits-new-cnn") + "\n"
    (site / MANIFEST).write_text(manifest)
    assert any(p.startswith("stale: ") for p in staleness(results, site, tmp_path / "s4"))


def test_committed_digits_board_shows_intervals_and_ties():
    """Issue 18: the published records carry intervals and the committed board shows them and its ties."""
    records = [r for r in ResultsStore(RESULTS).records("digits-linf") if not r.variant]
    if not records:
        pytest.skip("no committed digits-linf records")
    for rec in records:
        for column in ("clean_accuracy", "robust_accuracy"):
            assert rec.interval(column) is not None, (
                f"{rec.model}: no interval for {column}: records made before intervals existed; re-run the track "
                f"with --force into leaderboards/results, then {FIX}")
    page = (SITE / track_file("digits-linf")).read_text(encoding="utf-8")
    assert "95 % interval [" in page and 'class="tie"' in page, f"the committed digits board lacks intervals: {FIX}"
