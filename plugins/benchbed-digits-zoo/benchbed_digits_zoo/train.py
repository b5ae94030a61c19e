"""Training recipes of the digits zoo, reproducible bit for bit on CPU.

    python -m benchbed_digits_zoo.train                  # retrain all into checkpoints/
    python -m benchbed_digits_zoo.train --only digits-cnn-trades --out /tmp/zoo
    python -m benchbed_digits_zoo.train --check          # retrain into a temp dir, compare sha256

Every recipe trains the same :class:`DigitsCNN` on the 1,348 digits training images with the same
optimiser and schedule; only the loss differs:

- ``standard``: cross-entropy on natural images.
- ``PGD-AT`` (Madry et al. 2018): cross-entropy on PGD-Linf examples (random start).
- ``TRADES`` (Zhang et al. 2019): CE(f(x), y) + beta KL(p(.|x) || p(.|x*)), x* maximising the KL.
- ``WEAT`` (Mirza et al. 2024): the TRADES terms with CE taken at x*, each sample weighted by
  1 / softplus(|E(x)|) (see ``/work/shared/science.md`` section 2).

Determinism: a fixed seed for the initialisation (``torch.manual_seed``), a dedicated
``torch.Generator`` for the data order and the attacks' random starts,
``torch.use_deterministic_algorithms(True)`` and one intra-op thread. The same torch build on the
same CPU kind gives the same bytes; another torch version or CPU instruction set (AVX2 vs AVX-512)
may round differently, in which case ``--check`` says so.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from benchbed.provenance import sha256_file

from .architecture import build_model

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"

EPS = 0.2  # Linf radius used for training (the digits-linf track's eps)
PGD_STEPS = 10
PGD_STEP_SIZE = 2.5 * EPS / PGD_STEPS
BETA = 6.0  # TRADES / WEAT trade-off
TRADES_INIT_STD = 0.001


# -- the maths: small pure functions ---------------------------------------------------------------
def marginal_energy(logits: torch.Tensor) -> torch.Tensor:
    """E(x) = -logsumexp_k f(x)[k], per sample (temperature 1)."""
    return -torch.logsumexp(logits, dim=1)


def weat_weights(logits: torch.Tensor) -> torch.Tensor:
    """WEAT's per-sample weight w(x) = 1 / softplus(|E(x)|) on natural logits, detached (no gradient)."""
    return 1.0 / F.softplus(marginal_energy(logits.detach()).abs())


def kl_per_sample(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) per sample, with p = softmax(logits_p) and q = softmax(logits_q)."""
    log_p = F.log_softmax(logits_p, dim=1)
    log_q = F.log_softmax(logits_q, dim=1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=1)


def project_linf(x_adv: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """Project onto the Linf ball of radius eps around x, intersected with the image box [0, 1]."""
    return torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0.0, 1.0)


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


def weat_loss(model, x, y, generator):
    """(1/B) sum_i w_i [CE(f(x*_i), y_i) + beta KL(p(.|x_i) || p(.|x*_i))], w_i = 1/softplus(|E(x_i)|)."""
    x_adv = trades_inner(model, x, EPS, PGD_STEPS, PGD_STEP_SIZE, generator)
    logits_nat, logits_adv = model(x), model(x_adv)
    per_sample = F.cross_entropy(logits_adv, y, reduction="none") + BETA * kl_per_sample(logits_nat, logits_adv)
    return (weat_weights(logits_nat) * per_sample).mean()


@dataclass(frozen=True)
class Recipe:
    name: str  # the registered model name (and checkpoint file stem)
    recipe: str  # standard / PGD-AT / TRADES / WEAT
    loss: LossFn
    epochs: int = 40
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    seed: int = 0


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe("digits-cnn-standard", "standard", standard_loss),
        Recipe("digits-cnn-pgdat", "PGD-AT", pgd_at_loss),
        Recipe("digits-cnn-trades", "TRADES", trades_loss),
        Recipe("digits-cnn-weat", "WEAT", weat_loss),
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
    from benchbed.datasets import load_digits_split

    return load_digits_split("train"), load_digits_split("test")


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def train(recipe: Recipe, progress: bool = True) -> tuple[nn.Module, dict[str, float]]:
    """Train one recipe on CPU from its seed; returns the model (eval mode) and a few statistics."""
    from tqdm.auto import tqdm

    train_set, test_set = _load_data()
    x_all, y_all = train_set.images, train_set.labels
    n = len(y_all)
    steps_per_epoch = -(-n // recipe.batch_size)
    total_steps = recipe.epochs * steps_per_epoch
    start = time.perf_counter()
    with deterministic_cpu(recipe.seed):
        model = build_model()
        generator = torch.Generator().manual_seed(recipe.seed)  # data order and attack starts
        opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                              weight_decay=recipe.weight_decay, nesterov=True)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=total_steps,
                                                    pct_start=0.25, anneal_strategy="cos")
        model.train()
        bar = tqdm(range(recipe.epochs), desc=recipe.name, unit="epoch", disable=not progress, file=sys.stderr)
        for _ in bar:
            order = torch.randperm(n, generator=generator)
            running = 0.0
            for i in range(steps_per_epoch):
                idx = order[i * recipe.batch_size:(i + 1) * recipe.batch_size]
                loss = recipe.loss(model, x_all[idx], y_all[idx], generator)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                running += loss.item()
            bar.set_postfix(loss=f"{running / steps_per_epoch:.4f}")
        model.eval()
        stats = {
            "train_accuracy": accuracy(model, x_all, y_all),
            "test_accuracy": accuracy(model, test_set.images, test_set.labels),
            "seconds": time.perf_counter() - start,
        }
    return model, stats


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


def main(argv: list[str] | None = None) -> int:
    from .checksums import CHECKSUMS

    parser = argparse.ArgumentParser(prog="python -m benchbed_digits_zoo.train", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=None, help=f"output folder (default: {CHECKPOINT_DIR})")
    parser.add_argument("--only", action="append", choices=sorted(RECIPES), metavar="NAME",
                        help="train only this model (repeatable); one of " + ", ".join(sorted(RECIPES)))
    parser.add_argument("--check", action="store_true",
                        help="retrain into a temporary folder and compare sha256 with the recorded CHECKSUMS")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    names = args.only or list(RECIPES)

    with contextlib.ExitStack() as stack:
        if args.check:
            out = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="digits-zoo-check-")))
        else:
            out = args.out or CHECKPOINT_DIR
        mismatches = []
        for name in names:
            model, stats = train(RECIPES[name], progress=not args.quiet)
            digest = save_checkpoint(model, out / f"{name}.pt")
            expected = CHECKSUMS.get(name)
            status = "" if expected is None else ("  OK" if digest == expected else "  MISMATCH")
            if expected is not None and digest != expected:
                mismatches.append(name)
            print(f"{name}: sha256 {digest}  train {stats['train_accuracy']:.4f}  test {stats['test_accuracy']:.4f}"
                  f"  {stats['seconds']:.1f}s{status}", flush=True)
            if args.check and expected is None:
                mismatches.append(name)
                print(f"{name}: no recorded checksum in benchbed_digits_zoo/checksums.py", flush=True)
    if args.check:
        if mismatches:
            print(f"check FAILED for: {', '.join(mismatches)}", file=sys.stderr)
            return 1
        print(f"check passed: {len(names)} checkpoint(s) reproduced bit for bit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
