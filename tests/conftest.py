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
