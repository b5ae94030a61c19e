"""The training loop: one recipe of :mod:`.recipes`, reproducible bit for bit on one machine kind (CPU).

Determinism: a fixed seed for the initialisation (``torch.manual_seed``), a dedicated
``torch.Generator`` for the data order, the attacks' random starts and every sampler's noise,
``torch.use_deterministic_algorithms(True)`` and one intra-op thread. The same torch build on the
same CPU kind gives the same bytes; another torch version or CPU instruction set (AVX2 vs AVX-512)
rounds differently, which is why checksums are recorded per platform (:mod:`.reproduction`).
"""
from __future__ import annotations

import contextlib
import functools
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from benchbed.plugin import load_state_dict, sha256_file

from .architecture import build_model
from .checksums import CHECKSUMS, checkpoint_path
from .data import digits_splits
from .losses import OBJECTIVES
from .maths import piecewise_lr_factor
from .recipes import Recipe


@contextlib.contextmanager
def deterministic_cpu(seed: int) -> Iterator[None]:
    """Seed, one thread, deterministic kernels; restores the previous settings afterwards."""
    threads = torch.get_num_threads()
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was_deterministic)
        torch.set_num_threads(threads)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def initial_model(recipe: Recipe) -> nn.Module:
    """The seed's initialisation, or a shipped checkpoint (checked against its recorded sha256)."""
    model = build_model()
    if recipe.init_from:
        model.load_state_dict(load_state_dict(checkpoint_path(recipe.init_from), CHECKSUMS[recipe.init_from], "cpu"))
    return model


def optimiser(recipe: Recipe, model: nn.Module, steps_per_epoch: int):
    """The optimiser and its per-step lr scheduler."""
    if recipe.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                              weight_decay=recipe.weight_decay, nesterov=True)
    if recipe.schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=recipe.epochs * steps_per_epoch,
                                                    pct_start=0.25, anneal_strategy="cos")
    else:
        factor = functools.partial(piecewise_lr_factor, steps_per_epoch=steps_per_epoch,
                                   milestones=recipe.milestones, gamma=recipe.gamma, warmup_steps=recipe.warmup_steps)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    return opt, sched


EpochCallback = Callable[[int, nn.Module, dict[str, float]], None]


def _epoch_postfix(mean_loss: float, objective) -> dict[str, str]:
    postfix = {"loss": f"{mean_loss:.4f}"}
    postfix.update({k: f"{v:.3g}" for k, v in objective.stats().items() if isinstance(v, (int, float))})
    return postfix


def train(recipe: Recipe, progress: bool = True, on_epoch: EpochCallback | None = None,
          epochs: int | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Train one recipe on CPU from its seed; returns the model (eval mode) and a few statistics.

    ``on_epoch(epoch, model, stats)`` (epoch from 1) is called after every epoch with the model in eval
    mode (the training series saves checkpoints there); ``epochs`` stops early without changing the
    schedule (the lr of an epoch depends only on its index, so a shorter run is a prefix of the full one
    for the piecewise schedule).
    """
    train_set, test_set = digits_splits()
    x_all, y_all = train_set.images, train_set.labels
    n = len(y_all)
    steps_per_epoch = recipe.steps_per_epoch(n)
    start = time.perf_counter()
    with deterministic_cpu(recipe.seed):
        model = initial_model(recipe)
        generator = torch.Generator().manual_seed(recipe.seed)  # data order, attack starts, sampler noise
        opt, sched = optimiser(recipe, model, steps_per_epoch)
        objective = OBJECTIVES[recipe.loss](recipe, model, generator, x_all, y_all)
        model.train()
        bar = tqdm(range(epochs or recipe.epochs), desc=recipe.name, unit="epoch", disable=not progress,
                   file=sys.stderr)
        for epoch in bar:
            order = torch.randperm(n, generator=generator)
            running = 0.0
            for i in range(steps_per_epoch):
                idx = order[i * recipe.batch_size:(i + 1) * recipe.batch_size]
                loss = objective(model, x_all[idx], y_all[idx], generator)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                objective.after_step(model)
                running += loss.item()
            bar.set_postfix(_epoch_postfix(running / steps_per_epoch, objective))
            if on_epoch is not None:
                final = objective.final_model(model).eval()
                on_epoch(epoch + 1, final, {"train_loss": running / steps_per_epoch, "lr": opt.param_groups[0]["lr"]})
                model.train()
        final = objective.final_model(model).eval()
        stats: dict[str, Any] = {
            "train_accuracy": accuracy(final, x_all, y_all),
            "test_accuracy": accuracy(final, test_set.images, test_set.labels),
            "seconds": time.perf_counter() - start,
            **objective.stats(),
        }
    return final, stats


def save_checkpoint(model: nn.Module, path: Path) -> str:
    """Save the state dict (fresh contiguous CPU tensors, fixed key order); returns the file's sha256.

    ``torch.save`` writes identical bytes for identical tensors and names: zip entries carry no
    timestamps and storages are numbered in order. The file's stem names the archive's inner
    folder, so save under the final file name (not a temporary one) to get the recorded checksum.
    """
    state = OrderedDict((k, v.detach().to("cpu").clone().contiguous()) for k, v in model.state_dict().items())
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return sha256_file(path)
