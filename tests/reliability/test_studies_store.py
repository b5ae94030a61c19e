"""Studies (experiments beyond a track's columns) are stored, validated and shown like records."""
from __future__ import annotations

import json

import numpy as np
import pytest

from benchbed.results.record import ColumnInfo, StudyResult
from benchbed.results.store import ResultFileWarning, ResultsStore


def make_study(model="m", kind="eps-curve") -> StudyResult:
    cols = {"eps": ColumnInfo("eps-curve", "the attack's radius", None, "", order=0),
            "robust_accuracy": ColumnInfo("eps-curve", "robust accuracy under PGD", True, "%", order=1)}
    return StudyResult(kind=kind, model=model, track="t", params={"attack": "pgd", "steps": 10},
                       rows=({"eps": 0.0, "robust_accuracy": 97.5}, {"eps": 0.1, "robust_accuracy": 51.25}),
                       columns=cols, summary={"points": 449}, arrays=(), weights_sha256="a" * 64,
                       checkpoint_sha256="b" * 64, versions={"torch": "x"}, plugins={}, model_info={}, track_info={},
                       key="k", device="cpu", wall_time_s=1.5, finished_at="2026-01-01T00:00:00+00:00")


def test_a_study_round_trips_and_an_edit_is_refused(tmp_path):
    store = ResultsStore(tmp_path)
    stored = store.write_study(make_study(), {"e": np.arange(3.0)})
    assert store.study("t", "m", "eps-curve") == stored and stored.arrays == ("e",)
    assert np.array_equal(store.study_arrays(stored)["e"], np.arange(3.0))
    path = store.study_path("t", "m", "eps-curve")
    data = json.loads(path.read_text())
    data["rows"][1]["robust_accuracy"] = 99.0
    path.write_text(json.dumps(data))
    with pytest.warns(ResultFileWarning, match="record_sha256 does not match"):
        assert store.studies() == []


def test_a_study_shows_on_the_model_page(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "leaderboard"))
    from lb_pages import model_file
    from lb_records import make_record

    from benchbed.leaderboard import render_site

    store = ResultsStore(tmp_path / "results")
    store.write(make_record("m", track="t"))
    store.write_study(make_study())
    html = (render_site(store.root, tmp_path / "site") / model_file("m")).read_text()
    assert "Study: eps-curve" in html and "51.25" in html and "steps: 10" in html
