"""The Python API: benchbed.evaluate / load_model / list_models / list_tracks."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from eco_helpers import ACCURACY, accuracy_track
from torch import nn

import benchbed
from benchbed.api import EvaluationResult
from benchbed.contracts.errors import BenchbedError, ConfigError, UnknownNameError
from benchbed.contracts.specs import ModelSpec
from benchbed.engine.runner import run_track
from benchbed.registry import PluginHost
from benchbed.results.provenance import state_dict_sha256
from benchbed.results.store import ResultsStore
from benchbed.results.tables import records_frame


class Zoo:
    """An in-process model plugin: ModelSpecs registered through the ``register_models`` hook."""

    def __init__(self, specs):
        self.specs = specs

    @benchbed.plugin.hookimpl
    def register_models(self, register):
        for spec in self.specs:
            register(spec)


def digits_spec(name, loader, dataset="digits", threat_models=("Linf",)):
    return ModelSpec(name=name, dataset=dataset, threat_models=threat_models, architecture="MLP",
                     recipe="standard", loader=loader)


def registry_with(*specs):
    host = PluginHost(load_external=False)
    host.register(Zoo(list(specs)), name="test-zoo")
    return host.registry


def test_evaluate_equals_registering_a_plugin_and_running_the_track(tiny_digits_mlp, tmp_path):
    """Acceptance: an unregistered digits model gets the numbers a registered one gets from the runner."""
    twin = copy.deepcopy(tiny_digits_mlp)
    reg = registry_with(digits_spec("mlp-plugin", lambda device: twin.to(device)))
    track = accuracy_track(reg, "digits-linf")

    summary = run_track(track, ["mlp-plugin"], n_examples=60, device="cpu", results_dir=tmp_path / "run",
                        registry=reg, show_progress=False)
    assert not summary.failed, summary.failed
    via_plugin = summary.records[0]
    plugin_arrays = ResultsStore(tmp_path / "run").arrays(via_plugin)

    result = benchbed.evaluate(tiny_digits_mlp, track=track, n_examples=60, device="cpu", name="mlp-python",
                               registry=reg)

    assert isinstance(result, EvaluationResult)
    record = result.record
    assert result.metrics == via_plugin.metrics  # exactly, not approximately
    assert set(result.metrics) == set(ACCURACY)
    assert record.n_examples == via_plugin.n_examples == 60
    assert result.quick is via_plugin.quick is True
    assert record.attack == via_plugin.attack
    for key in ("robust", "clean_correct", "clean_prediction", "index"):
        assert np.array_equal(result.arrays[key], plugin_arrays[key]), key
    # provenance
    assert record.checkpoint_sha256 == record.weights_sha256 == state_dict_sha256(tiny_digits_mlp)
    assert record.weights_sha256 == via_plugin.weights_sha256
    assert record.versions["torch"] not in ("", "not installed")
    assert record.model_info["recipe"] == "unregistered"
    assert record.plugins["model"]["plugin"] == "benchbed.evaluate"
    assert record.eps == 0.1 and record.norm == "Linf" and record.seed == 0 and record.dataset == "digits"
    # the same table columns as `benchbed results`
    frame = result.to_frame()
    expected = records_frame([via_plugin])
    assert list(frame.columns) == list(expected.columns)
    assert frame.loc[0, "model"] == "mlp-python"
    # (flags differ by design: the test's plugin claims no sha256, so it is flagged "unverified checkpoint")
    assert frame.drop(columns=["model", "flags"]).equals(expected.drop(columns=["model", "flags"]))
    assert result["robust_accuracy"] == via_plugin.metrics["robust_accuracy"]


# fields that say when, where and how long a run was, or which run: the only ones allowed to differ
VOLATILE = {"finished_at", "run_id", "wall_time_s", "timings_s", "arrays_sha256"}


def test_evaluate_and_run_give_the_same_record_field_by_field(tiny_digits_mlp, tmp_path):
    """Acceptance (issue 11): `benchbed.evaluate` of a registered model and `benchbed run` of it write
    records equal in every field but the volatile ones -- one evaluation path, one record builder."""
    from dataclasses import fields

    reg = registry_with(digits_spec("mlp", lambda device: tiny_digits_mlp.to(device)))
    track = accuracy_track(reg, "digits-linf")
    summary = run_track(track, ["mlp"], n_examples=40, device="cpu", results_dir=tmp_path / "run", registry=reg,
                        show_progress=False)
    via_run = ResultsStore(tmp_path / "run").record("digits-linf", "mlp", summary.records[0].variant)
    result = benchbed.evaluate("mlp", track=track, n_examples=40, device="cpu", results_dir=tmp_path / "api",
                               registry=reg, progress=False)
    via_api = ResultsStore(tmp_path / "api").record("digits-linf", "mlp", result.record.variant)
    compared = [f.name for f in fields(via_run) if f.name not in VOLATILE]
    assert len(compared) >= 25
    for name in compared:
        assert getattr(via_api, name) == getattr(via_run, name), name
    run_arrays = ResultsStore(tmp_path / "run").arrays(via_run)
    api_arrays = ResultsStore(tmp_path / "api").arrays(via_api)
    assert run_arrays.keys() == api_arrays.keys()
    for key in run_arrays:
        assert np.array_equal(run_arrays[key], api_arrays[key]), key


def test_evaluate_defaults_to_the_cli_default_track():
    import inspect

    from benchbed.builtin.tracks import DEFAULT_TRACK
    from benchbed.cli import build_parser

    assert inspect.signature(benchbed.evaluate).parameters["track"].default == DEFAULT_TRACK
    assert build_parser().parse_args(["run"]).track == DEFAULT_TRACK


def test_clean_only_subset_writes_record_and_restores_mode(tiny_digits_mlp, tmp_path):
    model = copy.deepcopy(tiny_digits_mlp).train()
    reg = registry_with()
    result = benchbed.evaluate(model, track="digits-linf", n_examples=40, device="cpu",
                               metrics="clean_accuracy", results_dir=tmp_path, registry=reg)
    assert set(result.metrics) == {"clean_accuracy"}
    assert result.model == "Sequential"  # default name: the module's class
    assert model.training, "evaluate must hand the module back in the mode it had"
    assert result.path is not None and result.path.is_file()
    stored = ResultsStore(tmp_path).record("digits-linf", "Sequential", result.record.variant)
    assert stored.metrics == result.metrics and stored.partial and stored.quick
    with torch.no_grad():
        test = reg.datasets.get("digits").load("test")
        expected = (model.eval()(test.images[:40]).argmax(1) == test.labels[:40]).float().mean().item() * 100
    assert result.metrics["clean_accuracy"] == pytest.approx(expected)


def test_unknown_metric_says_did_you_mean(tiny_digits_mlp):
    with pytest.raises(ConfigError) as err:
        benchbed.evaluate(tiny_digits_mlp, track="digits-linf", metrics=["robust_acc"], device="cpu",
                          registry=registry_with())
    message = str(err.value)
    assert "did you mean 'robust_accuracy'" in message and "\n" not in message
    assert "digits-linf" in message


def test_unknown_track_and_non_module_are_one_line_errors(tiny_digits_mlp):
    with pytest.raises(UnknownNameError, match="did you mean 'digits-linf'"):
        benchbed.evaluate(tiny_digits_mlp, track="digits-lnf", registry=registry_with())
    with pytest.raises(ConfigError, match="needs a torch.nn.Module"):
        benchbed.evaluate(42, track="digits-linf", registry=registry_with())
    with pytest.raises(UnknownNameError, match="unknown model 'digits-mlp'"):
        benchbed.evaluate("digits-mlp", track="digits-linf", registry=registry_with())


def test_wrong_output_shape_is_reported(tmp_path):
    class SevenClasses(nn.Module):
        def forward(self, x):
            return torch.zeros(x.shape[0], 7)

    with pytest.raises(BenchbedError, match=r"expected \(8, 10\)"):
        benchbed.evaluate(SevenClasses(), track="digits-linf", metrics=["clean_accuracy"], device="cpu",
                          registry=registry_with())


def test_state_dict_sha256():
    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    b = copy.deepcopy(a)
    assert state_dict_sha256(a) == state_dict_sha256(b)
    assert len(state_dict_sha256(a)) == 64
    with torch.no_grad():
        b[0].weight[0, 0] += 1e-6
    assert state_dict_sha256(a) != state_dict_sha256(b)
    # same values, different layout: the digest follows the values, not the memory layout
    c = copy.deepcopy(a)
    c[0].weight = nn.Parameter(a[0].weight.detach().t().contiguous().t())
    assert not c[0].weight.is_contiguous()
    assert state_dict_sha256(a) == state_dict_sha256(c)
    # names matter
    renamed = nn.Sequential()
    renamed.add_module("first", copy.deepcopy(a[0]))
    renamed.add_module("1", copy.deepcopy(a[1]))
    assert state_dict_sha256(a) != state_dict_sha256(renamed)


def test_list_models_wildcards_and_track_filter():
    def never(device):
        raise AssertionError("listing must not load models")

    reg = registry_with(
        digits_spec("digits-cnn-standard", never), digits_spec("digits-cnn-trades", never),
        digits_spec("digits-mlp", never), digits_spec("digits-l2-only", never, threat_models=("L2",)),
        digits_spec("cifar-net", never, dataset="cifar10"),
    )
    assert benchbed.list_models(registry=reg) == sorted(
        ["digits-cnn-standard", "digits-cnn-trades", "digits-mlp", "digits-l2-only", "cifar-net"])
    assert benchbed.list_models("digits-cnn-*", registry=reg) == ["digits-cnn-standard", "digits-cnn-trades"]
    assert benchbed.list_models("*-[mt]??*", registry=reg) == ["digits-cnn-trades", "digits-mlp"]
    assert benchbed.list_models("digits-ml?", registry=reg) == ["digits-mlp"]
    assert benchbed.list_models("nothing*", registry=reg) == []
    # a track keeps its dataset's models that claim its threat model
    assert benchbed.list_models(track="digits-linf", registry=reg) == [
        "digits-cnn-standard", "digits-cnn-trades", "digits-mlp"]
    assert benchbed.list_models("*trades", track="digits-linf", registry=reg) == ["digits-cnn-trades"]
    assert benchbed.list_models(track="cifar10-linf", registry=reg) == ["cifar-net"]
    assert benchbed.list_tracks(registry=reg) == sorted(reg.tracks.names())
    assert benchbed.list_tracks("cifar10-*", registry=reg) == ["cifar10-corruptions", "cifar10-l2",
                                                               "cifar10-l2-joint50k", "cifar10-linf"]
    assert "digits-linf" in benchbed.list_tracks("*linf", registry=reg)


def test_load_model_by_name(tiny_digits_mlp):
    model = copy.deepcopy(tiny_digits_mlp).train()
    reg = registry_with(digits_spec("digits-mlp", lambda device: model.to(device)))
    loaded = benchbed.load_model("digits-mlp", device="cpu", registry=reg)
    assert loaded is model and not loaded.training
    assert benchbed.get_model_spec("digits-mlp", registry=reg).architecture == "MLP"
    with pytest.raises(UnknownNameError, match="did you mean 'digits-mlp'"):
        benchbed.load_model("digits-mpl", registry=reg)


def test_default_registry_is_the_installed_plugins(fresh_plugins, monkeypatch):
    monkeypatch.setenv("BENCHBED_PLUGINS", "")  # built-ins only
    assert "digits-linf" in benchbed.list_tracks()
    assert benchbed.list_models() == []
