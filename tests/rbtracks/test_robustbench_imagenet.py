"""The RobustBench adapter registers RobustBench's ImageNet Linf zoo for the imagenet-linf track."""
from __future__ import annotations

import importlib.util

import pytest

if importlib.util.find_spec("robustbench") is None:
    pytest.skip("robustbench not installed: pip install robustbench", allow_module_level=True)
plugin = pytest.importorskip("benchbed_robustbench.plugin",
                             reason="plugin not installed: pip install -e plugins/benchbed-robustbench")

from benchbed_robustbench import loading, zoo  # noqa: E402

import benchbed  # noqa: E402
from benchbed.registry import PluginHost  # noqa: E402


@pytest.fixture(scope="module")
def reg():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCHBED_PLUGINS", "robustbench")
        mp.delenv("BENCHBED_PLUGIN_FILES", raising=False)
        mp.delenv(zoo.ENV_MODEL_INFO, raising=False)
        return PluginHost().registry


def test_imagenet_linf_zoo_with_published_numbers_and_preprocessing(reg):
    model_zoo = loading.import_robustbench("model_zoo")  # robustbench's own table: the reference
    enums = loading.import_robustbench("model_zoo.enums")
    table = model_zoo.model_dicts[enums.BenchmarkDataset("imagenet")][enums.ThreatModel("Linf")]
    names = benchbed.list_models("rb/*", track="imagenet-linf", registry=reg)
    assert names == sorted(f"rb/imagenet-linf/{i}" for i in table)
    for model_id in ("Salman2020Do_R50", "Engstrom2019Robustness", "Wong2020Fast", "Standard_R50"):
        spec = reg.models.get(f"rb/imagenet-linf/{model_id}")
        assert spec.extra["preprocessing"] == table[model_id]["preprocessing"]
        assert spec.dataset == "imagenet" and spec.threat_models == ("Linf",)
    # RobustBench's README numbers (its package METADATA)
    assert reg.models.get("rb/imagenet-linf/Salman2020Do_R50").reported == {"clean_accuracy": 64.02,
                                                                           "robust_accuracy": 34.96}
    assert reg.models.get("rb/imagenet-linf/Standard_R50").reported == {"clean_accuracy": 76.52,
                                                                       "robust_accuracy": 0.0}
    wong = reg.models.get("rb/imagenet-linf/Wong2020Fast")
    assert "Crop288" in wong.footnote and "may differ" in wong.footnote
    assert "may differ" not in reg.models.get("rb/imagenet-linf/Salman2020Do_R50").footnote


def test_hub_weights_need_no_checkpoint_file(reg, tmp_path, monkeypatch):
    monkeypatch.setenv(loading.ENV_DIR, str(tmp_path))
    standard = reg.models.get("rb/imagenet-linf/Standard_R50").extra["zoo_entry"]
    assert standard.hub_weights and loading.checkpoint_files(standard) == []
    assert loading.ensure_checkpoint(standard) == [] and loading.checkpoint_sha256(standard) == ""
    salman = reg.models.get("rb/imagenet-linf/Salman2020Do_R50").extra["zoo_entry"]
    assert not salman.hub_weights
    assert loading.checkpoint_files(salman) == [tmp_path / "imagenet" / "Linf" / "Salman2020Do_R50.pt"]
