"""A local plugin for the study CLI tests: a tiny digits MLP with a three-checkpoint training series,
another without one, and a small digits track (40 points)."""
from __future__ import annotations

import functools

from benchbed.plugin import ModelSpec, TrackSpec, TrainingCheckpoint, hookimpl


def _trained(steps: int, device):
    import torch
    from torch import nn

    from benchbed.plugin import dataset_split

    torch.manual_seed(0)
    train = dataset_split("digits", "train")
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(train.images), train.labels).backward()
        opt.step()
    return model.to(device).eval()


def _series():
    return [TrainingCheckpoint(step=s, loader=functools.partial(_trained, 10 * s), label=f"epoch {s}")
            for s in (1, 2, 3)]


@hookimpl
def register_models(register):
    common = dict(dataset="digits", threat_models=("Linf",), architecture="MLP", recipe="standard")
    register(ModelSpec(name="tiny-series", loader=functools.partial(_trained, 30), training_series=_series, **common))
    register(ModelSpec(name="tiny-plain", loader=functools.partial(_trained, 30), **common))


@hookimpl
def register_tracks(register):
    register(TrackSpec(name="tiny-digits", dataset="digits", norm="Linf", eps=0.1, n_examples=40, batch_size=20))
