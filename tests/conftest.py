"""Shared fixtures. Everything runs on CPU, offline."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("TQDM_DISABLE", "1")


@pytest.fixture
def fresh_plugins(monkeypatch):
    """A plugin host rebuilt from scratch for the test, and forgotten afterwards."""
    from benchbed import registry as plugin_registry
    plugin_registry.reset()
    yield plugin_registry
    plugin_registry.reset()


@pytest.fixture(scope="session")
def tiny_digits_mlp():
    """A small MLP trained for a second on the digits training split (deterministic)."""
    import torch
    from torch import nn

    from benchbed.builtin.dataset_loaders import load_digits_split

    torch.manual_seed(0)
    train = load_digits_split("train")
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        opt.zero_grad()
        nn.functional.cross_entropy(model(train.images), train.labels).backward()
        opt.step()
    return model.eval()


@pytest.fixture
def mlp_registry(tiny_digits_mlp):
    """``mlp_registry(*metric_specs)``: a registry of the built-ins, the tiny MLP as digits model "mlp" and the
    given metrics (an in-process plugin, as a notebook would register them)."""
    import benchbed
    from benchbed.contracts.specs import ModelSpec
    from benchbed.registry import PluginHost

    class Plugin:
        @benchbed.plugin.hookimpl
        def register_models(self, register):
            register(ModelSpec(name="mlp", dataset="digits", threat_models=("Linf",), architecture="MLP",
                               recipe="standard", loader=lambda device: tiny_digits_mlp))

        @benchbed.plugin.hookimpl
        def register_metrics(self, register):
            for spec in metrics:
                register(spec)

    def make(*specs):
        nonlocal metrics
        metrics = specs
        host = PluginHost(load_external=False)
        host.register(Plugin(), name="test-plugin")
        return host.registry

    metrics: tuple = ()
    return make
