"""Fixtures for the scale tests: a local plugin file with closed-form digits models and small tracks.

Every run uses one torch thread (``threads=1``): on a shared 2-core machine multi-threaded CPU
kernels are both slower and the only source of run-to-run float differences worth ruling out.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PLUGIN = Path(__file__).with_name("scale_plugin.py").resolve()
TRACK = "scale-test"
MODELS = ["scale-template", "scale-features"]


@pytest.fixture
def registry():
    """A registry with the built-ins and the scale plugin file only (no installed plugins)."""
    from benchbed.registry import PluginHost

    host = PluginHost(load_external=False)
    info = host.load_file(PLUGIN)
    assert info.ok, info.error
    return host.registry


@pytest.fixture
def run(registry):
    """run_track with the scale defaults; returns the RunSummary."""
    from benchbed.engine.runner import run_track
    from benchbed.registry import PluginSelection

    def _run(out, track=TRACK, models=MODELS, **kwargs):
        kwargs.setdefault("device", "cpu")
        kwargs.setdefault("threads", 1)
        kwargs.setdefault("workers", 1)  # one after another unless a test asks for workers (tests/scale/test_pool.py)
        kwargs.setdefault("show_progress", False)
        kwargs.setdefault("selection", PluginSelection(files=(str(PLUGIN),)))
        return run_track(track, list(models), results_dir=out, registry=registry, **kwargs)

    return _run


def results(root, track=TRACK) -> dict:
    """{model: (metrics, arrays, attack counts)} of the merged per-model records in ``root``."""
    from benchbed.results.store import ResultsStore

    store = ResultsStore(root)
    out = {}
    for record in store.records(track):
        out[record.model] = (record.metrics, store.arrays(record), record.attack.flipped_by, record.n_examples)
    return out


VOLATILE = {"finished_at", "run_id", "timings_s", "wall_time_s", "record_sha256"}  # when and how fast, not what


def records_by_field(root, track=TRACK) -> dict:
    """{file name: record JSON without its volatile fields}, merged records and unit records alike."""
    from benchbed.results.store import ResultsStore

    folder = ResultsStore(root).track_dir(track)
    return {str(path.relative_to(folder)): {k: v for k, v in json.loads(path.read_text()).items() if k not in VOLATILE}
            for path in sorted(folder.rglob("*.json"))}


def assert_same_results(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for model in a:
        metrics_a, arrays_a, flipped_a, n_a = a[model]
        metrics_b, arrays_b, flipped_b, n_b = b[model]
        assert metrics_a == metrics_b, model  # exactly equal, not approximately
        assert flipped_a == flipped_b and n_a == n_b, model
        assert sorted(arrays_a) == sorted(arrays_b), model
        for name in arrays_a:
            assert np.array_equal(arrays_a[name], arrays_b[name], equal_nan=True), (model, name)


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """An uninterrupted, unsharded run of the scale track (computed once per session)."""
    from benchbed.engine.runner import run_track
    from benchbed.registry import PluginHost

    out = tmp_path_factory.mktemp("reference")
    host = PluginHost(load_external=False)
    host.load_file(PLUGIN)
    summary = run_track(TRACK, MODELS, results_dir=out, registry=host.registry, device="cpu", threads=1,
                        show_progress=False)
    assert not summary.failed
    return results(out)


def cli_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALE_TEST_")}
    env.update({"BENCHBED_PLUGINS": "", "BENCHBED_PLUGIN_FILES": str(PLUGIN), "TQDM_DISABLE": "1"})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def cli_args(out, *more) -> list[str]:
    return [sys.executable, "-m", "benchbed", "run", "--track", TRACK, "--model", MODELS[0], "--model", MODELS[1],
            "--device", "cpu", "--threads", "1", "--workers", "1", "--out", str(out), "--no-leaderboard",
            "--no-progress", *more]


def start_cli(out, *more, **env) -> subprocess.Popen:
    return subprocess.Popen(cli_args(out, *more), env=cli_env(**env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def runlog(root) -> list[dict]:
    path = Path(root) / "runlog.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
