"""Fixtures of the trust tests: small in-process plugins, a small accuracy track, runs into tmp folders."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from benchbed.engine.runner import run_track
from benchbed.plugin import ModelSpec, TrackSpec, hookimpl
from benchbed.registry import PluginHost

TRACK = "trust-test"
N_POINTS = 30
ACCURACY = ("clean_accuracy", "robust_accuracy")


class Models:
    """An in-process plugin: {name: loader}, all digits models claiming Linf; plus a 30-point track
    (APGD-CE only, one thread's worth of work) so runs take seconds."""

    def __init__(self, loaders, checksums=None):
        self.loaders = loaders
        self.checksums = checksums or {}

    @hookimpl
    def register_models(self, register):
        for name, loader in self.loaders.items():
            register(ModelSpec(name=name, dataset="digits", threat_models=("Linf",), architecture="MLP",
                               recipe="standard", loader=loader, checkpoint_sha256=self.checksums.get(name, "")))

    @hookimpl
    def register_tracks(self, register):
        register(TrackSpec(name=TRACK, dataset="digits", norm="Linf", eps=0.1, n_examples=N_POINTS, metrics=ACCURACY,
                           attack_options={"version": "custom", "attacks": ["apgd-ce"]}, batch_size=100,
                           block_size=100))


def registry_with(loaders, checksums=None):
    host = PluginHost(load_external=False)
    host.register(Models(loaders, checksums), name="trust-models")
    return host.registry


def run(registry, out, models, **kwargs):
    kwargs.setdefault("device", "cpu")
    kwargs.setdefault("threads", 1)
    kwargs.setdefault("show_progress", False)
    return run_track(TRACK, list(models), results_dir=out, registry=registry, **kwargs)


def logistic_regression():
    """A digits logistic regression, fitted in closed-form-ish (deterministic, no training noise)."""
    from benchbed.builtin.dataset_loaders import load_digits_split

    torch.manual_seed(0)
    train = load_digits_split("train")
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    opt = torch.optim.LBFGS(model.parameters(), max_iter=60)

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(train.images), train.labels)
        loss.backward()
        return loss

    opt.step(closure)
    return model.eval()


@pytest.fixture(scope="session")
def healthy():
    return logistic_regression()
