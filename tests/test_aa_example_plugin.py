"""The benchbed-aa-example plugin: pyautoattack's example CIFAR-10 ResNet-18, loaded through its entry point.

Skipped when the plugin distribution is not installed (``pip install -e plugins/benchbed-aa-example``).
"""
from __future__ import annotations

import importlib.util
import shutil

import pytest
import torch

plugin = pytest.importorskip(
    "benchbed_aa_example.plugin", reason="plugin not installed: pip install -e plugins/benchbed-aa-example"
)

from benchbed.contracts.errors import ChecksumError  # noqa: E402
from benchbed.registry import PluginHost  # noqa: E402
from benchbed.results.provenance import sha256_file  # noqa: E402

NAME = "aa-example-resnet18"


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Forward passes on a few 32x32 images gain nothing from intra-op threads, and on a busy machine
    OpenMP threads that wait for each other make them 10-20x slower; restore the setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def spec():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCHBED_PLUGINS", "aa-example")  # this plugin only, found via its entry point
        mp.delenv("BENCHBED_PLUGIN_FILES", raising=False)
        host = PluginHost()
    info = host.infos["aa-example"]
    assert info.ok, info.error
    assert info.distribution == "benchbed-aa-example"
    return host.registry.models.get(NAME)


@pytest.fixture(scope="module")
def model(spec):
    return spec.load("cpu")


def test_metadata(spec):
    assert spec.dataset == "cifar10"
    assert spec.threat_models == ("Linf", "L2")
    assert spec.recipe == "standard"
    assert spec.checkpoint_sha256 == plugin.CHECKPOINT_SHA256
    assert spec.link == "https://arxiv.org/abs/2003.01690"
    assert "pyautoattack" in spec.footnote


def test_sha256_constant_matches_installed_file():
    path = plugin.checkpoint_path()
    assert path.name == "model_test.pt" and path.is_file()
    assert sha256_file(path) == plugin.CHECKPOINT_SHA256


@pytest.fixture(scope="module")
def batch_and_logits(model):
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return x, model(x)


def test_logits_shape_finite_and_eval_mode(model, batch_and_logits):
    assert not model.training
    _, logits = batch_and_logits
    assert logits.shape == (4, 10)
    assert logits.dtype == torch.float32
    assert torch.isfinite(logits).all()
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_matches_upstream_reference_definition(model, batch_and_logits):
    """Our ResNet-18 computes what pyautoattack's own examples/resnet.py computes with these weights."""
    ref_file = plugin.checkpoint_path().with_name("resnet.py")
    if not ref_file.is_file():
        pytest.skip("pyautoattack ships no examples/resnet.py")
    spec = importlib.util.spec_from_file_location("_aa_reference_resnet", ref_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with torch.device("meta"):
        ref = module.ResNet18()
    ref.load_state_dict(model.state_dict(), assign=True)
    ref.eval()
    x, logits = batch_and_logits
    with torch.no_grad():
        expected = ref(x[:1])
    # (torch.testing.assert_close would import torch.distributed, seconds on a busy machine)
    assert torch.allclose(logits[:1], expected, rtol=1e-4, atol=1e-4), (logits[:1] - expected).abs().max()


def test_tampered_checkpoint_is_rejected(spec, tmp_path, monkeypatch):
    bad = tmp_path / "model_test.pt"
    shutil.copyfile(plugin.checkpoint_path(), bad)
    with open(bad, "r+b") as fh:  # change one byte in the middle of the tensor data
        fh.seek(bad.stat().st_size // 2)
        byte = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(plugin, "checkpoint_path", lambda: bad)
    with pytest.raises(ChecksumError) as err:
        spec.load("cpu")
    message = str(err.value)
    assert "model_test.pt" in message and "pyautoattack" in message
    assert "\n" not in message


def test_missing_checkpoint_names_file_and_fix(spec, tmp_path, monkeypatch):
    missing = tmp_path / "examples" / "model_test.pt"
    monkeypatch.setattr(plugin, "checkpoint_path", lambda: missing)
    with pytest.raises(ChecksumError, match=r"model_test\.pt.*reinstall.*pyautoattack"):
        spec.load("cpu")
