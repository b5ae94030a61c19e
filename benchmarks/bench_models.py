"""A benchbed plugin file for the benchmarks when the digits zoo is not installed.

Four digits classifiers built in closed form (seeded random ReLU features + a ridge-regression
read-out on the digits training split): no training loop, bit-identical in every process (Ray
workers load this file too), about 98% clean accuracy and a few tens of percent robust accuracy at
the digits track's eps, so AutoAttack runs all four of its attacks on the robust points.
"""
from __future__ import annotations

import functools

import benchbed
from benchbed.contracts.specs import ModelSpec

SEEDS = (0, 1, 2, 3)


def build(seed: int, device, hidden: int = 256):
    import torch

    from benchbed.builtin.dataset_loaders import load_digits_split

    train = load_digits_split("train")
    x = train.images.reshape(len(train), -1).double()
    gen = torch.Generator().manual_seed(1000 + seed)
    w1 = torch.randn(64, hidden, generator=gen, dtype=torch.float64) / 8.0
    b1 = torch.randn(hidden, generator=gen, dtype=torch.float64) * 0.1
    h = torch.relu(x @ w1 + b1)
    target = torch.nn.functional.one_hot(train.labels, 10).double() * 6.0 - 3.0
    w2 = torch.linalg.solve(h.T @ h + torch.eye(hidden, dtype=torch.float64), h.T @ target)
    first, second = torch.nn.Linear(64, hidden), torch.nn.Linear(hidden, 10)
    with torch.no_grad():
        first.weight.copy_(w1.T.float())
        first.bias.copy_(b1.float())
        second.weight.copy_(w2.T.float())
        second.bias.zero_()
    return torch.nn.Sequential(torch.nn.Flatten(), first, torch.nn.ReLU(), second).to(device)


@benchbed.plugin.hookimpl
def register_models(register):
    for seed in SEEDS:
        register(ModelSpec(name=f"bench-features-{seed}", dataset="digits", threat_models=("Linf",),
                           architecture="random ReLU features (256) + ridge read-out", recipe="closed-form",
                           loader=functools.partial(build, seed)))
