"""The pages draw what plugins declare, with no leaderboard code of theirs: an outside metric's histogram,
an outside study's figure, an outside attack's flag explanation (the plugin comes from a file)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from lb_pages import model_file, parse, track_file
from lb_records import make_record

from benchbed.results.record import ColumnInfo, Flag
from benchbed.results.store import ResultsStore

PLUGIN = str(Path(__file__).with_name("outside_presentation_plugin.py"))
TINY = str(Path(__file__).resolve().parents[1] / "studies" / "tiny_study_plugin.py")


@pytest.fixture
def outsider(fresh_plugins, monkeypatch):
    monkeypatch.setenv("BENCHBED_PLUGIN_FILES", PLUGIN)
    registry = fresh_plugins.registry()
    assert not registry.problems, registry.problems
    return registry


def test_an_outside_metric_gets_its_histogram_on_the_model_page(outsider, tmp_path):
    from benchbed.leaderboard import render_site

    margins = np.array([0.5, 1.0, 1.5, 2.0, 4.0, np.nan])
    rec = make_record("m-outsider")
    rec = dataclasses.replace(
        rec, metrics={**rec.metrics, "mean_logit_margin": 1.8}, metrics_run=(*rec.metrics_run, "logit-margin"),
        columns={**rec.columns, "mean_logit_margin": ColumnInfo("logit-margin", "mean gap", None, "logits")},
        flags=(Flag("wobble", "the logits wobble between calls", "attack"),),
        attack=dataclasses.replace(rec.attack, name="outsider-attack"))
    store = ResultsStore(tmp_path / "results")
    store.write(rec, {"outsider_margin": margins})
    site = render_site(store.root, tmp_path / "site")
    page = (site / model_file("m-outsider")).read_text()
    assert "<h3>Logit margins</h3>" in page and "Top-1 minus top-2 logit" in page
    (svg,) = parse(site / model_file("m-outsider")).find_all("svg", "hist")
    labels = [t.text for t in svg.find_all("text") if "axis-label" in t.classes()]
    assert labels == ["f(x)[top] − f(x)[second]  (logit units)", "fraction of points per bin"]
    # the legend's mean and count are those of the finite values, computed independently
    assert "5 points" in page and f"{np.nanmean(margins):.2f}" in page
    track = (site / track_file("digits-linf")).read_text()
    assert 'href="https://example.org/flags#wobbly"' in track and "The outsider attack saw the logits wobble." in track
    assert "outsider-attack-wobbly" in track


@pytest.mark.slow
def test_an_outside_study_runs_from_the_command_line_and_draws_its_figure(outsider, tmp_path, capsys):
    from benchbed.cli import main
    from benchbed.leaderboard import render_site

    store = ResultsStore(tmp_path / "results")
    store.write(make_record("tiny-series", track="tiny-digits"))
    code = main(["--plugin", TINY, "study", "confidence-curve", "--model", "tiny-series", "--track", "tiny-digits",
                 "--temperatures", "0.5,2", "--out", str(store.root), "--no-progress", "--no-leaderboard",
                 "--n-examples", "20", "--threads", "1"])
    assert code == 0, capsys.readouterr().err
    study = store.study("tiny-digits", "tiny-series", "confidence-curve")
    assert [r["temperature"] for r in study.rows] == [0.5, 2.0]
    assert study.rows[0]["mean_confidence"] > study.rows[1]["mean_confidence"]  # a hotter softmax is less sure
    assert study.plugins["model"]["plugin"] == "file:tiny_study_plugin.py"
    site = render_site(store.root, tmp_path / "site")
    page = (site / model_file("tiny-series")).read_text()
    assert "Study: confidence against softmax temperature" in page
    assert "An outsider&#39;s study, drawn from its own declaration." in page
    svgs = parse(site / model_file("tiny-series")).find_all("svg", "lines")
    assert len(svgs) == 1 and "mean confidence (%)" in [t.text for t in svgs[0].find_all("text")]


def test_units_read_in_the_words_their_metric_declares(outsider):
    from benchbed.leaderboard.presentation import Presentation
    from benchbed.leaderboard.views import track_columns

    rec = make_record("m", energy={"energy_gap_std_rel_untargeted": 0.5})
    rec = dataclasses.replace(rec, metrics={**rec.metrics, "mean_logit_margin": 1.8},
                              columns={**rec.columns, "mean_logit_margin": ColumnInfo("logit-margin", "gap", None,
                                                                                      "logits")})
    words = {c.name: c.unit_text for c in track_columns([rec], Presentation.installed())}
    assert words["mean_logit_margin"] == "logit units" and words["clean_accuracy"] == "%"
    bare = {c.name: c.unit_text for c in track_columns([rec])}  # no plugin declares anything: the unit itself
    assert bare["mean_logit_margin"] == "logits"


def test_a_study_that_redeclares_a_common_option_is_refused_in_one_line():
    from benchbed.plugin import ConfigError, StudyArgument, StudySpec

    with pytest.raises(ConfigError, match="clash with the options every study has"):
        StudySpec(name="s", title="t", run=lambda r: None, arguments=(StudyArgument("model"),))


