"""Kill safety and concurrent runs: real `benchbed run` processes, SIGKILL, two runs on one folder."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from benchbed.engine.locking import UnitLock

from .conftest import TRACK, assert_same_results, cli_args, cli_env, results, runlog, start_cli

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and flock are POSIX")


def units_dir(root):
    from benchbed.results.store import ResultsStore

    return ResultsStore(root).track_dir(TRACK) / "units"


def _wait_for_units(root, n, proc, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(units_dir(root).glob("*/*/*.json")) if units_dir(root).exists() else []
        if len(found) >= n:
            return found
        if proc.poll() is not None:
            pytest.fail(f"run ended before {n} units were stored: {proc.stderr.read()}")
        time.sleep(0.05)
    pytest.fail(f"fewer than {n} units stored after {timeout}s")


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_gives_identical_results(reference, tmp_path):
    # 12 units (2 models x 6 shards); each model load sleeps, so the run is killed between or inside units
    proc = start_cli(tmp_path, "--shards", "6", SCALE_TEST_SLEEP="0.5")
    stored = _wait_for_units(tmp_path, 3, proc)
    time.sleep(0.3)  # most likely inside the next unit, maybe mid-write: any moment must be safe
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    before = {p.name for p in units_dir(tmp_path).glob("*/*/*.json")}
    assert len(before) < 12  # it really was killed mid-run
    assert len(stored) >= 3

    resumed = subprocess.run(cli_args(tmp_path, "--shards", "6"), env=cli_env(), capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    events = [e for e in runlog(tmp_path) if e["event"] == "run_end"]
    assert len(events) == 1  # the killed run never got to its end
    assert events[0]["skipped"] >= len(before) and events[0]["done"] == 12 - events[0]["skipped"]
    assert events[0]["failed"] == 0
    assert_same_results(results(tmp_path), reference)
    assert not list(tmp_path.rglob("*.tmp")), "temporary files of the killed writer were swept"
    assert not list(tmp_path.rglob("*.lock")), "no lock is left behind"


@pytest.mark.slow
def test_two_runs_on_one_folder_do_not_corrupt_it(reference, tmp_path):
    first = start_cli(tmp_path, "--shards", "6", SCALE_TEST_SLEEP="0.3")
    second = start_cli(tmp_path, "--shards", "6", SCALE_TEST_SLEEP="0.3")
    out1, err1 = first.communicate(timeout=600)
    out2, err2 = second.communicate(timeout=600)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    events = runlog(tmp_path)
    done = Counter((e["model"], e["unit"]) for e in events if e["event"] == "unit_done")
    assert len(done) == 12 and set(done.values()) == {1}, "every unit computed exactly once"
    assert len({e["run_id"] for e in events if e["event"] == "unit_done"}) == 2, "both runs did work"
    assert_same_results(results(tmp_path), reference)


def _hold_lock(path):
    code = ("import sys, time; from benchbed.engine.locking import UnitLock; "
            f"lock = UnitLock({str(path)!r}); assert lock.acquire(); print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_lock_dies_with_its_process(tmp_path):
    path = tmp_path / "unit.lock"
    holder = _hold_lock(path)
    try:
        lock = UnitLock(path)
        assert not lock.acquire(blocking=False)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
        assert lock.acquire(blocking=False), "the kernel released the killed holder's lock"
        other = UnitLock(path)
        assert not other.acquire(blocking=False)
        lock.release()
        assert not path.exists()
        assert other.acquire(blocking=False)
        other.release()
    finally:
        if holder.poll() is None:
            holder.kill()
