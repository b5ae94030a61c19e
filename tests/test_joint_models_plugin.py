"""The joint-models plugin: JEM's and DAT's CIFAR-10 checkpoints in their released state-dict formats,
loaded from the user's folder, checked against hand-written forward passes on tiny checkpoints."""
import pytest
import torch
import torch.nn.functional as F
from benchbed_joint_models import plugin
from benchbed_joint_models.architectures import DatWideResNet, JemClassifier

from benchbed.contracts.errors import ConfigError


def _random_state(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {k: (torch.randn(v.shape, generator=g) * 0.2 if v.is_floating_point() else v)
            if "num_batches" not in k else v for k, v in module.state_dict().items()}


def _jem_reference(state, x, n=1, leak=0.2):
    """JEM's CCF.classify written out: conv stem, pre-activation blocks (no norm), leaky ReLU, mean pool."""
    def conv(h, name, stride=1, padding=1):
        return F.conv2d(h, state[f"{name}.weight"], state[f"{name}.bias"], stride=stride, padding=padding)

    h = conv(2 * x - 1, "f.conv1")
    for layer, stride in ((1, 1), (2, 2), (3, 2)):
        for b in range(n):
            p = f"f.layer{layer}.{b}"
            s = stride if b == 0 else 1
            out = conv(F.leaky_relu(h, leak), f"{p}.conv1")
            out = conv(F.leaky_relu(out, leak), f"{p}.conv2", stride=s)
            short = conv(h, f"{p}.shortcut.0", stride=s, padding=0) if f"{p}.shortcut.0.weight" in state else h
            h = out + short
    z = F.leaky_relu(h, leak).mean((2, 3))
    return F.linear(z, state["class_output.weight"], state["class_output.bias"])


def test_jem_state_dict_names_and_forward(tmp_path, monkeypatch):
    tiny = JemClassifier(depth=10, width=2)
    keys = set(tiny.state_dict())
    assert {"f.conv1.weight", "f.layer1.0.conv1.bias", "f.layer2.0.shortcut.0.weight", "f.linear.weight",
            "energy_output.weight", "class_output.bias"} <= keys  # JEM's CCF names
    assert not any("bn" in k for k in keys)  # norm=None: identities, no parameters
    state = _random_state(tiny)
    path = tmp_path / "CIFAR10_MODEL.pt"
    torch.save({"model_state_dict": state, "replay_buffer": torch.rand(4, 3, 32, 32)}, path)  # JEM's layout
    model = plugin.load_jem("cpu", depth=10, width=2, path=path)
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), _jem_reference(state, x), rtol=1e-4, atol=1e-4)


def _dat_reference(state, x, n=1):
    """DAT's WideResNet written out: CIFAR-10 standardisation, pre-activation blocks with BN (eval), fc."""
    mean = torch.tensor([0.4913997551666284, 0.48215855929893703, 0.4465309133731618]).view(1, 3, 1, 1)
    std = torch.tensor([0.24703225141799082, 0.24348516474564, 0.26158783926049628]).view(1, 3, 1, 1)

    def bn(h, name):
        return F.batch_norm(h, state[f"{name}.running_mean"], state[f"{name}.running_var"], state[f"{name}.weight"],
                            state[f"{name}.bias"], training=False)

    h = F.conv2d((x - mean) / std, state["conv1.weight"], padding=1)
    for group, stride in ((1, 1), (2, 2), (3, 2)):
        for b in range(n):
            p = f"block{group}.layer.{b}"
            s = stride if b == 0 else 1
            pre = F.relu(bn(h, f"{p}.bn1"))
            out = F.relu(bn(F.conv2d(pre, state[f"{p}.conv1.weight"], stride=s, padding=1), f"{p}.bn2"))
            out = F.conv2d(out, state[f"{p}.conv2.weight"], padding=1)
            short = F.conv2d(pre, state[f"{p}.convShortcut.weight"], stride=s) if f"{p}.convShortcut.weight" in state \
                else h
            h = short + out
    z = F.relu(bn(h, "bn1")).mean((2, 3))
    return F.linear(z, state["fc.weight"], state["fc.bias"])


@pytest.mark.parametrize("wrapping", ["plain", "dataparallel", "ema"])
def test_dat_state_dict_formats_and_forward(wrapping, tmp_path):
    tiny = DatWideResNet(depth=10, width=2)
    state = _random_state(tiny, seed=1)
    for k in state:
        if k.endswith("running_var"):
            state[k] = state[k].abs() + 0.5
    saved = dict(state)
    if wrapping == "dataparallel":
        saved = {f"module.{k}": v for k, v in state.items()}
    elif wrapping == "ema":  # torch.optim.swa_utils.AveragedModel around a DataParallel model
        saved = {f"module.module.{k}": v for k, v in state.items()}
        saved["module.n_averaged"] = torch.tensor(10)
    path = tmp_path / "dat.pth"
    torch.save(saved, path)
    model = plugin.load_dat("cpu", depth=10, width=2, path=path)
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), _dat_reference(state, x), rtol=1e-4, atol=1e-4)


def test_missing_checkpoint_is_one_line_naming_file_and_source(tmp_path, monkeypatch):
    monkeypatch.setenv(plugin.ENV_DIR, str(tmp_path))
    with pytest.raises(ConfigError, match=r"CIFAR10_MODEL\.pt not found: download http://www\.cs\.toronto\.edu"):
        plugin.checkpoint_path("jem-wrn28-10")


def test_registered_specs_name_family_sampler_and_reported():
    from benchbed.registry import PluginHost

    host = PluginHost(load_external=False)
    host.register(plugin, name="joint-models")
    jem, dat = host.registry.models.get("jem-wrn28-10"), host.registry.models.get("dat-wrn34-10-t40")
    assert (jem.family, jem.sampler, dat.family, dat.sampler) == ("joint", "jem-sgld", "joint", "dat-pgd")
    # the paper's IS/FID come from unpublished evaluation code: not shown beside benchbed's (footnote only)
    assert jem.reported == {"clean_accuracy": 92.9} and "8.76" in jem.footnote and "38.4" in jem.footnote
    assert "cifar10-l2-joint50k" in host.registry.tracks.names()
