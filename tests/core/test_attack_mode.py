"""--attack-mode fast: AutoAttack's APGD-CE + APGD-T only, recorded and labelled as its own variant."""
import numpy as np
import pytest

import benchbed
from benchbed.contracts.errors import ConfigError
from benchbed.contracts.specs import ModelSpec
from benchbed.engine.runner import run_track
from benchbed.leaderboard import views
from benchbed.registry import PluginHost
from benchbed.results.store import ResultsStore


@pytest.fixture
def registry(tiny_digits_mlp):
    class Zoo:
        @benchbed.plugin.hookimpl
        def register_models(self, register):
            register(ModelSpec(name="mlp", dataset="digits", threat_models=("Linf",), architecture="MLP",
                               recipe="standard", loader=lambda device: tiny_digits_mlp))

    host = PluginHost(load_external=False)
    host.register(Zoo(), name="test-zoo")
    return host.registry


def test_fast_mode_equals_direct_apgd_ce_and_apgd_t_and_is_labelled(registry, tiny_digits_mlp, tmp_path):
    from pyautoattack import AutoAttack

    summary = run_track("digits-linf", n_examples=40, metrics="clean_accuracy,robust_accuracy", device="cpu",
                        results_dir=tmp_path, registry=registry, show_progress=False, attack_mode="fast", threads=1)
    (record,) = summary.records
    assert record.variant.startswith("n40-fast") and record.fast and record.attack_mode == "fast"
    assert record.attack.version == "custom" and set(record.attack.flipped_by) == {"apgd-ce", "apgd-t"}
    assert record.track_info["attack_options"] == {"version": "custom", "attacks": ["apgd-ce", "apgd-t"]}
    test = registry.datasets.get("digits").load("test")
    x, y = test.images[:40], test.labels[:40]
    adversary = AutoAttack(tiny_digits_mlp, norm="Linf", eps=0.1, version="custom", attacks=["apgd-ce", "apgd-t"],
                           seed=0, device="cpu")
    _, y_adv = adversary.run_standard_evaluation(x, y, batch_size=500)
    direct = (y_adv == y).numpy()
    assert record.metrics["robust_accuracy"] == 100.0 * int(direct.sum()) / 40
    assert np.array_equal(ResultsStore(tmp_path).arrays(record)["robust"], direct)
    labels = [f.label for f in views.status_flags(record)]
    assert "attack mode" in labels and "quick" in labels
    # a standard run of the same points is another variant: neither replaces the other
    standard = run_track("digits-linf", n_examples=40, metrics="clean_accuracy,robust_accuracy", device="cpu",
                         results_dir=tmp_path, registry=registry, show_progress=False, threads=1).records[0]
    assert standard.variant != record.variant and not standard.fast
    assert {r.variant for r in ResultsStore(tmp_path).records()} == {standard.variant, record.variant}


def test_fast_mode_is_never_the_default_and_is_checked(registry):
    from benchbed.engine.runner import with_attack_mode

    track = registry.tracks.get("digits-linf")
    attack = registry.attacks.get(track.attack)
    assert with_attack_mode(track, None, attack) is track and with_attack_mode(track, "standard", attack) is track
    assert track.attack_options == {"version": "standard"} and track.attack_mode == "standard"
    with pytest.raises(ConfigError, match="has no mode 'quickest': choose one of standard, fast"):
        with_attack_mode(track, "quickest", attack)


def test_attack_modes_are_declared_by_the_attack_plugin_not_the_core():
    """An outside attack offers its own cheap mode; an undeclared mode is a one-line error naming the choices."""
    from benchbed.contracts.specs import AttackSpec, TrackSpec
    from benchbed.engine.runner import resolve_track
    from benchbed.engine.units import variant_of

    attack = AttackSpec(name="probe-attack", norms=("Linf",), run=lambda request: None, options=("steps",),
                        modes={"quick-check": {"steps": 5}})
    track = TrackSpec(name="probe-track", dataset="digits", norm="Linf", eps=0.1, n_examples=10,
                      attack="probe-attack", attack_options={"steps": 100}, metrics=("clean_accuracy",))

    class Plugin:
        @benchbed.plugin.hookimpl
        def register_attacks(self, register):
            register(attack)

    host = PluginHost(load_external=False)
    host.register(Plugin(), name="probe")
    chosen = resolve_track(track, host.registry, attack_mode="quick-check")
    assert dict(chosen.attack_options) == {"steps": 5} and chosen.attack_mode == "quick-check"
    assert variant_of(track, chosen, track.metrics) == "quick-check"
    with pytest.raises(ConfigError, match=r"has no mode 'fast': choose one of standard, quick-check"):
        resolve_track(track, host.registry, attack_mode="fast")
    with pytest.raises(ConfigError, match=r"mode 'Bad Mode' must be a short lower-case word"):
        AttackSpec(name="x", norms=("Linf",), run=lambda request: None, modes={"Bad Mode": {}})
