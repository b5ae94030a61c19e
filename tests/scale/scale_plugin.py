"""A local benchbed plugin for the scale tests (loaded with ``--plugin`` / ``BENCHBED_PLUGIN_FILES``).

Models are built in closed form from the digits training split (no training loop, no randomness
left unseeded), so every process, Ray workers included, builds bit-identical models instantly:

- ``scale-template``: nearest class mean, as a linear layer;
- ``scale-features``: fixed random ReLU features (seeded) with a ridge-regression read-out.

Knobs, through the environment (so they reach subprocesses and Ray workers):
``SCALE_TEST_SLEEP`` (seconds each model load sleeps: makes runs slow enough to kill mid-way),
``SCALE_TEST_BROKEN=1`` (registers ``scale-broken``, whose loader always raises),
``SCALE_TEST_CRASH=PID`` (registers ``scale-crash``, whose loader kills its own process -- as a crash in
native code would -- and ``scale-raise``, whose loader raises, anywhere but in process PID, the run's, which
loads them to plan), and
``SCALE_TEST_FLAKY_DIR`` (registers ``scale-flaky``, whose second load -- the first on a worker, after the
planning load -- fails once; markers in that folder count the loads across processes).

Tracks: ``scale-test`` (120 digits test points in attack blocks of 20, APGD-CE only: seconds on a CPU),
``scale-test-model`` (adds a model-level metric) and ``scale-test-nomerge`` (adds a per-example metric
whose column declares no reduction: it can never make a number, sharded or not).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

import benchbed
from benchbed.plugin import Column, MetricOutput, MetricSpec, ModelSpec, TrackSpec, mean, scalar


def _train():
    from benchbed.builtin.dataset_loaders import load_digits_split

    train = load_digits_split("train")
    x = train.images.reshape(len(train), -1).double()
    return x, train.labels


def _template(device):
    import torch

    x, y = _train()
    means = torch.stack([x[y == k].mean(0) for k in range(10)])  # (10, 64)
    layer = torch.nn.Linear(64, 10)
    with torch.no_grad():
        layer.weight.copy_((8.0 * means).float())
        layer.bias.copy_((-4.0 * (means ** 2).sum(1)).float())  # -||mu||^2 / 2 at scale 8
    return torch.nn.Sequential(torch.nn.Flatten(), layer).to(device)


def _features(device):
    import torch

    x, y = _train()
    gen = torch.Generator().manual_seed(1234)
    w1 = torch.randn(64, 256, generator=gen, dtype=torch.float64) / 8.0
    b1 = torch.randn(256, generator=gen, dtype=torch.float64) * 0.1
    h = torch.relu(x @ w1 + b1)
    onehot = torch.nn.functional.one_hot(y, 10).double() * 6.0 - 3.0
    w2 = torch.linalg.solve(h.T @ h + 1.0 * torch.eye(256, dtype=torch.float64), h.T @ onehot)
    first, second = torch.nn.Linear(64, 256), torch.nn.Linear(256, 10)
    with torch.no_grad():
        first.weight.copy_(w1.T.float())
        first.bias.copy_(b1.float())
        second.weight.copy_(w2.T.float())
        second.bias.zero_()
    return torch.nn.Sequential(torch.nn.Flatten(), first, torch.nn.ReLU(), second).to(device)


def _slow(loader):
    def load(device):
        delay = float(os.environ.get("SCALE_TEST_SLEEP") or 0)
        if delay:
            time.sleep(delay)
        return loader(device)

    return load


def _broken(device):
    raise RuntimeError("scale-broken always fails to load")


def _crash(device):
    import signal

    if str(os.getpid()) != os.environ["SCALE_TEST_CRASH"]:
        os.kill(os.getpid(), signal.SIGKILL)
    return _template(device)


def _raise(device):
    if str(os.getpid()) != os.environ["SCALE_TEST_CRASH"]:
        raise RuntimeError("scale-raise fails on a worker")
    return _template(device)


def _flaky(device):
    folder = Path(os.environ["SCALE_TEST_FLAKY_DIR"])
    loads = len(list(folder.glob("load-*")))
    (folder / f"load-{os.getpid()}-{time.time_ns()}").write_text("")
    if loads == 1:
        raise RuntimeError("scale-flaky fails on its second load")
    return _template(device)


def _spec(name, loader, recipe="closed-form"):
    return ModelSpec(name=name, dataset="digits", threat_models=("Linf",), architecture="linear/MLP",
                     recipe=recipe, loader=loader)


@benchbed.plugin.hookimpl
def register_models(register):
    register(_spec("scale-template", _slow(_template)))
    register(_spec("scale-features", _slow(_features)))
    if os.environ.get("SCALE_TEST_BROKEN") == "1":
        register(_spec("scale-broken", _broken))
    if os.environ.get("SCALE_TEST_CRASH"):
        register(_spec("scale-crash", _crash))
        register(_spec("scale-raise", _raise))
    if os.environ.get("SCALE_TEST_FLAKY_DIR"):
        register(_spec("scale-flaky", _flaky))


def model_stat(ctx) -> MetricOutput:
    """A model-level metric: computed once per (model, track), whatever the sharding."""
    import torch

    probe = torch.linspace(0, 1, 64 * 5).reshape(5, 1, 8, 8)
    logits = ctx.logits(probe)
    return MetricOutput(arrays={"scale_probe_logits": logits.numpy(),  # not per test point
                                "scale_model_stat": np.float64(logits.abs().mean())},
                        info={"calls": 1})


def margin(ctx) -> MetricOutput:
    top2 = ctx.clean_logits.topk(2, dim=1).values
    gap = (top2[:, 0] - top2[:, 1]).numpy().astype(np.float64)
    return MetricOutput(arrays={"scale_margin": gap})


def _noreduce(ctx) -> MetricOutput:
    return MetricOutput(arrays={"scale_noreduce_values": margin(ctx).arrays["scale_margin"]})


@benchbed.plugin.hookimpl
def register_metrics(register):
    register(MetricSpec(name="scale_model_stat", compute=model_stat, scope="model",
                        columns=(Column("scale_model_stat", "mean |logit| on a fixed probe",
                                        reduce=scalar("scale_model_stat")),)))
    register(MetricSpec(name="scale_margin", compute=margin,
                        columns=(Column("scale_margin", "mean top-2 logit margin", reduce=mean("scale_margin")),)))
    register(MetricSpec(name="scale_noreduce", compute=_noreduce,  # its column says not how to make its number
                        columns=(Column("scale_margin_noreduce", "a column without a reduction"),)))


SCALE_ATTACK = {"version": "custom", "attacks": ["apgd-ce"]}


@benchbed.plugin.hookimpl
def register_tracks(register):
    base = dict(dataset="digits", norm="Linf", eps=0.1, n_examples=120, block_size=20, batch_size=100,
                attack_options=SCALE_ATTACK)
    register(TrackSpec(name="scale-test", **base, description="scale tests: 6 blocks of 20 points"))
    register(TrackSpec(name="scale-test-model", **base,
                       metrics=("clean_accuracy", "robust_accuracy", "scale_model_stat")))
    register(TrackSpec(name="scale-test-nomerge", **base,
                       metrics=("clean_accuracy", "robust_accuracy", "scale_margin", "scale_noreduce")))
