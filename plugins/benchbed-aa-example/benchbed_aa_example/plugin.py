"""Registers ``aa-example-resnet18``: the CIFAR-10 ResNet-18 example checkpoint inside pyautoattack.

The weights are not copied into this distribution: they are read from the installed
``pyautoattack`` wheel (``pyautoattack/examples/model_test.pt``), checked against
:data:`CHECKPOINT_SHA256`, then loaded with ``torch.load(weights_only=True)``.

This module imports neither torch nor pyautoattack at import time, so listing plugins stays cheap.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from benchbed.plugin import BenchbedError, ChecksumError, ModelSpec, hookimpl

if TYPE_CHECKING:
    import torch
    from torch import nn

MODEL_NAME = "aa-example-resnet18"
CHECKPOINT_PACKAGE = "pyautoattack"
CHECKPOINT_RELPATH = ("examples", "model_test.pt")
# sha256 of pyautoattack 0.2.0's examples/model_test.pt (44,754,497 bytes).
CHECKPOINT_SHA256 = "399f52da9f914c323fa5a6096d60f460a3449a59b64a6405200c1e629f8425a7"
_REINSTALL = "reinstall it with `pip install --force-reinstall pyautoattack`"


def checkpoint_path() -> Path:
    """Where the checkpoint lives inside the installed pyautoattack (the file may be missing).

    Found with ``importlib.util.find_spec`` so that pyautoattack's code is not imported. Tests
    monkeypatch this function to point the loader at another file.
    """
    spec = importlib.util.find_spec(CHECKPOINT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ChecksumError(
            f"checkpoint {CHECKPOINT_PACKAGE}/{'/'.join(CHECKPOINT_RELPATH)} is missing because "
            f"{CHECKPOINT_PACKAGE} is not installed: install it with `pip install pyautoattack`"
        )
    return Path(list(spec.submodule_search_locations)[0]).joinpath(*CHECKPOINT_RELPATH)


def _verify(path: Path) -> None:
    from benchbed.plugin import verify_sha256

    verify_sha256(path, CHECKPOINT_SHA256, fix=f"it ships inside the pyautoattack 0.2.0 wheel; {_REINSTALL}")


def _unwrap(obj, path: Path) -> dict:
    """Accept a bare state dict, one nested under a common key, or one saved from DataParallel."""
    for key in ("state_dict", "model_state_dict", "model", "net"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        raise BenchbedError(f"checkpoint {path} does not hold a state dict: {_REINSTALL}")
    prefix = "module."
    if obj and all(k.startswith(prefix) for k in obj):
        obj = {k[len(prefix):]: v for k, v in obj.items()}
    return obj


def load_model(device: torch.device) -> nn.Module:
    """Build the ResNet-18, load the verified checkpoint into it (strict), return it in eval mode."""
    import torch

    from .resnet import CifarResNet18

    path = checkpoint_path()
    _verify(path)
    state = _unwrap(torch.load(path, map_location="cpu", weights_only=True), path)
    with torch.device("meta"):  # skip the random init: every tensor is replaced by the checkpoint's
        model = CifarResNet18(num_classes=10)
    model.load_state_dict(state, strict=True, assign=True)
    return model.to(device).eval()


SPEC = ModelSpec(
    name=MODEL_NAME,
    dataset="cifar10",
    threat_models=("Linf", "L2"),
    architecture="ResNet-18",
    recipe="standard",
    loader=load_model,
    paper="Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free attacks",
    venue="ICML 2020",
    link="https://arxiv.org/abs/2003.01690",
    extra_data=False,
    checkpoint_sha256=CHECKPOINT_SHA256,
    footnote=(
        "The example checkpoint shipped inside the pyautoattack wheel (examples/model_test.pt), used by "
        "AutoAttack's example script; it is standard-trained (non-robust), a baseline rather than a "
        "defence. The paper is the attack's, not the model's."
    ),
    extra={"checkpoint": f"{CHECKPOINT_PACKAGE}/{'/'.join(CHECKPOINT_RELPATH)}", "input_normalisation": "none"},
)


@hookimpl
def register_models(register):
    register(SPEC)
