"""The RobustBench adapter plugin (plugins/benchbed-robustbench), offline.

Skipped when robustbench or the plugin is not installed
(``pip install robustbench && pip install -e plugins/benchbed-robustbench``).
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

# not importorskip("robustbench"): robustbench's own __init__ fails without the GitHub `autoattack`
# and setuptools' `pkg_resources`; the adapter imports only the submodules it needs.
if importlib.util.find_spec("robustbench") is None:
    pytest.skip("robustbench not installed: pip install robustbench", allow_module_level=True)
plugin = pytest.importorskip("benchbed_robustbench.plugin",
                             reason="plugin not installed: pip install -e plugins/benchbed-robustbench")

from benchbed_robustbench import loading, zoo  # noqa: E402
from eco_helpers import ACCURACY, accuracy_track, fake_cifar10_images  # noqa: E402

import benchbed  # noqa: E402
from benchbed.contracts.errors import BenchbedError  # noqa: E402
from benchbed.engine.runner import run_track  # noqa: E402
from benchbed.registry import PluginHost  # noqa: E402
from benchbed.results.provenance import sha256_file  # noqa: E402
from benchbed.results.store import ResultsStore  # noqa: E402

SMALL = "Sehwag2021Proxy_R18"  # a plain ResNet-18 on RobustBench's CIFAR-10 Linf table
SMALL_NAME = f"rb/cifar10-linf/{SMALL}"


@pytest.fixture(scope="module")
def host():
    """Only this plugin, found through its entry point in group ``benchbed``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCHBED_PLUGINS", "robustbench")
        mp.delenv("BENCHBED_PLUGIN_FILES", raising=False)
        mp.delenv(zoo.ENV_MODEL_INFO, raising=False)
        host = PluginHost()
    info = host.infos["robustbench"]
    assert info.ok, info.error
    assert info.distribution == "benchbed-robustbench"
    return host


@pytest.fixture
def checkpoints(tmp_path, monkeypatch):
    root = tmp_path / "rb-models"
    monkeypatch.setenv(loading.ENV_DIR, str(root))
    monkeypatch.setenv(loading.ENV_DOWNLOAD, "0")
    return root


def _zoo_ids(dataset, threat):
    from benchbed_robustbench.loading import import_robustbench

    model_zoo = import_robustbench("model_zoo")
    enums = import_robustbench("model_zoo.enums")
    return list(model_zoo.model_dicts[enums.BenchmarkDataset(dataset)][enums.ThreatModel(threat)])


def test_lists_cifar10_linf_zoo_models_with_published_numbers(host):
    """Acceptance: the adapter lists RobustBench's CIFAR-10 Linf zoo with its published numbers."""
    reg = host.registry
    names = benchbed.list_models("rb/*", track="cifar10-linf", registry=reg)
    assert names == sorted(f"rb/cifar10-linf/{i}" for i in _zoo_ids("cifar10", "Linf"))
    assert len(names) >= 50
    standard = reg.models.get("rb/cifar10-linf/Standard")
    assert standard.reported == {"clean_accuracy": 94.78, "robust_accuracy": 0.0}
    assert standard.architecture == "WideResNet-28-10" and standard.recipe == "standard"
    small = reg.models.get(SMALL_NAME)
    assert small.reported == {"clean_accuracy": 84.59, "robust_accuracy": 55.54}
    assert small.architecture == "ResNet-18" and small.venue == "ICLR 2022"
    assert small.link == "https://arxiv.org/abs/2104.09425" and "Proxy Distributions" in small.paper
    assert small.dataset == "cifar10" and small.threat_models == ("Linf",)
    assert all(reg.models.get(n).reported.get("robust_accuracy") is not None for n in names)
    # the other tracks, and ids RobustBench reuses across them stay distinct models
    assert benchbed.list_models("rb/cifar10-l2/Standard", track="cifar10-l2", registry=reg)
    assert reg.models.get("rb/cifar10-l2/Standard").reported["robust_accuracy"] == 0.0
    assert len(benchbed.list_models("rb/*", track="cifar100-linf", registry=reg)) == len(
        _zoo_ids("cifar100", "Linf"))
    assert not benchbed.list_models("rb/cifar10-linf/*", track="cifar10-l2", registry=reg)


