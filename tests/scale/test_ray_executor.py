"""The Ray executor on a local Ray instance: same numbers as the local executor, retries, failures."""
from __future__ import annotations

import builtins
import importlib.util

import pytest

from benchbed.contracts.errors import ConfigError
from benchbed.results.store import ResultsStore

from .conftest import MODELS, PLUGIN, TRACK, assert_same_results, results, runlog

HAS_RAY = importlib.util.find_spec("ray") is not None


def test_missing_ray_names_the_extra(run, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ConfigError, match=r"pip install 'benchbed\[ray\]'"):
        run(tmp_path, executor="ray")


@pytest.mark.slow
@pytest.mark.skipif(not HAS_RAY, reason="ray is not installed (pip install 'benchbed[ray]')")
def test_local_ray_instance_matches_local_executor(reference, tmp_path, monkeypatch):
    """One Ray session (starting Ray costs ~30 s here): equality, streaming, retry once, isolation."""
    from benchbed.engine.runner import run_track
    from benchbed.registry import PluginHost, PluginSelection

    monkeypatch.setenv("SCALE_TEST_BROKEN", "1")
    monkeypatch.setenv("SCALE_TEST_FLAKY_DIR", str(tmp_path / "flaky"))
    (tmp_path / "flaky").mkdir()
    host = PluginHost(load_external=False)
    host.load_file(PLUGIN)
    out = tmp_path / "ray"
    models = [*MODELS, "scale-flaky", "scale-broken"]
    summary = run_track(TRACK, models, results_dir=out, registry=host.registry, executor="ray", workers=2,
                        shards=2, threads=1, show_progress=True, selection=PluginSelection(files=(str(PLUGIN),)))
    status = {o.model: o for o in summary.outcomes}
    assert status["scale-broken"].status == "failed" and "always fails" in status["scale-broken"].error
    assert status["scale-flaky"].status == "ok"  # failed on its first attempt on a worker, then retried once
    assert all(status[m].status == "ok" for m in MODELS)
    assert summary.executor == "ray"
    # identical to the local executor (the session's unsharded local reference run)
    ray_results = results(out)
    ray_results.pop("scale-flaky")
    assert_same_results(ray_results, reference)

    events = runlog(out)
    retries = [e for e in events if e["event"] == "unit_retry"]
    assert {e["model"] for e in retries} == {"scale-flaky"} and not any(e["event"] == "unit_failed" for e in events)
    # a model whose loader always fails is refused when the run is planned (it is loaded to fingerprint it)
    assert [e["model"] for e in events if e["event"] == "model_failed"] == ["scale-broken"]
    started = next(e for e in events if e["event"] == "executor_started")
    assert started["executor"] == "ray" and started["workers"] == 2 and started["gpu_per_unit"] is False
    assert [r.model for r in ResultsStore(out).failures(TRACK)] == ["scale-broken"]
    record = ResultsStore(out).record(TRACK, MODELS[0])
    assert record.device.startswith("cpu")
