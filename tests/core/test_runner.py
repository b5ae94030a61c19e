import io
import json
import re
from contextlib import redirect_stderr

import numpy as np
import pytest
import torch
from torch import nn

import benchbed
from benchbed.cli import main
from benchbed.contracts.checkpoints import load_state_dict
from benchbed.contracts.errors import ConfigError
from benchbed.contracts.specs import ModelSpec, TrackSpec
from benchbed.engine.runner import run_track
from benchbed.registry import PluginHost
from benchbed.results.provenance import sha256_file
from benchbed.results.store import ResultsStore


class Zoo:
    """An in-process model plugin: name -> loader."""

    def __init__(self, loaders):
        self.loaders = loaders

    @benchbed.plugin.hookimpl
    def register_models(self, register):
        for name, loader in self.loaders.items():
            register(ModelSpec(name=name, dataset="digits", threat_models=("Linf",), architecture="MLP",
                               recipe="standard", loader=loader))


def registry_with(**loaders):
    host = PluginHost(load_external=False)
    host.register(Zoo(loaders), name="test-zoo")
    return host.registry


class NaNModel(nn.Module):
    def forward(self, x):
        return torch.full((x.shape[0], 10), float("nan"))


class WrongShape(nn.Module):
    def forward(self, x):
        return torch.zeros(x.shape[0], 7)


@pytest.mark.slow
def test_robust_accuracy_equals_direct_pyautoattack(tiny_digits_mlp, tmp_path):
    from pyautoattack import AutoAttack

    reg = registry_with(mlp=lambda device: tiny_digits_mlp)
    summary = run_track("digits-linf", n_examples=60, device="cpu", results_dir=tmp_path, registry=reg,
                        show_progress=False)
    record = summary.records[0]
    test = reg.datasets.get("digits").load("test")
    x, y = test.images[:60], test.labels[:60]
    adversary = AutoAttack(tiny_digits_mlp, norm="Linf", eps=0.1, version="standard", seed=0, device="cpu")
    _, y_adv = adversary.run_standard_evaluation(x, y, batch_size=250)
    direct = (y_adv == y)
    # The same points survive: compare counts exactly (a float32 mean would add rounding noise).
    assert record.metrics["robust_accuracy"] == 100.0 * int(direct.sum()) / 60
    stored = ResultsStore(tmp_path).arrays(record)
    assert np.array_equal(stored["robust"], direct.numpy())
    with torch.no_grad():
        clean = (tiny_digits_mlp(x).argmax(1) == y).float().mean().item() * 100
    assert record.metrics["clean_accuracy"] == pytest.approx(clean)
    flipped = record.attack.flipped_by
    assert sum(flipped.values()) == int((tiny_digits_mlp(x).argmax(1) == y).sum()) - int(direct.sum())
    assert set(flipped) == {"apgd-ce", "apgd-t", "fab-t", "square"}


def test_record_has_numbers_and_provenance(tiny_digits_mlp, tmp_path):
    reg = registry_with(mlp=lambda device: tiny_digits_mlp)
    run_track("digits-linf", n_examples=20, device="cpu", results_dir=tmp_path, registry=reg, show_progress=False)
    store = ResultsStore(tmp_path)
    record = json.loads(store.record_path("digits-linf", "mlp", "n20").read_text())
    assert record["variant"] == "n20" and record["registered_n_examples"] == 449
    assert isinstance(record["metrics"]["clean_accuracy"], float)
    assert isinstance(record["metrics"]["robust_accuracy"], float)
    assert record["n_examples"] == 20 and store.record("digits-linf", "mlp", "n20").quick is True
    assert record["seed"] == 0 and record["eps"] == 0.1 and record["attack"]["version"] == "standard"
    for lib in ("torch", "pyautoattack", "torch-fidelity", "benchbed"):
        assert record["versions"][lib] not in ("", "not installed")
    assert record["plugins"]["model"]["distribution"] == "(in-process)"
    assert record["plugins"]["attack"] == {"plugin": "benchbed.builtin.attacks", "distribution": "benchbed",
                                           "version": record["versions"]["benchbed"], "library": "pyautoattack",
                                           "library_version": record["versions"]["pyautoattack"]}
    assert len(record["weights_sha256"]) == 64 and len(record["record_sha256"]) == 64
    assert record["device"].startswith("cpu") and record["wall_time_s"] > 0
    assert record["columns"]["robust_accuracy"]["unit"] == "%"


