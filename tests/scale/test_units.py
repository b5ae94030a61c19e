"""Units, shards, resume, stale and corrupt results, the run log (in-process, local executor)."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from benchbed.contracts.errors import ConfigError
from benchbed.engine.runner import parse_shard
from benchbed.engine.units import shard_ranges
from benchbed.results.store import ResultFileWarning, ResultsStore

from .conftest import MODELS, TRACK, assert_same_results, results, runlog


def unit_files(root, model):
    return sorted(ResultsStore(root).unit_dir(TRACK, model).glob("*.json"))


def record_file(root, model, suffix=".json"):
    return ResultsStore(root).record_path(TRACK, model, suffix=suffix)


def test_shards_are_whole_attack_blocks(registry):
    track = registry.tracks.get(TRACK)  # 120 points, blocks of 20
    assert shard_ranges(track, 1) == [(0, 120)]
    assert shard_ranges(track, 4) == [(0, 40), (40, 80), (80, 100), (100, 120)]
    assert shard_ranges(track, 99) == [(i, i + 20) for i in range(0, 120, 20)]  # capped at 6 blocks
    assert parse_shard("2/4") == (1, 4)
    for bad in ("0/4", "5/4", "x", "1-4"):
        with pytest.raises(ConfigError, match="--shard"):
            parse_shard(bad)


def test_sharded_equals_unsharded(run, reference, tmp_path):
    summary = run(tmp_path, shards=4)
    assert summary.n_shards == 4 and summary.counts() == {"units": 8, "done": 8, "skipped": 0, "failed": 0}
    assert len(unit_files(tmp_path, MODELS[0])) == 4
    assert_same_results(results(tmp_path), reference)
    record = ResultsStore(tmp_path).record(TRACK, MODELS[0])
    assert [u.id for u in record.units] == [f"shard-000{i}-of-0004" for i in range(1, 5)]
    assert record.n_examples == 120 and record.quick is False
    assert record.arrays_sha256 and record.result_key


def test_model_level_metric_is_computed_once(run, tmp_path):
    one = run(tmp_path / "one", track="scale-test-model", models=MODELS[:1])
    three = run(tmp_path / "three", track="scale-test-model", models=MODELS[:1], shards=3)
    # unsharded: the model-level metric is a unit of its own beside the per-point one (side by side, it fills a
    # CPU that a long attack would leave idle); a track of one scope only stays one unit ("all")
    assert [u.unit for u in one.units] == ["points", "model"]
    assert [u.unit for u in three.units] == [f"shard-000{i}-of-0003" for i in (1, 2, 3)] + ["model"]
    assert_same_results(results(tmp_path / "one", "scale-test-model"), results(tmp_path / "three", "scale-test-model"))
    record = ResultsStore(tmp_path / "three").record("scale-test-model", MODELS[0])
    arrays = ResultsStore(tmp_path / "three").arrays(record)
    assert arrays["scale_probe_logits"].shape == (5, 10)  # stored whole, not concatenated per shard
    assert arrays["robust"].shape == (120,)
    assert record.metric_info["scale_model_stat"] == {"calls": 1}


def test_every_number_comes_from_a_declared_reduction(run, tmp_path):
    """A plugin metric's per-point values shard like the built-ins' (its column declares ``mean``); a
    column that declares no reduction can make no number, sharded or not: that metric alone fails."""
    one = run(tmp_path / "one", track="scale-test-nomerge", models=MODELS[:1]).records[0]
    two = run(tmp_path / "two", track="scale-test-nomerge", models=MODELS[:1], shards=2).records[0]
    for record in (one, two):
        assert record.partial and set(record.metric_errors) == {"scale_noreduce"}
        assert "declares no reduction" in record.metric_errors["scale_noreduce"]
        assert "scale_margin_noreduce" not in record.metrics
    assert one.metrics == two.metrics and "scale_margin" in one.metrics
    assert one.columns["scale_margin"].reduce == "mean(scale_margin)"


def test_second_run_skips_everything_and_force_recomputes(run, reference, tmp_path):
    run(tmp_path, shards=3)
    mtimes = {p: p.stat().st_mtime_ns for m in MODELS for p in unit_files(tmp_path, m)}
    again = run(tmp_path, shards=3)
    assert again.counts() == {"units": 6, "done": 0, "skipped": 6, "failed": 0}
    assert all(o.status == "ok" and o.cached for o in again.outcomes)
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
    # a different sharding of an unchanged track reuses the merged records (numbers are the same)
    assert run(tmp_path, shards=2).counts()["done"] == 0
    forced = run(tmp_path, shards=3, force=True)
    assert forced.counts() == {"units": 6, "done": 6, "skipped": 0, "failed": 0}
    assert_same_results(results(tmp_path), reference)


def test_stale_units_are_recomputed(run, tmp_path, monkeypatch):
    import benchbed.engine.planning as planning

    run(tmp_path, shards=2)  # the worker checks the versions too: both sides see the changed ones
    import benchbed.engine.evaluation as evaluation
    real = planning.library_versions
    monkeypatch.setattr(planning, "library_versions", lambda: {**real(), "torch": "0.0-other"})
    monkeypatch.setattr(evaluation, "library_versions", lambda: {**real(), "torch": "0.0-other"})
    summary = run(tmp_path, shards=2)
    assert summary.counts()["done"] == 4  # the key changed: nothing reused
    record = ResultsStore(tmp_path).record(TRACK, MODELS[0])
    assert record.versions["torch"] == "0.0-other"


def test_units_survive_a_lost_merged_record(run, reference, tmp_path):
    run(tmp_path, shards=3)
    for model in MODELS:
        record_file(tmp_path, model).unlink()
    summary = run(tmp_path, shards=3)
    assert summary.counts()["done"] == 0 and all(o.status == "ok" for o in summary.outcomes)
    assert_same_results(results(tmp_path), reference)


def test_corrupt_files_are_recomputed_with_a_warning(run, reference, tmp_path):
    run(tmp_path, shards=3)
    units_a = unit_files(tmp_path, MODELS[0])
    units_b = unit_files(tmp_path, MODELS[1])
    # model A: a unit's arrays are damaged (bytes flipped) and so is the merged record's npz
    npz = units_a[1].with_suffix(".npz")
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz.write_bytes(bytes(data))
    merged_npz = record_file(tmp_path, MODELS[0], ".npz")
    merged_npz.write_bytes(merged_npz.read_bytes()[:100])
    # model B: a unit's JSON is half-written garbage and its merged JSON does not parse
    units_b[0].write_text(units_b[0].read_text()[:50])
    record_file(tmp_path, MODELS[1]).write_text("{not json")
    # the store never hands out the damaged arrays silently
    with pytest.warns(ResultFileWarning, match="do not match"):
        assert ResultsStore(tmp_path).record(TRACK, MODELS[0]) is None
    with pytest.warns(ResultFileWarning) as caught:
        summary = run(tmp_path, shards=3)
    messages = " ".join(str(w.message) for w in caught)
    assert "recomputed" in messages and units_a[1].name in messages and units_b[0].name in messages
    done = {(u.model, u.unit) for u in summary.units if u.status == "done"}
    assert done == {(MODELS[0], units_a[1].stem), (MODELS[1], units_b[0].stem)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_same_results(results(tmp_path), reference)


def test_a_unit_edited_by_hand_is_not_trusted(run, tmp_path):
    run(tmp_path, models=MODELS[:1], shards=2)
    path = unit_files(tmp_path, MODELS[0])[0]
    unit = json.loads(path.read_text())
    unit["metric_info"]["robust_accuracy"] = {"edited": True}
    path.write_text(json.dumps(unit))
    record_file(tmp_path, MODELS[0]).unlink()
    with pytest.warns(ResultFileWarning, match="record_sha256"):
        summary = run(tmp_path, models=MODELS[:1], shards=2)
    assert summary.counts()["done"] == 1
    assert summary.records[0].metric_info.get("robust_accuracy") == {}


def test_one_shard_at_a_time_then_merge(run, reference, tmp_path):
    first = run(tmp_path, shard="1/3")
    assert [o.status for o in first.outcomes] == ["incomplete", "incomplete"]
    assert ResultsStore(tmp_path).records(TRACK) == []
    assert first.counts() == {"units": 2, "done": 2, "skipped": 0, "failed": 0}
    run(tmp_path, shard="3/3")
    last = run(tmp_path, shard="2/3")
    assert [o.status for o in last.outcomes] == ["ok", "ok"]
    assert_same_results(results(tmp_path), reference)


def test_failures_are_isolated_and_reported(run, tmp_path, monkeypatch):
    monkeypatch.setenv("SCALE_TEST_BROKEN", "1")
    from benchbed.registry import PluginHost

    from .conftest import PLUGIN

    host = PluginHost(load_external=False)
    host.load_file(PLUGIN)
    from benchbed.engine.runner import run_track

    summary = run_track(TRACK, ["scale-broken", MODELS[0]], results_dir=tmp_path, registry=host.registry,
                        device="cpu", threads=1, show_progress=False, shards=2)
    status = {o.model: o for o in summary.outcomes}
    assert status[MODELS[0]].status == "ok"
    assert status["scale-broken"].status == "failed" and "always fails" in status["scale-broken"].error
    assert summary.counts() == {"units": 2, "done": 2, "skipped": 0, "failed": 0}  # it failed at planning (load)
    assert [r.model for r in ResultsStore(tmp_path).failures(TRACK)] == ["scale-broken"]
    from benchbed.cli.run import summary_table

    assert "failed" in summary_table(summary) and "scale-broken" in summary_table(summary)


def test_run_log_is_machine_readable(run, tmp_path):
    first = run(tmp_path, shards=2)
    second = run(tmp_path, shards=2)
    events = runlog(tmp_path)
    assert {e["run_id"] for e in events} == {first.run_id, second.run_id}
    mine = [e for e in events if e["run_id"] == first.run_id]
    assert mine[0]["event"] == "run_start" and mine[-1]["event"] == "run_end"
    assert sum(e["event"] == "unit_done" for e in mine) == 4
    assert sum(e["event"] == "model_merged" for e in mine) == 2
    assert mine[-1]["done"] == 4 and mine[-1]["failed"] == 0
    theirs = [e for e in events if e["run_id"] == second.run_id]
    assert sum(e["event"] == "model_cached" for e in theirs) == 2 and theirs[-1]["skipped"] == 4
    done = next(e for e in mine if e["event"] == "unit_done")
    assert {"model", "unit", "key", "seconds", "errors", "time"} <= set(done)


def test_summary_table(run, tmp_path):
    from benchbed.cli.run import summary_table

    table = summary_table(run(tmp_path, shards=2))
    lines = table.splitlines()
    assert lines[0].split() == ["model", "units", "done", "skipped", "failed", "status", "time"]
    assert "4 unit(s): 4 done, 0 skipped, 0 failed" in lines[-1]


def test_merged_arrays_cover_every_point_once(run, tmp_path):
    record = run(tmp_path, shards=6, models=MODELS[:1]).records[0]
    arrays = ResultsStore(tmp_path).arrays(record)
    assert np.array_equal(arrays["index"], np.arange(120))
