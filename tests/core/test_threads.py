"""The default torch thread count: the idle CPUs, at least 1, capped; said in the run header."""
import io

import pytest

from benchbed.engine.devices import MAX_DEFAULT_THREADS, default_threads


@pytest.mark.parametrize("cpus, load, expected", [
    (2, 0.0, 2), (2, 0.4, 2), (2, 0.6, 1), (2, 6.4, 1), (8, 3.2, 5), (64, 0.0, MAX_DEFAULT_THREADS), (1, 0.0, 1)])
def test_default_threads_are_the_idle_cpus(monkeypatch, cpus, load, expected):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    n, said = default_threads(cpus=cpus, load=load)
    # reference: count the CPUs one by one that the load leaves idle (a CPU more than half idle counts)
    idle = sum(1 for cpu in range(cpus) if min(1.0, max(0.0, load - cpu)) < 0.5)
    assert n == expected == max(1, min(MAX_DEFAULT_THREADS, idle))
    assert said.startswith(f"{n} (default: {cpus} CPU(s), load {load:.1f}")


def test_omp_num_threads_wins(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert default_threads(cpus=16, load=0.0) == (3, "3 (OMP_NUM_THREADS)")


def test_the_run_header_says_the_threads(tiny_digits_mlp, tmp_path, monkeypatch):
    import benchbed
    from benchbed.builtin import observers
    from benchbed.contracts.specs import ModelSpec
    from benchbed.engine.runner import run_track
    from benchbed.registry import PluginHost

    class Plugin:
        @benchbed.plugin.hookimpl
        def register_models(self, register):
            register(ModelSpec(name="mlp", dataset="digits", threat_models=("Linf",), architecture="MLP",
                               recipe="standard", loader=lambda device: tiny_digits_mlp))

    host = PluginHost(load_external=False)
    host.register(Plugin(), name="test-plugin")
    stream = io.StringIO()
    monkeypatch.setenv("BENCHBED_PROGRESS", "plain")
    monkeypatch.setattr(observers, "PlainProgress",
                        lambda run, stream_=None, cls=observers.PlainProgress: cls(run, stream))
    run_track("digits-linf", n_examples=10, metrics="clean_accuracy", device="cpu", results_dir=tmp_path,
              registry=host.registry, threads=1)
    assert "threads 1 (--threads)" in stream.getvalue().splitlines()[0]
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    stream.truncate(0)
    run_track("digits-linf", n_examples=10, metrics="clean_accuracy", device="cpu", results_dir=tmp_path,
              registry=host.registry, force=True)
    assert "threads 1 (OMP_NUM_THREADS)" in stream.getvalue()