def test_models_command_lists_them(host, monkeypatch, capsys):
    from benchbed import registry as plugin_registry
    from benchbed.cli import main

    monkeypatch.setenv("BENCHBED_PLUGINS", "robustbench")
    monkeypatch.setattr(plugin_registry, "_HOST", host)
    assert main(["models", "--track", "cifar10-linf", "rb/*Proxy_R18"]) == 0
    out = capsys.readouterr().out
    assert SMALL_NAME in out and "ResNet-18" in out and "robustbench" in out
    # RobustBench's published numbers are listed beside the model
    assert "reported clean %" in out and "reported robust %" in out
    assert "84.59" in out and "55.54" in out


def test_registration_imports_no_torch_or_timm():
    code = textwrap.dedent("""
        import sys
        from benchbed_robustbench import plugin
        specs = plugin.specs()
        heavy = sorted(m for m in ("torch", "timm", "robustbench.model_zoo", "robustbench.utils") if m in sys.modules)
        print(len(specs), heavy)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    count, heavy = out.stdout.split(" ", 1)
    assert int(count) > 100 and heavy.strip() == "[]"


def test_parse_readme_and_zoo_source():
    readme = textwrap.dedent("""
        ### CIFAR-10

        #### Linf, eps=8/255
        | <sub>#</sub> | <sub>Model ID</sub> | <sub>Paper</sub> | <sub>Clean accuracy</sub> | <sub>Robust accuracy</sub> | <sub>Architecture</sub> | <sub>Venue</sub> |
        |:---:|---|---|:---:|:---:|:---:|:---:|
        | <sub>**1**</sub> | <sub><sup>**Foo2024_R18**</sup></sub> | <sub>*[A [b] title](https://arxiv.org/abs/1)*</sub> | <sub>90.10%</sub> | <sub>55.00%</sub> | <sub>ResNet-18</sub> | <sub>ICML 2024</sub> |

        #### Common Corruptions
        | <sub>**1**</sub> | <sub><sup>**Bar**</sup></sub> | <sub>*[T](https://x)*</sub> | <sub>1%</sub> | <sub>2%</sub> | <sub>A</sub> | <sub>V</sub> |
        """)
    rows = zoo.parse_readme(readme)
    assert list(rows) == [("cifar10", "Linf", "Foo2024_R18")]
    row = rows[("cifar10", "Linf", "Foo2024_R18")]
    assert row["name"] == "A [b] title" and row["link"] == "https://arxiv.org/abs/1"
    assert row["clean_acc"] == 90.10 and row["autoattack_acc"] == 55.0 and row["eps"] == "8/255"
    assert row["architecture"] == "ResNet-18" and row["venue"] == "ICML 2024"

    source = textwrap.dedent("""
        from collections import OrderedDict
        linf = OrderedDict([
            ('A', {'model': lambda: Net(depth=28), 'gdrive_id': 'old', 'gdrive_id': 'new'}),
            ('Ens', {'model': Ens, 'gdrive_id': ['g0', 'g1', 'g2']}),
        ])
        cc = OrderedDict([('C', {'model': Net, 'gdrive_id': 'c'})])
        cifar_10_models = OrderedDict([(ThreatModel.Linf, linf), (ThreatModel.corruptions, cc)])
        """)
    entries = zoo.parse_zoo_source(source, "cifar10", "cifar_10_models")
    assert [(e.model_id, e.threat_model, e.gdrive_ids) for e in entries] == [
        ("A", "Linf", ("new",)), ("Ens", "Linf", ("g0", "g1", "g2"))]
    assert entries[0].constructor == "lambda: Net(depth=28)" and entries[1].ensemble


def test_model_info_folder_overrides_readme(tmp_path, monkeypatch):
    folder = tmp_path / "model_info" / "cifar10" / "Linf"
    folder.mkdir(parents=True)
    (folder / f"{SMALL}.json").write_text(json.dumps({
        "link": "https://arxiv.org/abs/2104.09425", "name": "Improving Adversarial Robustness Using Proxy "
        "Distributions", "authors": "Vikash Sehwag, Saeed Mahloujifar", "additional_data": True,
        "number_forward_passes": 1, "dataset": "cifar10", "venue": "arXiv, Apr 2021", "architecture": "ResNet-18",
        "eps": "8/255", "clean_acc": "84.38", "reported": "54.8", "autoattack_acc": "54.43",
        "footnote": "It uses additional ~6M synthetic images in training.", "unreliable": False}))
    monkeypatch.setenv(zoo.ENV_MODEL_INFO, str(tmp_path / "model_info"))
    entry = next(e for e in zoo.zoo_entries() if e.model_id == SMALL and e.threat_model == "Linf")
    spec = plugin.spec_for(entry)
    assert spec.reported == {"clean_accuracy": 84.38, "robust_accuracy": 54.43}
    assert spec.extra_data is True and spec.venue == "arXiv, Apr 2021"
    info = spec.info()["extra"]["robustbench"]
    assert info["authors"].startswith("Vikash Sehwag") and info["reported_by_paper"] == 54.8
    assert "6M synthetic" in spec.footnote


def test_missing_checkpoint_offline_is_one_line_naming_file_and_folder(host, checkpoints):
    spec = host.registry.models.get(SMALL_NAME)
    assert spec.checkpoint_sha256 == ""
    with pytest.raises(BenchbedError) as err:
        spec.load("cpu")
    message = str(err.value)
    folder = checkpoints / "cifar10" / "Linf"
    assert "\n" not in message
    assert f"{SMALL}.pt" in message and str(folder) in message and loading.ENV_DIR in message
    assert "downloads are off" in message


def test_failed_download_is_one_line(host, checkpoints, monkeypatch):
    monkeypatch.setenv(loading.ENV_DOWNLOAD, "1")
    calls = []

    def no_network(gdrive_id, path):
        calls.append((gdrive_id, path))
        raise ConnectionError("no route to host")

    monkeypatch.setattr(loading, "download_gdrive", no_network)
    with pytest.raises(BenchbedError) as err:
        host.registry.models.get(SMALL_NAME).load("cpu")
    assert calls and calls[0][0] == "1-ZgoSlD_AMhtXdnUElilxVXnzK2DcHuu"
    assert calls[0][1] == checkpoints / "cifar10" / "Linf" / f"{SMALL}.pt"
    message = str(err.value)
    assert "download failed (ConnectionError)" in message and "\n" not in message
    assert not list((checkpoints / "cifar10" / "Linf").glob("*.pt")) if (checkpoints / "cifar10").exists() else True


def test_ensemble_checksum_combines_member_files(tmp_path):
    import hashlib

    entry = zoo.ZooEntry("Ens", "cifar10", "Linf", ("g0", "g1"))
    files = loading.checkpoint_files(entry, tmp_path)
    assert [f.name for f in files] == ["Ens.pt_m0.pt", "Ens.pt_m1.pt"]
    files[0].parent.mkdir(parents=True)
    files[0].write_bytes(b"first")
    assert loading.checkpoint_sha256(entry, tmp_path) == ""  # incomplete
    files[1].write_bytes(b"second")
    members = [hashlib.sha256(b"first").hexdigest(), hashlib.sha256(b"second").hexdigest()]
    expected = hashlib.sha256("".join(m + "\n" for m in members).encode()).hexdigest()
    assert loading.checkpoint_sha256(entry, tmp_path) == expected


def _zoo_entry(dataset="cifar10", threat="Linf", model_id=SMALL) -> dict:
    """RobustBench's own zoo dict for a model ({'model': constructor, 'gdrive_id': ...})."""
    model_zoo = loading.import_robustbench("model_zoo")
    enums = loading.import_robustbench("model_zoo.enums")
    return model_zoo.model_dicts[enums.BenchmarkDataset(dataset)][enums.ThreatModel(threat)][model_id]


def _make_checkpoint(root, seed=0):
    """A randomly initialised network of the zoo entry's architecture, saved where RobustBench keeps it."""
    import torch

    torch.manual_seed(seed)
    net = _zoo_entry()["model"]()
    path = root / "cifar10" / "Linf" / f"{SMALL}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return net.eval(), path


@pytest.fixture
def tiny_architecture(monkeypatch):
    """Swap the zoo entry's ResNet-18 for a WideResNet-10-1 (RobustBench's own class, ~80k weights).

    A ResNet-18 under AutoAttack takes minutes on a small shared CPU; everything else of the path
    (RobustBench's folder layout, its load_model, checksum, offline) is the same. The real
    architecture is loaded in test_loads_the_zoo_architecture_from_a_test_made_checkpoint and
    attacked in the slow test below.
    """
    wide_resnet = loading.import_robustbench("model_zoo.architectures.wide_resnet")
    monkeypatch.setitem(_zoo_entry(), "model", lambda: wide_resnet.WideResNet(depth=10, widen_factor=1))


def test_loads_the_zoo_architecture_from_a_test_made_checkpoint(host, checkpoints):
    import torch

    net, path = _make_checkpoint(checkpoints)
    spec = host.registry.models.get(SMALL_NAME)
    assert spec.checkpoint_sha256 == sha256_file(path)
    loaded = spec.load("cpu")
    assert type(loaded).__name__ == type(net).__name__ and not loaded.training
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), net(x))


def _evaluate_offline(host, checkpoints, fake_cifar10, tmp_path, n=8, n_right=2):
    import torch

    net, path = _make_checkpoint(checkpoints)
    images = fake_cifar10_images(n)
    x = torch.from_numpy(images).view(-1, 3, 32, 32).float() / 255
    with torch.no_grad():
        predicted = net(x).argmax(1).numpy()
    # n_right points the model gets right (the attack must work on them), the rest it gets wrong
    labels = np.where(np.arange(n) < n_right, predicted, (predicted + 1) % 10)
    data_dir = fake_cifar10(images, labels)

    reg = host.registry
    spec = reg.models.get(SMALL_NAME)
    assert spec.checkpoint_sha256 == sha256_file(path)
    track = accuracy_track(reg, "cifar10-linf")
    summary = run_track(track, [SMALL_NAME], n_examples=n, device="cpu", results_dir=tmp_path / "results",
                        data_dir=data_dir, registry=reg, show_progress=False)
    assert not summary.failed, summary.failed[0].error
    record = ResultsStore(tmp_path / "results").record("cifar10-linf", SMALL_NAME, summary.records[0].variant)
    assert record.metrics["clean_accuracy"] == pytest.approx(100.0 * n_right / n)
    assert 0.0 <= record.metrics["robust_accuracy"] <= 100.0 * n_right / n
    assert record.checkpoint_sha256 == sha256_file(path)
    assert record.model_info["reported"] == {"clean_accuracy": 84.59, "robust_accuracy": 55.54}
    assert record.model_info["extra"]["robustbench"]["id"] == SMALL
    assert record.n_examples == n and record.quick is True and record.eps == pytest.approx(8 / 255)
    return record, data_dir


@pytest.mark.slow
def test_evaluates_a_test_made_checkpoint_offline(host, checkpoints, fake_cifar10, tmp_path, tiny_architecture):
    """Acceptance: a zoo model evaluated from a checkpoint in RobustBench's layout, no network."""
    record, data_dir = _evaluate_offline(host, checkpoints, fake_cifar10, tmp_path)
    reg = host.registry

    # the same model through the Python API: loaded by name, evaluated unregistered -> same numbers
    model = benchbed.load_model(SMALL_NAME, device="cpu", registry=reg)
    result = benchbed.evaluate(model, track="cifar10-linf", n_examples=8, device="cpu", metrics=list(ACCURACY),
                               data_dir=data_dir, registry=reg, progress=False)
    assert result.metrics == record.metrics

    # and exported for a RobustBench submission
    from benchbed.results.exports import model_info

    info = model_info(record)
    assert info["clean_acc"] == "25.00" and info["eps"] == "8/255" and info["dataset"] == "cifar10"
    assert info["architecture"] == "ResNet-18" and info["reported"] == "55.54"
    assert info["autoattack_acc"] == f"{record.metrics['robust_accuracy']:.2f}"


@pytest.mark.slow
def test_evaluates_the_real_resnet18_offline(host, checkpoints, fake_cifar10, tmp_path):
    """The zoo's own ResNet-18 under AutoAttack (minutes on a small CPU)."""
    _evaluate_offline(host, checkpoints, fake_cifar10, tmp_path, n=4, n_right=1)
