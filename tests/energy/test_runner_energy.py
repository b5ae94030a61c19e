"""The energy metric through the runner and the results store (a whole unit, one attack)."""
from __future__ import annotations

import math

import numpy as np

import benchbed
from benchbed.builtin.energy import columns
from benchbed.contracts.specs import ModelSpec
from benchbed.engine.runner import run_track
from benchbed.registry import PluginHost
from benchbed.results.store import ResultsStore


class Zoo:
    def __init__(self, model):
        self.model = model

    @benchbed.plugin.hookimpl
    def register_models(self, register):
        register(ModelSpec(name="energy-mlp", dataset="digits", threat_models=("Linf",), architecture="MLP",
                           recipe="standard", loader=lambda device: self.model))


def test_energy_is_on_every_builtin_track():
    registry = PluginHost(load_external=False).registry
    assert "energy" in registry.metrics.names()
    for name in registry.tracks.names():  # every track that attacks (digits-joint only samples)
        metrics = registry.tracks.get(name).metrics
        assert "energy" in metrics or "robust_accuracy" not in metrics, name


def test_energy_columns_and_arrays_in_the_stored_record(tiny_digits_mlp, tmp_path):
    host = PluginHost(load_external=False)
    host.register(Zoo(tiny_digits_mlp), name="energy-zoo")
    registry = host.registry
    track = registry.tracks.get("digits-linf").replace(
        metrics=("clean_accuracy", "robust_accuracy", "energy"),
        attack_options={"version": "custom", "attacks": ["apgd-ce", "apgd-t"]})
    summary = run_track(track, n_examples=40, device="cpu", results_dir=tmp_path, registry=registry,
                        show_progress=False)
    assert not summary.failed, summary.failed[0].error if summary.failed else ""
    store = ResultsStore(tmp_path)
    record = store.records("digits-linf")[0]
    names = {c.name for c in columns()}
    assert names <= set(record.metrics)
    assert record.columns["energy_w1_untargeted"].higher_is_better is False
    assert record.columns["energy_w1_untargeted"].unit == "energy"
    assert record.metrics["energy_n_untargeted"] > 0
    assert math.isfinite(record.metrics["energy_gap_untargeted"])
    assert "attack" in record.timings_s and "metric:energy" in record.timings_s
    arrays = store.arrays(record)
    for key in ("energy_nat", "joint_energy_nat", "energy_adv_untargeted", "energy_adv_targeted",
                "joint_energy_adv_untargeted", "joint_energy_adv_targeted"):
        assert arrays[key].shape == (40,), key
    assert not np.isnan(arrays["energy_nat"]).any()
    # NaN exactly for the points without an untargeted x*: the misclassified ones
    assert np.array_equal(np.isnan(arrays["energy_adv_untargeted"]), ~arrays["clean_correct"])


def test_sharded_energy_equals_unsharded(tiny_digits_mlp, tmp_path):
    """The energy columns of a sharded run come from the merged per-point arrays and equal an
    unsharded run's exactly."""
    host = PluginHost(load_external=False)
    host.register(Zoo(tiny_digits_mlp), name="energy-zoo")
    registry = host.registry
    track = registry.tracks.get("digits-linf").replace(
        metrics=("clean_accuracy", "robust_accuracy", "energy"), block_size=20,
        attack_options={"version": "custom", "attacks": ["apgd-ce", "apgd-t"]})
    records = {}
    for shards in (1, 3):
        out = tmp_path / f"shards-{shards}"
        summary = run_track(track, n_examples=60, device="cpu", results_dir=out, registry=registry,
                            show_progress=False, shards=shards)
        assert not summary.failed, summary.failed[0].error if summary.failed else ""
        records[shards] = ResultsStore(out).records("digits-linf")[0]
    assert len(records[3].units) == 3
    one, three = records[1].metrics, records[3].metrics
    assert set(one) == set(three)
    for name in one:
        assert (math.isnan(one[name]) and math.isnan(three[name])) or one[name] == three[name], name
    assert records[3].metric_info["energy"]["x_star"] == records[1].metric_info["energy"]["x_star"]
