"""Units side by side in worker processes (the local executor's pool): the same records as one after another,
failures that stay with their unit, progress and the run log, and kill safety."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchbed.results.store import ResultsStore

from .conftest import (
    MODELS,
    PLUGIN,
    TRACK,
    assert_same_results,
    cli_args,
    cli_env,
    records_by_field,
    results,
    runlog,
    start_cli,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and /proc are POSIX/Linux")


def _both_cpus_idle(monkeypatch):
    """Fake the CPU sample: both CPUs idle over it, whatever the machine really does."""
    from benchbed.engine import cpu

    snapshots = iter([{0: (0, 0), 1: (0, 0)}, {0: (30, 30), 1: (30, 30)}])
    monkeypatch.setattr(cpu, "read_cpu_times", lambda: next(snapshots))
    monkeypatch.setattr(cpu, "usable_cpus", lambda: 2)
    monkeypatch.setattr(cpu, "_affinity", lambda: {0, 1})


@pytest.mark.slow
def test_side_by_side_records_equal_sequential_ones_field_by_field(run, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BENCHBED_PROGRESS", "plain")
    sequential = run(tmp_path / "seq", shards=2)
    assert not sequential.failed
    _both_cpus_idle(monkeypatch)  # the default then chooses 2 workers x 1 thread for the 4 units
    side = run(tmp_path / "pool", shards=2, workers=None, show_progress=True)
    assert not side.failed and side.counts()["done"] == 4
    assert records_by_field(tmp_path / "pool") == records_by_field(tmp_path / "seq")
    assert_same_results(results(tmp_path / "pool"), results(tmp_path / "seq"))

    events = runlog(tmp_path / "pool")
    started = next(e for e in events if e["event"] == "executor_started")
    assert (started["workers"], started["threads"]) == (2, 1)
    assert started["cpus"] == "2 workers × 1 thread (--threads): 4 units, 2 idle CPU(s) of 2 (sampled 0.3 s)"
    shown = capsys.readouterr().err
    assert "cpus 2 workers × 1 thread (--threads): 4 units" in shown.splitlines()[0]
    assert "started (2 units in flight)" in shown and "(4 of 4 units)" in shown
    # the units ran side by side: a second unit started before the first one was done
    kinds = [e["event"] for e in events if e["event"] in ("unit_start", "unit_done")]
    assert kinds[:2] == ["unit_start", "unit_start"]
    # every unit's progress reached the run from its worker: each started once, each metric said done
    for e in events:
        if e["event"] == "unit_done":
            mine = [x["event"] for x in events if x.get("unit") == e["unit"] and x.get("model") == e["model"]]
            assert mine.count("unit_start") == 1 and mine.count("metric_done") == 2


@pytest.mark.slow
def test_a_failing_and_a_crashing_unit_fail_alone(reference, tmp_path, monkeypatch):
    """One unit raises on its worker; another kills its worker process (the pool breaks and is rebuilt)."""
    from benchbed.engine.runner import run_track
    from benchbed.registry import PluginHost, PluginSelection

    monkeypatch.setenv("SCALE_TEST_CRASH", str(os.getpid()))
    host = PluginHost(load_external=False)
    host.load_file(PLUGIN)
    out = tmp_path / "out"
    summary = run_track(TRACK, ["scale-crash", "scale-raise", *MODELS], results_dir=out, registry=host.registry,
                        device="cpu", threads=1, workers=2, show_progress=False,
                        selection=PluginSelection(files=(str(PLUGIN),)))
    status = {o.model: o for o in summary.outcomes}
    assert status["scale-crash"].status == "failed" and "worker process died" in status["scale-crash"].error
    assert status["scale-raise"].status == "failed" and "fails on a worker" in status["scale-raise"].error
    assert all(status[m].status == "ok" for m in MODELS)
    assert_same_results(results(out), reference)
    failed = [e for e in runlog(out) if e["event"] == "unit_failed"]
    assert sorted(e["model"] for e in failed) == ["scale-crash", "scale-raise"]
    assert sorted(r.model for r in ResultsStore(out).failures(TRACK)) == ["scale-crash", "scale-raise"]


def _children(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; the parent-death signal is Linux's")
def test_sigkill_with_workers_loses_only_units_in_flight(reference, tmp_path):
    proc = start_cli(tmp_path, "--shards", "6", "--workers", "2", SCALE_TEST_SLEEP="0.5")
    deadline = time.monotonic() + 300
    units = ResultsStore(tmp_path).track_dir(TRACK) / "units"
    while len(list(units.glob("*/*/*.json"))) < 3:
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "fewer than 3 units stored in 300 s"
        time.sleep(0.05)
    workers = {pid for pid in _children(proc.pid) if _alive(pid)}
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    before = {p.name for p in units.glob("*/*/*.json")}
    assert 3 <= len(before) < 12  # killed mid-run
    assert len(workers) >= 2  # the pool's worker processes (and its resource tracker)
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers), "the workers died with the run"

    resumed = subprocess.run(cli_args(tmp_path, "--shards", "6", "--workers", "2"), env=cli_env(),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    end = [e for e in runlog(tmp_path) if e["event"] == "run_end"]
    assert len(end) == 1 and end[0]["skipped"] >= len(before) and end[0]["done"] == 12 - end[0]["skipped"]
    assert_same_results(results(tmp_path), reference)
    assert not list(tmp_path.rglob("*.tmp")) and not list(tmp_path.rglob("*.lock"))


@pytest.mark.slow
def test_a_script_without_the_main_guard_still_runs(reference, tmp_path):
    """Spawned workers re-import the main script; one that runs a track at import time cannot have workers,
    so the units go on one after another in the run's process, with a note saying why."""
    script = tmp_path / "no_guard.py"
    script.write_text(
        "from benchbed.engine.runner import run_track\n"
        "from benchbed.registry import PluginHost, PluginSelection\n"
        f"host = PluginHost(load_external=False); host.load_file({str(PLUGIN)!r})\n"
        f"run_track({TRACK!r}, {MODELS!r}, results_dir={str(tmp_path / 'out')!r}, registry=host.registry, "
        f"device='cpu', threads=1, workers=2, shards=2, selection=PluginSelection(files=({str(PLUGIN)!r},)))\n")
    proc = subprocess.run([sys.executable, str(script)], env=cli_env(BENCHBED_PROGRESS="plain"), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "worker processes could not start" in proc.stderr and "if __name__ == '__main__':" in proc.stderr
    assert_same_results(results(tmp_path / "out"), reference)
    ends = [e["event"] for e in runlog(tmp_path / "out") if e["event"] in ("run_end", "run_interrupted")]
    assert ends == ["run_end"]  # the workers' failed imports never started a run of their own
