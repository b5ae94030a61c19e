"""Progress that means something: attack components, sampler steps, feature extraction; the Python API too."""
import re

import benchbed
from benchbed.contracts.events import progress_milestone
from benchbed.contracts.specs import GenerationSettings, TrackSpec

ANSI = re.compile(r"\x1b\[|\r")


def small_generative_track():
    return TrackSpec(name="digits-gen-small", dataset="digits", norm="Linf", eps=0.1, n_examples=20,
                     metrics=("clean_accuracy", "robust_accuracy", "generative"), batch_size=20, block_size=20,
                     attack_options={"version": "custom", "attacks": ["apgd-ce"]},
                     generation=GenerationSettings(n_samples=40, steps=20, batch_size=20,
                                                   feature_extractor="digits-cnn", column_prefix="digits_"))


def test_milestones_are_phase_changes_and_finished_counts():
    assert progress_milestone("autoattack block 0 (20 points): running apgd-t")
    assert progress_milestone("robust accuracy after APGD-CE: 40.00% (total time 0.1 s)")
    assert progress_milestone("sgld: step 40/40 (40 samples in chunks of 20)")
    assert progress_milestone("fidelity: features of samples 40/40")
    assert not progress_milestone("sgld: step 10/40 (40 samples in chunks of 20)")
    assert not progress_milestone("fidelity: features of samples 4/40")


def test_evaluate_reports_attack_sampler_and_feature_progress(tiny_digits_mlp, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("BENCHBED_PROGRESS", "plain")
    monkeypatch.setenv("BENCHBED_CACHE", str(tmp_path / "cache"))  # the reference features are computed here
    result = benchbed.evaluate(tiny_digits_mlp, small_generative_track(), device="cpu", name="mlp")
    err = capsys.readouterr().err
    assert not ANSI.search(err)
    lines = err.splitlines()
    for expected in ("running apgd-ce", "robust accuracy after APGD-CE", "sgld: step 40/40",
                     "fidelity: features of the digits train split (reference) 1348/1348",
                     "fidelity: features of samples 40/40"):
        assert any(expected in line for line in lines), (expected, lines)
    order = [next(i for i, line in enumerate(lines) if key in line)
             for key in ("running apgd-ce", "sgld: step 40/40", "fidelity: features of samples 40/40")]
    assert order == sorted(order)
    assert result.metrics["digits_fid"] >= 0


def test_evaluate_progress_can_be_switched_off(tiny_digits_mlp, capsys, monkeypatch):
    monkeypatch.setenv("BENCHBED_PROGRESS", "plain")
    benchbed.evaluate(tiny_digits_mlp, n_examples=20, metrics="clean_accuracy", device="cpu", name="mlp",
                      progress=False)
    assert capsys.readouterr().err == ""


def test_a_model_failing_with_its_units_error_is_said_once():
    """unit_failed then model_failed with the same error: one FAILED line; another error still shows."""
    import io

    from benchbed.builtin.observers import PlainProgress
    from benchbed.contracts.events import ModelFailed, RunInfo, UnitFailed

    out = io.StringIO()
    show = PlainProgress(RunInfo(run_id="r", track="t", models=("m",), results_dir="x", planned=1), stream=out)
    error = "model 'm' returned NaN/inf logits for 3 of 40 adversarial inputs"
    show(UnitFailed(model="m", unit="all", message=error, attempt=1, detail=""))
    show(ModelFailed(model="m", message=error))
    show(ModelFailed(model="m", message="its record could not be written"))
    lines = out.getvalue().splitlines()[1:]
    assert [line.split("] ", 1)[1] for line in lines] == [f"m: FAILED: {error}",
                                                          "m: FAILED: its record could not be written"]


def test_run_log_writes_typed_events_as_kind_plus_fields_and_reads_them_back(tmp_path):
    """The run log keeps 0.2's line shape (event kind + fields); read back, each line is its typed event."""
    import json

    from benchbed.contracts.events import ExecutorStarted, Observers, RunEnd, RunInfo, UnitDone, UnitProgress
    from benchbed.results.runlog import RunLog, read_runlog

    info = RunInfo(run_id="r1", track="t", models=("m",), results_dir=str(tmp_path), planned=1)
    observers = Observers(info, [], extra=[RunLog(tmp_path, "r1")])
    observers.emit(ExecutorStarted(executor="ray", details={"address": "local", "workers": 2}))
    observers.emit(UnitProgress(model="m", unit="all", message="step 1/5", milestone=False))  # not logged
    observers.emit(UnitDone(model="m", unit="all", key="k", attempt=1, seconds=1.5, device="cpu", errors={}))
    observers.emit(RunEnd(seconds=2.0, units=1, done=1, models={"m": "ok"}))
    lines = [json.loads(line) for line in (tmp_path / "runlog.jsonl").read_text().splitlines()]
    assert [line["event"] for line in lines] == ["executor_started", "unit_done", "run_end"]
    assert {k: v for k, v in lines[1].items() if k != "time"} == {
        "event": "unit_done", "run_id": "r1", "track": "t", "model": "m", "unit": "all", "key": "k",
        "attempt": 1, "seconds": 1.5, "device": "cpu", "errors": {}}
    assert lines[0]["address"] == "local" and lines[0]["executor"] == "ray"
    back = read_runlog(tmp_path / "runlog.jsonl")
    assert back[1] == UnitDone(run_id="r1", track="t", model="m", unit="all", key="k", attempt=1, seconds=1.5,
                               device="cpu", errors={})
    assert back[0].details == {"address": "local", "workers": 2} and back[2].models == {"m": "ok"}


def test_a_line_written_before_events_were_typed_reads_typed(tmp_path):
    from benchbed.contracts.events import UnitFailed
    from benchbed.results.runlog import read_runlog

    old = ('{"attempt": 2, "detail": "Traceback ...", "event": "unit_failed", "message": "boom", "model": "m", '
           '"run_id": "20260101T000000-abcd1234", "time": "2026-01-01T00:00:00.000+00:00", "track": "t", '
           '"unit": "shard-0001-of-0002"}\n{"event": "some_future_kind", "run_id": "x"}\n')
    (tmp_path / "runlog.jsonl").write_text(old)
    (event,) = read_runlog(tmp_path / "runlog.jsonl")
    assert isinstance(event, UnitFailed) and event.attempt == 2 and event.message == "boom"
    assert event.fields == {"attempt": 2, "detail": "Traceback ..."}
