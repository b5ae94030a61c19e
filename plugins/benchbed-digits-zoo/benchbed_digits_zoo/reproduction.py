"""Which machine kind is this, what bytes does retraining give here, and do they match the record?

Training is deterministic on one machine, but another CPU instruction set (AVX2 vs AVX-512) or torch
build rounds differently, so a retrain reproduces the shipped bytes only where they were made. The
zoo therefore keeps a table ``platforms.json``: {platform canary -> {model -> sha256, series -> [sha256
per epoch]}}.

**The canary** is the sha256 of retraining ``digits-cnn-standard`` (the cheapest recipe, ~5 s on one
core): it runs the same kernels as every recipe (conv and linear forward and backward, SGD), so two
machines that round any of them differently get different canaries, and the machine that trained the
shipped checkpoints has a known canary (its recorded sha256 of that model) although we cannot run on
it. A canary not in the table is an *unknown platform*: checks there can only say so.
"""
from __future__ import annotations

import functools
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

import torch

from .recipes import RECIPES
from .training import save_checkpoint, train

TABLE_PATH = Path(__file__).resolve().parent / "platforms.json"
CANARY_MODEL = "digits-cnn-standard"
OK, MISMATCH, UNVERIFIED = 0, 1, 2  # check verdicts (UNVERIFIED: nothing differs, something not recorded)


# -- the table ---------------------------------------------------------------------------------------
def load_table(path: Path = TABLE_PATH) -> dict[str, dict[str, Any]]:
    """{canary: {"label": str, "models": {name: sha256}, "series": {name: [sha256 per epoch]}}}."""
    return json.loads(path.read_text())["platforms"]


def entry(canary: str, table: dict | None = None) -> dict[str, Any] | None:
    """The table's entry for a platform canary, or None for an unknown platform."""
    return (load_table() if table is None else table).get(canary)


def recorded_model(canary: str, name: str) -> str | None:
    """The sha256 a retrain of ``name`` gives on this platform, if recorded."""
    found = entry(canary)
    return None if found is None else found.get("models", {}).get(name)


def recorded_series(canary: str, name: str) -> list[str] | None:
    """The per-epoch sha256s of ``name``'s training series on this platform, if recorded."""
    found = entry(canary)
    return None if found is None else found.get("series", {}).get(name)


def record(canary: str, label: str, models: dict[str, str] | None = None,
           series: dict[str, list[str]] | None = None, path: Path = TABLE_PATH) -> None:
    """Add or update this platform's entry (atomic rewrite of the JSON table)."""
    data = json.loads(path.read_text())
    found = data["platforms"].setdefault(canary, {"label": label, "models": {}, "series": {}})
    found.setdefault("models", {}).update(models or {})
    found.setdefault("series", {}).update(series or {})
    found["models"][CANARY_MODEL] = canary
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".platforms-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1, sort_keys=False)
        fh.write("\n")
    os.chmod(tmp, 0o644)  # mkstemp makes it private; the table is package data
    os.replace(tmp, path)


# -- this machine --------------------------------------------------------------------------------------
def machine_description() -> str:
    """A human label for this machine (informational: the canary is what identifies a platform)."""
    return (f"{platform.machine()} {torch.backends.cpu.get_cpu_capability()}, torch {torch.__version__}, "
            f"{platform.system()}")


@functools.lru_cache(maxsize=1)
def platform_canary() -> str:
    """This machine's canary: the sha256 of ``digits-cnn-standard`` retrained here (cached per process)."""
    model, _ = train(RECIPES[CANARY_MODEL], progress=False)
    with tempfile.TemporaryDirectory(prefix="digits-zoo-canary-") as folder:
        return save_checkpoint(model, Path(folder) / f"{CANARY_MODEL}.pt")


def unknown_platform_message(canary: str) -> str:
    return (f"unknown platform: canary {canary[:12]}… ({machine_description()}) is not in "
            f"benchbed_digits_zoo/platforms.json, so retrained bytes cannot be compared with recorded ones here; "
            f"`python -m benchbed_digits_zoo.train --record [--series]` adds this platform")


# -- verdicts -------------------------------------------------------------------------------------------
def first_difference(recorded: list[str], actual: list[str]) -> int | None:
    """The first epoch (from 1) where both list a sha256 and they differ, or None."""
    for epoch, (a, b) in enumerate(zip(recorded, actual), start=1):
        if a != b:
            return epoch
    return None


def model_verdict(digest: str, expected: str | None, known_platform: bool) -> tuple[str, int]:
    """(words, code) for one retrained checkpoint against this platform's record."""
    if not known_platform:
        return "UNKNOWN PLATFORM (not compared)", UNVERIFIED
    if expected is None:
        return "NOT RECORDED for this platform (not compared)", UNVERIFIED
    return ("OK", OK) if digest == expected else (f"MISMATCH (recorded {expected[:12]}…)", MISMATCH)


def series_verdict(actual: list[str], recorded: list[str] | None, known_platform: bool) -> tuple[str, int]:
    """(words, code) for one retrained training series against this platform's record."""
    if recorded is not None and len(recorded) < len(actual):
        recorded = None  # a shorter record cannot vouch for the later epochs
    if not known_platform or recorded is None:
        return model_verdict("", None, known_platform)
    first = first_difference(recorded, actual)
    return ("OK", OK) if first is None else (f"MISMATCH from epoch {first}", MISMATCH)
