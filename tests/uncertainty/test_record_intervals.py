"""Intervals in the record: made by build_record from the merged per-point arrays (sharded == unsharded),
checked against statsmodels and a hand-written bootstrap; old records without intervals still read."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import benchbed
from benchbed.contracts.errors import RecordError
from benchbed.contracts.reductions import mean
from benchbed.contracts.specs import Column, MetricOutput, MetricSpec, TrackSpec
from benchbed.engine.runner import run_track
from benchbed.results.record import Record, content_sha256
from benchbed.results.store import PUBLISHED_RESULTS, ResultsStore

proportion = pytest.importorskip("statsmodels.stats.proportion")
REPO = Path(__file__).resolve().parents[2]


def margin_metric() -> MetricSpec:
    """A metric whose column is the mean logit margin (a bootstrap interval)."""
    def margin(ctx):
        top2 = ctx.clean_logits.topk(2, dim=1).values
        return MetricOutput(arrays={"margin": (top2[:, 0] - top2[:, 1]).double().numpy()})

    return MetricSpec(name="margin", compute=margin, columns=(
        Column("mean_margin", "mean top-1 minus top-2 logit", None, "logit", reduce=mean("margin")),))


@pytest.fixture
def registry(mlp_registry):
    return mlp_registry(margin_metric())


def record_track():
    return TrackSpec(name="digits-ci", dataset="digits", norm="Linf", eps=0.1, n_examples=60,
                     metrics=("clean_accuracy", "margin"))


def run(registry, folder, shards):
    summary = run_track(record_track(), ["mlp"], device="cpu", results_dir=folder, registry=registry,
                        show_progress=False, shards=shards)
    assert not summary.failed, summary.failed
    store = ResultsStore(folder)
    record = store.record("digits-ci", "mlp")
    return record, store.arrays(record)


def test_intervals_are_stored_and_agree_between_sharded_and_unsharded_runs(registry, tmp_path):
    whole, arrays = run(registry, tmp_path / "whole", 1)
    sharded, _ = run(registry, tmp_path / "sharded", 3)
    assert whole.intervals == sharded.intervals
    assert set(whole.intervals) == {"clean_accuracy", "mean_margin"}

    acc = whole.interval("clean_accuracy")
    flags = arrays["clean_correct"]
    low, high = proportion.proportion_confint(int(flags.sum()), flags.size, method="wilson")
    assert (acc.low, acc.high) == pytest.approx((100 * low, 100 * high))
    assert acc.level == 0.95 and "Wilson" in acc.method
    assert "Wilson" in whole.columns["clean_accuracy"].protocol

    margin = arrays["margin"]
    draws = np.random.default_rng(0).integers(0, 60, size=(1000, 60))  # the documented seed and resamples
    ref = np.quantile([margin[row].mean() for row in draws], [0.025, 0.975])
    got = whole.interval("mean_margin")
    assert (got.low, got.high) == pytest.approx(tuple(ref))
    assert got.low < whole.metrics["mean_margin"] < got.high
    assert "bootstrap" in whole.columns["mean_margin"].protocol


def test_a_record_round_trips_with_its_intervals(registry, tmp_path):
    record, _ = run(registry, tmp_path, 1)
    again = Record.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again.intervals == record.intervals
    data = record.to_dict()
    data["intervals"]["clean_accuracy"]["low"] = "low"
    data["record_sha256"] = content_sha256(data)
    with pytest.raises(RecordError, match="interval of 'clean_accuracy'"):
        Record.from_dict(data)


def test_published_records_written_before_intervals_still_read_unchanged():
    folder = REPO / PUBLISHED_RESULTS
    files = sorted(folder.glob("digits-linf.*/*.json"))
    if not files:
        pytest.skip("no published digits records in this checkout")
    # a record as written before intervals existed: the published one without them, in the file form
    before = dataclasses.replace(Record.from_dict(json.loads(files[0].read_text())), intervals={}).to_dict()
    assert "intervals" not in before
    record = Record.from_dict(json.loads(json.dumps(before)))
    assert record.intervals == {}
    assert record.to_dict()["record_sha256"] == before["record_sha256"]  # same form, same checksum


def test_results_exports_carry_interval_ends_and_the_table_shows_half_widths(registry, tmp_path):
    from benchbed.results.tables import format_frame, records_frame

    record, _ = run(registry, tmp_path, 1)
    frame = records_frame([record], all_columns=True, intervals=True)
    iv = record.interval("clean_accuracy")
    assert list(frame.columns[3:9]) == ["clean_accuracy", "clean_accuracy_low", "clean_accuracy_high",
                                        "mean_margin", "mean_margin_low", "mean_margin_high"]
    assert (frame["clean_accuracy_low"][0], frame["clean_accuracy_high"][0]) == (iv.low, iv.high)
    csv = format_frame(frame, "csv")
    assert "clean_accuracy_low,clean_accuracy_high" in csv.splitlines()[0]
    table = format_frame(frame, "table")
    assert f"{record.metrics['clean_accuracy']:.2f} ±{(iv.high - iv.low) / 2:.2f}" in table
    assert "clean_accuracy_low" not in table and "95 % confidence interval" in table
    assert "clean_accuracy_low" not in records_frame([record], all_columns=True).columns  # opt-in


def test_board_cells_show_their_interval_on_hover(registry, tmp_path):
    import html

    from benchbed.leaderboard import render_site

    run(registry, tmp_path / "results", 1)
    site = render_site(tmp_path / "results", tmp_path / "site")
    page = (site / "tracks" / "digits-ci.html").read_text()
    record = ResultsStore(tmp_path / "results").record("digits-ci", "mlp")
    iv = record.interval("clean_accuracy")
    assert f"95 % interval [{iv.low:.2f}, {iv.high:.2f}] (Wilson score interval" in html.unescape(page)
    downloads = "".join(p.read_text() for p in site.rglob("*.csv"))
    assert "clean_accuracy_low" in downloads


def test_the_python_api_gives_the_same_intervals_as_a_run(registry, tiny_digits_mlp, tmp_path):
    record, _ = run(registry, tmp_path, 2)
    result = benchbed.evaluate(tiny_digits_mlp, track=record_track(), device="cpu", name="mlp-api",
                               registry=registry)
    assert result.intervals == record.intervals
