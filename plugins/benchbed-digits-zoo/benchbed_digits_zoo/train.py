"""Training recipes of the digits zoo, reproducible bit for bit on one machine kind (CPU).

    python -m benchbed_digits_zoo.train --out /tmp/zoo           # retrain every model into /tmp/zoo
    python -m benchbed_digits_zoo.train --only digits-cnn-jem     # write a missing checkpoint into checkpoints/
    python -m benchbed_digits_zoo.train --check                   # retrain, compare with this platform's table
    python -m benchbed_digits_zoo.train --check --series          # ... and the training series too
    python -m benchbed_digits_zoo.train --platform                # which platform is this (the canary)?
    python -m benchbed_digits_zoo.train --record                  # add this platform's checksums to the table

Every recipe trains the same :class:`DigitsCNN` on the 1,348 digits training images (batch 64, seed 0);
the classifiers share one optimiser and schedule (SGD Nesterov, one-cycle lr 0.05, 40 epochs) and
differ only in the loss:

- ``standard``: cross-entropy on natural images.
- ``PGD-AT`` (Madry et al. 2018): cross-entropy on PGD-Linf examples (random start).
- ``TRADES`` (Zhang et al. 2019): CE(f(x), y) + beta KL(p(.|x) || p(.|x*)), x* maximising the KL.
- ``WEAT`` (Mirza et al. 2024), two variants (see ``/work/shared/science.md`` sections 2 and 4), each
  sample weighted by w(x) = 1 / softplus(|E(x)|): ``adv`` = w [CE(f(x*), y) + beta KL] (the zoo's
  ``digits-cnn-weat``), ``nat`` = w [CE(f(x), y) + beta KL] (``digits-cnn-weat-nat``, the papers' default).

and two joint (discriminative-generative) recipes with their own objectives (:mod:`.joint`):

- ``JEM`` (Grathwohl et al. 2020): CE + maximum likelihood of log p(x) = logsumexp f(x), with SGLD
  samples from a replay buffer; Adam.
- ``DAT`` (Yin et al. 2025): stage 1 = the shipped PGD-AT checkpoint; stage 2 = BCE on the energy
  (real vs generated negatives, generation-length curriculum) + adversarial CE, EMA of the weights.

Determinism: a fixed seed for the initialisation (``torch.manual_seed``), a dedicated
``torch.Generator`` for the data order, the attacks' random starts and every sampler's noise,
``torch.use_deterministic_algorithms(True)`` and one intra-op thread. The same torch build on the
same CPU kind gives the same bytes; another torch version or CPU instruction set (AVX2 vs AVX-512)
rounds differently, which is why checksums are recorded per platform (:mod:`.platforms`).
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import sys
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from benchbed.plugin import dataset_split, sha256_file

from .architecture import build_model
from .joint import DatObjective, DatSettings, JemObjective, JemSettings
from .maths import kl_per_sample, marginal_energy, piecewise_lr_factor, project_linf, weat_weights  # noqa: F401

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"

EPS = 0.2  # Linf radius used for training (twice the digits-linf track's eval eps 0.1)
PGD_STEPS = 10
PGD_STEP_SIZE = 2.5 * EPS / PGD_STEPS
BETA = 6.0  # TRADES / WEAT trade-off
TRADES_INIT_STD = 0.001


# -- inner maximisations ---------------------------------------------------------------------------
def pgd_linf(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int, step_size: float,
             generator: torch.Generator) -> torch.Tensor:
    """Madry's PGD: uniform random start in the eps ball, sign-gradient ascent steps on CE, projection."""
    noise = torch.rand(x.shape, generator=generator, dtype=x.dtype) * (2 * eps) - eps
    x_adv = project_linf(x + noise, x, eps)
    for _ in range(steps):
        x_adv.requires_grad_(True)
        loss = F.cross_entropy(model(x_adv), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, x_adv)
        x_adv = project_linf(x_adv.detach() + step_size * grad.sign(), x, eps)
    return x_adv.detach()