def test_broken_models_fail_alone(tiny_digits_mlp, tmp_path):
    reg = registry_with(good=lambda d: tiny_digits_mlp, nan=lambda d: NaNModel(), shape=lambda d: WrongShape())
    summary = run_track("digits-linf", n_examples=10, device="cpu", results_dir=tmp_path, registry=reg,
                        show_progress=False)
    status = {o.model: o for o in summary.outcomes}
    assert status["good"].status == "ok"
    assert status["nan"].status == "failed" and "NaN" in status["nan"].error
    error = status["shape"].error
    assert status["shape"].status == "failed"
    assert re.search(r"logits of shape \(\d+, 7\)", error) and re.search(r"expected \(\d+, 10\)", error), error
    assert [r.model for r in ResultsStore(tmp_path).records()] == ["good"]
    assert {r.model for r in ResultsStore(tmp_path).failures()} == {"nan", "shape"}


def test_wrong_checksum_is_one_line_and_isolated(tiny_digits_mlp, tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(tiny_digits_mlp.state_dict(), path)
    good_sha = sha256_file(path)

    def loader(sha):
        def load(device):
            model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
            model.load_state_dict(load_state_dict(path, sha, device))
            return model

        return load

    reg = registry_with(ok=loader(good_sha), tampered=loader("0" * 64))
    summary = run_track("digits-linf", n_examples=10, device="cpu", results_dir=tmp_path / "r", registry=reg,
                        show_progress=False)
    status = {o.model: o for o in summary.outcomes}
    assert status["ok"].status == "ok"
    error = status["tampered"].error
    assert "weights.pt" in error and "sha256" in error and "restore" in error and "\n" not in error


def test_eps_must_be_positive():
    with pytest.raises(ConfigError, match="eps must be a positive number"):
        TrackSpec(name="bad", dataset="digits", norm="Linf", eps=0.0, n_examples=10)

    class BadTrack:
        @benchbed.plugin.hookimpl
        def register_tracks(self, register):
            register(TrackSpec(name="bad", dataset="digits", norm="Linf", eps=-1.0, n_examples=10))

    host = PluginHost(load_external=False)
    host.register(BadTrack(), name="bad-track-plugin")
    assert "bad" not in host.registry.tracks.names()
    assert "eps must be a positive number" in host.infos["bad-track-plugin"].error


def _cli(*args):
    err = io.StringIO()
    with redirect_stderr(err):
        code = main(list(args))
    return code, err.getvalue()


@pytest.mark.parametrize("args, expected", [
    (("run", "--track", "digits-lin"), "did you mean 'digits-linf'"),
    (("run", "--n-examples", "5000"), "has only 449"),
    (("run", "--n-examples", "0"), "positive number"),
    (("run", "--model", "no-such-model"), "unknown model 'no-such-model'"),
    (("run", "--device", "cuda:7"), "--device"),
    (("models", "--track", "cifar10-lnf"), "did you mean 'cifar10-linf'"),
])
def test_cli_bad_input_is_one_line(args, expected, tmp_path, fresh_plugins):
    code, err = _cli(*args, *(["--out", str(tmp_path)] if args[0] == "run" else []))
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("benchbed: error:")]
    assert len(lines) == 1 and expected in lines[0], err


def test_stored_files_are_readable_like_any_file(tmp_path):
    """Atomic writes go through a temporary file; published records must get the user's umask (not 0600)."""
    import os

    from benchbed.results.store import atomic_write_bytes

    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "r.json", b"{}")
    finally:
        os.umask(old)
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o644


def test_a_track_whose_norm_or_options_its_attack_does_not_declare_is_refused_before_work():
    from benchbed.engine.runner import resolve_track

    registry = registry_with()
    l2 = TrackSpec(name="digits-l2-probe", dataset="digits", norm="L2", eps=0.5, attack="pgd-linf-only",
                   n_examples=10, metrics=("clean_accuracy",), attack_options={})
    odd = TrackSpec(name="digits-odd-options", dataset="digits", norm="Linf", eps=0.1, attack="autoattack",
                    n_examples=10, metrics=("clean_accuracy",), attack_options={"version": "standard", "steps": 5})
    from benchbed.contracts.specs import AttackSpec
    host = PluginHost(load_external=False)

    class Attacks:
        @benchbed.plugin.hookimpl
        def register_attacks(self, register):
            register(AttackSpec(name="pgd-linf-only", norms=("Linf",), run=lambda request: None))

    host.register(Attacks(), name="test-attacks")
    with pytest.raises(ConfigError, match=r"attacks in L2 but attack 'pgd-linf-only' supports only Linf"):
        resolve_track(l2, host.registry)
    with pytest.raises(ConfigError, match=r"option\(s\) steps that attack 'autoattack' does not accept"):
        resolve_track(odd, registry)
