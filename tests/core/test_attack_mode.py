"""--attack-mode fast: AutoAttack's APGD-CE + APGD-T only, recorded and labelled as its own variant."""
import numpy as np
import pytest

import benchbed
from benchbed.errors import ConfigError
from benchbed.leaderboard import views
from benchbed.plugins import PluginHost
from benchbed.runner import run_track
from benchbed.specs import ModelSpec
from benchbed.store import ResultsStore


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
    assert "fast attack" in labels and "quick" in labels
    # a standard run of the same points is another variant: neither replaces the other
    standard = run_track("digits-linf", n_examples=40, metrics="clean_accuracy,robust_accuracy", device="cpu",
                         results_dir=tmp_path, registry=registry, show_progress=False, threads=1).records[0]
    assert standard.variant != record.variant and not standard.fast
    assert {r.variant for r in ResultsStore(tmp_path).records()} == {standard.variant, record.variant}


def test_fast_mode_is_never_the_default_and_is_checked(registry):
    from benchbed.runner import with_attack_mode

    track = registry.tracks.get("digits-linf")
    assert with_attack_mode(track, None) is track and with_attack_mode(track, "standard") is track
    assert track.attack_options == {"version": "standard"}
    with pytest.raises(ConfigError, match="unknown attack mode 'quickest'"):
        with_attack_mode(track, "quickest")
    with pytest.raises(ConfigError, match="applies to AutoAttack"):
        with_attack_mode(track.replace(attack="other"), "fast")