def trades_inner(model: nn.Module, x: torch.Tensor, eps: float, steps: int, step_size: float,
                 generator: torch.Generator) -> torch.Tensor:
    """TRADES' x*: start at x + 0.001 N(0, I), sign-gradient ascent on KL(p(.|x) || p(.|x*)), projection."""
    with torch.no_grad():
        logits_nat = model(x)
    noise = TRADES_INIT_STD * torch.randn(x.shape, generator=generator, dtype=x.dtype)
    x_adv = project_linf(x + noise, x, eps)
    for _ in range(steps):
        x_adv.requires_grad_(True)
        loss = kl_per_sample(logits_nat, model(x_adv)).sum()
        (grad,) = torch.autograd.grad(loss, x_adv)
        x_adv = project_linf(x_adv.detach() + step_size * grad.sign(), x, eps)
    return x_adv.detach()


# -- the recipes' losses ---------------------------------------------------------------------------
LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]


def standard_loss(model, x, y, generator):
    return F.cross_entropy(model(x), y)


def pgd_at_loss(model, x, y, generator):
    x_adv = pgd_linf(model, x, y, EPS, PGD_STEPS, PGD_STEP_SIZE, generator)
    return F.cross_entropy(model(x_adv), y)


def trades_loss(model, x, y, generator):
    x_adv = trades_inner(model, x, EPS, PGD_STEPS, PGD_STEP_SIZE, generator)
    logits_nat, logits_adv = model(x), model(x_adv)
    return F.cross_entropy(logits_nat, y) + BETA * kl_per_sample(logits_nat, logits_adv).mean()


def _weat_loss(model, x, y, generator, ce_on_adversarial: bool):
    """(1/B) sum_i w_i [CE(f(x'_i), y_i) + beta KL(p(.|x_i) || p(.|x*_i))], w_i = 1/softplus(|E(x_i)|), x' = x* or x.
    Both terms weighted, weights not normalised (as in the official WEAT code)."""
    x_adv = trades_inner(model, x, EPS, PGD_STEPS, PGD_STEP_SIZE, generator)
    logits_nat, logits_adv = model(x), model(x_adv)
    ce_logits = logits_adv if ce_on_adversarial else logits_nat
    per_sample = F.cross_entropy(ce_logits, y, reduction="none") + BETA * kl_per_sample(logits_nat, logits_adv)
    return (weat_weights(logits_nat) * per_sample).mean()


def weat_loss(model, x, y, generator):
    """WEAT_adv: the CE at the adversarial x* (the zoo's ``digits-cnn-weat``)."""
    return _weat_loss(model, x, y, generator, ce_on_adversarial=True)


def weat_nat_loss(model, x, y, generator):
    """WEAT_nat: the CE at the natural x (the papers' default; ``digits-cnn-weat-nat``)."""
    return _weat_loss(model, x, y, generator, ce_on_adversarial=False)


def pgd_adversary(model, x, y, generator):
    """The zoo's Linf adversary (eps 0.2, 10 steps of 0.05, random start), for DAT's classifier term."""
    return pgd_linf(model, x, y, EPS, PGD_STEPS, PGD_STEP_SIZE, generator)


# -- the joint recipes' settings (see joint.py and the README for why each value) --------------------------
JEM = JemSettings()
DAT = DatSettings()


def jem_objective(model: nn.Module, generator: torch.Generator) -> JemObjective:
    return JemObjective(JEM, (1, 8, 8), generator)


def dat_objective(model: nn.Module, generator: torch.Generator) -> DatObjective:
    return DatObjective(DAT, model, pgd_adversary)


