"""Command line of the digits zoo's training: retrain, check against the platform table, record.

    python -m benchbed_digits_zoo.train --out /tmp/zoo           # retrain every model into /tmp/zoo
    python -m benchbed_digits_zoo.train --only digits-cnn-jem     # write a missing checkpoint into checkpoints/
    python -m benchbed_digits_zoo.train --check                   # retrain, compare with this platform's table
    python -m benchbed_digits_zoo.train --check --series          # ... and the training series too
    python -m benchbed_digits_zoo.train --platform                # which platform is this (the canary)?
    python -m benchbed_digits_zoo.train --record                  # add this platform's checksums to the table

The recipes are in :mod:`.recipes`, the loop in :mod:`.training`, the platform table and the verdicts
in :mod:`.reproduction`, the training series in :mod:`.series`; this module only parses and prints.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from . import losses, recipes, reproduction, series, training
from .checksums import CHECKPOINT_DIR, CHECKSUMS, checkpoint_path
from .reproduction import MISMATCH, OK, UNVERIFIED

__all__ = ["main", "OK", "MISMATCH", "UNVERIFIED"]

# names this module held before the split into recipes / training / reproduction (0.2.x): still found
# here, with a DeprecationWarning, until the zoo's next minor version
_MOVED = {
    **{n: recipes for n in ("RECIPES", "Recipe", "JEM", "DAT", "EPS", "PGD_STEPS", "PGD_STEP_SIZE", "BETA")},
    **{n: training for n in ("train", "save_checkpoint", "accuracy", "deterministic_cpu")},
    **{n: losses for n in ("pgd_linf", "trades_inner", "standard_loss", "pgd_at_loss", "trades_loss", "weat_loss",
                           "weat_nat_loss")},
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        module = _MOVED[name]
        warnings.warn(f"benchbed_digits_zoo.train.{name} moved to {module.__name__}.{name}", DeprecationWarning,
                      stacklevel=2)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _retrain(name: str, out: Path, canary: str | None, progress: bool) -> tuple[str, dict[str, Any]]:
    """Retrain ``name`` into ``out/<name>.pt``; the canary model is not retrained twice."""
    if name == reproduction.CANARY_MODEL and canary is not None:  # canary = this model's sha256 retrained here
        return canary, {}
    model, stats = training.train(recipes.RECIPES[name], progress=progress)
    return training.save_checkpoint(model, checkpoint_path(name, out)), stats


def _series_runs(names: list[str], progress: bool) -> dict[str, dict[str, Any]]:
    runs = {}
    with tempfile.TemporaryDirectory(prefix="digits-zoo-series-") as folder:
        for name in names:
            runs[name] = series.retrain(name, Path(folder) / name, progress=progress)
    return runs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchbed_digits_zoo.train", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=None,
                        help=f"output folder (default: {CHECKPOINT_DIR}, where only missing checkpoints are written "
                             f"unless --overwrite)")
    parser.add_argument("--only", action="append", choices=sorted(recipes.RECIPES), metavar="NAME",
                        help="train only this model (repeatable); one of " + ", ".join(sorted(recipes.RECIPES)))
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
    return parser


def _models(args, names: list[str], canary: str | None, known: bool, out: Path) -> tuple[dict[str, str], int]:
    """Retrain ``names`` into ``out``, print a line each; returns the sha256s and the worst verdict."""
    status, digests = OK, {}
    for name in names:
        target = checkpoint_path(name, out)
        if out == CHECKPOINT_DIR and target.exists() and not args.overwrite:
            print(f"{name}: {target} exists (shipped); not retrained (--overwrite to replace it, --out to write "
                  f"elsewhere)", flush=True)
            continue
        digest, stats = _retrain(name, out, canary, not args.quiet)
        digests[name] = digest
        line = f"{name}: sha256 {digest}"
        if stats:
            line += (f"  train {stats['train_accuracy']:.4f}  test {stats['test_accuracy']:.4f}"
                     f"  {stats['seconds']:.1f}s")
        if digest == CHECKSUMS.get(name):
            line += "  (= shipped)"
        if args.check:
            expected = reproduction.recorded_model(canary, name) if known else None
            verdict, code = reproduction.model_verdict(digest, expected, known)
            status = max(status, code)
            line += f"  {verdict}"
        print(line, flush=True)
    return digests, status


def _series(args, canary: str | None, known: bool) -> tuple[dict[str, list[str]], int]:
    status, digests = OK, {}
    for name, run in _series_runs(list(series.SERIES_MODELS), not args.quiet).items():
        digests[name] = run["checksums"]
        line = f"{name} series: {len(run['checksums'])} checkpoints  {run['seconds']:.1f}s"
        if args.check:
            recorded = reproduction.recorded_series(canary, name)
            verdict, code = reproduction.series_verdict(run["checksums"], recorded, known)
            status = max(status, code)
            line += f"  {verdict}"
        print(line, flush=True)
    return digests, status


CHECK_SUMMARY = {
    OK: "check passed: every retrained checkpoint reproduced this platform's recorded bytes",
    MISMATCH: "check FAILED: a retrained checkpoint differs from this platform's recorded bytes",
    UNVERIFIED: "check incomplete: nothing differs, but some checkpoints could not be compared (see above)",
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    canary = reproduction.platform_canary() if (args.check or args.record or args.platform) else None
    known = canary is not None and reproduction.entry(canary) is not None
    if canary is not None:
        label = reproduction.entry(canary)["label"] if known else reproduction.unknown_platform_message(canary)
        print(f"platform canary {canary} ({reproduction.machine_description()}): {label}", flush=True)
    if args.platform:
        return OK if known else UNVERIFIED

    with contextlib.ExitStack() as stack:
        if args.check or args.record:
            out = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="digits-zoo-check-")))
        else:
            out = args.out or CHECKPOINT_DIR
        models, status = _models(args, args.only or list(recipes.RECIPES), canary, known, out)
    series_digests: dict[str, list[str]] = {}
    if args.series and (args.check or args.record):
        series_digests, series_status = _series(args, canary, known)
        status = max(status, series_status)

    if args.record:
        label = reproduction.entry(canary)["label"] if known else reproduction.machine_description()
        reproduction.record(canary, label, models, series_digests)
        print(f"recorded {len(models)} model(s) and {len(series_digests)} series for platform "
              f"{canary[:12]}… in {reproduction.TABLE_PATH}")
    if args.check:
        print(CHECK_SUMMARY[status], file=sys.stderr if status else sys.stdout)
    return status if args.check else OK


if __name__ == "__main__":
    sys.exit(main())
