"""The numbers of the README's table: clean accuracy on the 449 test digits and a quick robust accuracy.

    python -m benchbed_digits_zoo.measure                       # the shipped checkpoints
    python -m benchbed_digits_zoo.measure --dir /tmp/zoo        # retrained files (e.g. from train --out)

Robust accuracy here is PGD-Linf at eps 0.1 (the digits-linf track's radius), 100 steps of 0.0025, a
uniform random start, cross-entropy, one restart, seed 0: a quick check, *not* AutoAttack (the track's
own numbers come from `benchbed run`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from benchbed.plugin import load_state_dict, sha256_file

from .architecture import build_model
from .checksums import CHECKSUMS, checkpoint_path
from .data import digits_splits
from .losses import pgd_linf
from .recipes import RECIPES
from .training import accuracy, deterministic_cpu

EVAL_EPS, EVAL_STEPS, EVAL_STEP_SIZE, SEED = 0.1, 100, 0.0025, 0


def clean_and_robust(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """(clean accuracy, accuracy under the PGD-100 attack above), both as fractions."""
    with deterministic_cpu(SEED):
        generator = torch.Generator().manual_seed(SEED)
        x_adv = pgd_linf(model, images, labels, EVAL_EPS, EVAL_STEPS, EVAL_STEP_SIZE, generator)
        return accuracy(model, images, labels), accuracy(model, x_adv, labels)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchbed_digits_zoo.measure", description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=None, help="folder of <model>.pt files (default: shipped ones)")
    parser.add_argument("--only", action="append", choices=sorted(RECIPES), metavar="NAME", help="this model only")
    args = parser.parse_args(argv)
    _, test = digits_splits()
    print(f"{'model':<22} {'clean %':>8} {'PGD-100 @ 0.1 %':>16}  sha256")
    for name in args.only or list(RECIPES):
        path = checkpoint_path(name, args.dir)
        if not path.is_file():
            print(f"{name:<22} missing: {path}", file=sys.stderr)
            continue
        digest = CHECKSUMS[name] if args.dir is None else sha256_file(path)
        model = build_model()
        model.load_state_dict(load_state_dict(path, digest, "cpu"))
        clean, robust = clean_and_robust(model.eval(), test.images, test.labels)
        print(f"{name:<22} {100 * clean:>8.1f} {100 * robust:>16.1f}  {digest[:12]}…", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