@dataclass(frozen=True)
class Recipe:
    name: str  # the registered model name (and checkpoint file stem)
    recipe: str  # standard / PGD-AT / TRADES / WEAT / JEM / DAT
    loss: LossFn | None = None  # a stateless per-batch loss ...
    # ... or a factory (model, generator) -> stateful objective (called per batch, with after_step(model),
    # final_model(model) and stats()), made once per run: JEM's replay buffer, DAT's curriculum and EMA
    objective: Callable[[nn.Module, torch.Generator], Any] | None = None
    epochs: int = 40
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    seed: int = 0
    optimizer: str = "sgd"  # "sgd" (Nesterov) or "adam"
    schedule: str = "onecycle"  # "onecycle" (peak lr, 25% warm-up, cosine) or "piecewise" (see maths)
    milestones: tuple[int, ...] = ()  # piecewise: epochs at which the lr is multiplied by gamma
    gamma: float = 0.1
    warmup_steps: int = 0  # piecewise: linear warm-up over this many optimiser steps
    init_from: str | None = None  # start from this shipped checkpoint (sha256-checked) instead of the seed's init

    def describe(self) -> str:
        """The optimiser and schedule in words (for footnotes and manifests)."""
        opt = (f"SGD Nesterov momentum {self.momentum:g}" if self.optimizer == "sgd" else "Adam") + \
            f", weight decay {self.weight_decay:g}"
        if self.schedule == "onecycle":
            sched = f"one-cycle lr {self.lr:g}"
        else:
            decays = ", ".join(f"x{self.gamma:g} at epoch {m}" for m in self.milestones)
            sched = f"lr {self.lr:g}" + (f" ({decays})" if decays else " constant")
            if self.warmup_steps:
                sched += f", {self.warmup_steps}-step linear warm-up"
        start = f", from {self.init_from}" if self.init_from else ""
        return f"{self.epochs} epochs, batch {self.batch_size}, {opt}, {sched}, seed {self.seed}{start}"


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe("digits-cnn-standard", "standard", standard_loss),
        Recipe("digits-cnn-pgdat", "PGD-AT", pgd_at_loss),
        Recipe("digits-cnn-trades", "TRADES", trades_loss),
        Recipe("digits-cnn-weat", "WEAT", weat_loss),
        Recipe("digits-cnn-weat-nat", "WEAT", weat_nat_loss),
        # JEM: Adam, JEM's schedule shape (lr x0.3 at 80% and 90% of training, warm-up), lr 1e-3 instead of
        # 1e-4 because the digits run has 880 steps where JEM's CIFAR run has ~150,000
        Recipe("digits-cnn-jem", "JEM", objective=jem_objective, optimizer="adam", lr=1e-3, weight_decay=0.0,
               schedule="piecewise", milestones=(32, 36), gamma=0.3, warmup_steps=22),
        # DAT stage 2: SGD at a constant lr (DAT: 0.001 for ~100k CIFAR steps; 0.005 here for 660 steps),
        # starting from the shipped PGD-AT checkpoint (stage 1)
        Recipe("digits-cnn-dat", "DAT", objective=dat_objective, epochs=30, lr=0.005, schedule="piecewise",
               init_from="digits-cnn-pgdat"),
    )
}


# -- training --------------------------------------------------------------------------------------
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


def _load_data():
    return dataset_split("digits", "train"), dataset_split("digits", "test")


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def _initial_model(recipe: Recipe) -> nn.Module:
    """The seed's initialisation, or a shipped checkpoint (checked against its recorded sha256)."""
    model = build_model()
    if recipe.init_from:
        from benchbed.plugin import load_state_dict

        from .checksums import CHECKSUMS

        path = CHECKPOINT_DIR / f"{recipe.init_from}.pt"
        model.load_state_dict(load_state_dict(path, CHECKSUMS[recipe.init_from], "cpu"))
    return model


def _optimiser(recipe: Recipe, model: nn.Module, steps_per_epoch: int):
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


def train(recipe: Recipe, progress: bool = True, on_epoch: EpochCallback | None = None,
          epochs: int | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Train one recipe on CPU from its seed; returns the model (eval mode) and a few statistics.

    ``on_epoch(epoch, model, stats)`` (epoch from 1) is called after every epoch with the model in eval
    mode (the training series saves checkpoints there); ``epochs`` stops early without changing the
    schedule (the lr of an epoch depends only on its index, so a shorter run is a prefix of the full one
    for the piecewise schedule).
    """
    from tqdm.auto import tqdm

    train_set, test_set = _load_data()
    x_all, y_all = train_set.images, train_set.labels
    n = len(y_all)
    steps_per_epoch = -(-n // recipe.batch_size)
    start = time.perf_counter()
    with deterministic_cpu(recipe.seed):
        model = _initial_model(recipe)
        generator = torch.Generator().manual_seed(recipe.seed)  # data order, attack starts, sampler noise
        opt, sched = _optimiser(recipe, model, steps_per_epoch)
        objective = recipe.objective(model, generator) if recipe.objective is not None else None
        loss_fn = objective if objective is not None else recipe.loss
        model.train()
        bar = tqdm(range(epochs or recipe.epochs), desc=recipe.name, unit="epoch", disable=not progress,
                   file=sys.stderr)
        for epoch in bar:
            order = torch.randperm(n, generator=generator)
            running = 0.0
            for i in range(steps_per_epoch):
                idx = order[i * recipe.batch_size:(i + 1) * recipe.batch_size]
                loss = loss_fn(model, x_all[idx], y_all[idx], generator)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                if objective is not None:
                    objective.after_step(model)
                running += loss.item()
            postfix = {"loss": f"{running / steps_per_epoch:.4f}"}
            if objective is not None:
                postfix.update({k: f"{v:.3g}" for k, v in objective.stats().items() if isinstance(v, float)})
            bar.set_postfix(postfix)
            if on_epoch is not None:
                final = objective.final_model(model) if objective is not None else model
                final.eval()
                on_epoch(epoch + 1, final, {"train_loss": running / steps_per_epoch, "lr": opt.param_groups[0]["lr"]})
                model.train()
        final = objective.final_model(model) if objective is not None else model
        final.eval()
        stats: dict[str, Any] = {
            "train_accuracy": accuracy(final, x_all, y_all),
            "test_accuracy": accuracy(final, test_set.images, test_set.labels),
            "seconds": time.perf_counter() - start,
        }
        if objective is not None:
            stats.update(objective.stats())
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


# -- command line ------------------------------------------------------------------------------------
OK, MISMATCH, UNVERIFIED = 0, 1, 2  # --check exit codes (UNVERIFIED: nothing differs, something not recorded)


def _verdict(digest: str, expected: str | None, known_platform: bool) -> tuple[str, int]:
    if not known_platform:
        return "UNKNOWN PLATFORM (not compared)", UNVERIFIED
    if expected is None:
        return "NOT RECORDED for this platform (not compared)", UNVERIFIED
    return ("OK", OK) if digest == expected else (f"MISMATCH (recorded {expected[:12]}…)", MISMATCH)


def _series_verdict(actual: list[str], recorded: list[str] | None, known_platform: bool) -> tuple[str, int]:
    from .series import first_difference

    if recorded is not None and len(recorded) < len(actual):
        recorded = None  # a shorter record cannot vouch for the later epochs
    if not known_platform or recorded is None:
        return _verdict("", None, known_platform)
    first = first_difference(recorded, actual)
    return ("OK", OK) if first is None else (f"MISMATCH from epoch {first}", MISMATCH)


def _retrain(name: str, out: Path, canary: str | None, progress: bool) -> tuple[str, dict[str, Any]]:
    """Retrain ``name`` into ``out/<name>.pt``; the canary model is not retrained twice."""
    from .platforms import CANARY_MODEL

    if name == CANARY_MODEL and canary is not None:  # canary = this model's sha256 retrained here
        return canary, {}
    model, stats = train(RECIPES[name], progress=progress)
    return save_checkpoint(model, out / f"{name}.pt"), stats


def _series_runs(names: list[str], progress: bool) -> dict[str, dict[str, Any]]:
    from . import series

    runs = {}
    with tempfile.TemporaryDirectory(prefix="digits-zoo-series-") as folder:
        for name in names:
            runs[name] = series.retrain(name, Path(folder) / name, progress=progress)
    return runs


def main(argv: list[str] | None = None) -> int:
    from . import platforms, series
    from .checksums import CHECKSUMS

    parser = argparse.ArgumentParser(prog="python -m benchbed_digits_zoo.train", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=None,
                        help=f"output folder (default: {CHECKPOINT_DIR}, where only missing checkpoints are written "
                             f"unless --overwrite)")
    parser.add_argument("--only", action="append", choices=sorted(RECIPES), metavar="NAME",
                        help="train only this model (repeatable); one of " + ", ".join(sorted(RECIPES)))
    parser.add_argument("--check", action="store_true",
                        help="retrain into a temporary folder and compare sha256 with this platform's recorded ones "
                             "(exit 0: all reproduced; 1: a mismatch; 2: none differs but some could not be compared)")
    parser.add_argument("--series", action="store_true",
                        help="with --check or --record: the training series too (" + ", ".join(series.SERIES_MODELS)
                             + f"; {series.SERIES_EPOCHS} epochs each, a few minutes)")
    parser.add_argument("--record", action="store_true",
                        help="retrain and record this platform's sha256s in platforms.json")
    parser.add_argument("--platform", action="store_true", help="print this platform's canary and whether it is known")
    parser.add_argument("--overwrite", action="store_true", help="allow replacing shipped checkpoints")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    names = args.only or list(RECIPES)
    progress = not args.quiet

    canary = platforms.platform_canary() if (args.check or args.record or args.platform) else None
    known = canary is not None and platforms.entry(canary) is not None
    if canary is not None:
        label = platforms.entry(canary)["label"] if known else platforms.unknown_platform_message(canary)
        print(f"platform canary {canary} ({platforms.machine_description()}): {label}", flush=True)
    if args.platform:
        return OK if known else UNVERIFIED

    status = OK
    recorded_models: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        if args.check or args.record:
            out = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="digits-zoo-check-")))
        else:
            out = args.out or CHECKPOINT_DIR
        for name in names:
            target = out / f"{name}.pt"
            if out == CHECKPOINT_DIR and target.exists() and not args.overwrite:
                print(f"{name}: {target} exists (shipped); not retrained (--overwrite to replace it, --out to write "
                      f"elsewhere)", flush=True)
                continue
            digest, stats = _retrain(name, out, canary, progress)
            recorded_models[name] = digest
            line = f"{name}: sha256 {digest}"
            if stats:
                line += (f"  train {stats['train_accuracy']:.4f}  test {stats['test_accuracy']:.4f}"
                         f"  {stats['seconds']:.1f}s")
            if digest == CHECKSUMS.get(name):
                line += "  (= shipped)"
            if args.check:
                verdict, code = _verdict(digest, platforms.recorded_model(canary, name) if known else None, known)
                status = max(status, code)
                line += f"  {verdict}"
            print(line, flush=True)

    recorded_series: dict[str, list[str]] = {}
    if args.series and (args.check or args.record):
        for name, run in _series_runs(list(series.SERIES_MODELS), progress).items():
            recorded_series[name] = run["checksums"]
            line = f"{name} series: {len(run['checksums'])} checkpoints  {run['seconds']:.1f}s"
            if args.check:
                verdict, code = _series_verdict(run["checksums"], platforms.recorded_series(canary, name), known)
                status = max(status, code)
                line += f"  {verdict}"
            print(line, flush=True)

    if args.record:
        label = platforms.entry(canary)["label"] if known else platforms.machine_description()
        platforms.record(canary, label, recorded_models, recorded_series)
        print(f"recorded {len(recorded_models)} model(s) and {len(recorded_series)} series for platform "
              f"{canary[:12]}… in {platforms.TABLE_PATH}")
    if args.check:
        print({OK: "check passed: every retrained checkpoint reproduced this platform's recorded bytes",
               MISMATCH: "check FAILED: a retrained checkpoint differs from this platform's recorded bytes",
               UNVERIFIED: "check incomplete: nothing differs, but some checkpoints could not be compared (see above)"}
              [status], file=sys.stderr if status else sys.stdout)
    return status if args.check else OK


if __name__ == "__main__":
    sys.exit(main())
