"""benchbed plugin: JEM's and DAT's released CIFAR-10 checkpoints, from the user's own folder.

Nothing is downloaded: put the files the authors publish into ``$BENCHBED_JOINT_CHECKPOINTS`` (default
``~/.cache/benchbed/joint-models``) under the names in :data:`FILES`. Cheap to import (no torch here).
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

from benchbed.plugin import ConfigError, ModelSpec, hookimpl

ENV_DIR = "BENCHBED_JOINT_CHECKPOINTS"

# model -> (file in the folder, where the authors publish it)
FILES = {
    "jem-wrn28-10": ("CIFAR10_MODEL.pt", "http://www.cs.toronto.edu/~wgrathwohl/CIFAR10_MODEL.pt (JEM's README)"),
    "dat-wrn34-10-t40": ("dat-cifar10-wrn34-10-T40.pth",
                         "the model_bestfid.pth of model_configs/cifar10-dat-WideResNet34x10-T40-seed0.yaml in the "
                         "Dropbox folder linked from DAT's README (github.com/xuwangyin/DAT), renamed"),
}


def checkpoint_dir() -> Path:
    return Path(os.environ.get(ENV_DIR) or Path.home() / ".cache" / "benchbed" / "joint-models")


def checkpoint_path(name: str) -> Path:
    filename, source = FILES[name]
    path = checkpoint_dir() / filename
    if not path.is_file():
        raise ConfigError(f"model {name!r}: checkpoint {path} not found: download {source} and put it there "
                          f"(or point ${ENV_DIR} at the folder that holds {filename})")
    return path


def load_jem(device, depth: int = 28, width: int = 10, path: Path | None = None):
    """JEM's checkpoint: a dict with ``model_state_dict`` (its CCF) and ``replay_buffer`` (see
    :func:`jem_replay_buffer`)."""
    import torch

    from .architectures import JemClassifier

    data = torch.load(path or checkpoint_path("jem-wrn28-10"), map_location="cpu", weights_only=True)
    state = data["model_state_dict"] if isinstance(data, dict) and "model_state_dict" in data else data
    model = JemClassifier(depth, width)
    model.load_state_dict(state)
    return model.to(device).eval()


def jem_replay_buffer(device, path: Path | None = None):
    """The ``replay_buffer`` JEM's checkpoint file holds (its training SGLD chains, on JEM's [-1, 1] scale),
    mapped to benchbed's [0, 1] pixels; None when the file has none. ``jem-sgld`` starts from it."""
    import torch

    data = torch.load(path or checkpoint_path("jem-wrn28-10"), map_location="cpu", weights_only=True)
    buffer = data.get("replay_buffer") if isinstance(data, dict) else None
    if not isinstance(buffer, torch.Tensor) or buffer.dim() != 4:
        return None
    return ((buffer.float() + 1.0) / 2.0).to(device)  # x = (x' + 1) / 2; not clamped (JEM's chains are not)


def load_dat(device, depth: int = 34, width: int = 10, path: Path | None = None):
    """DAT's checkpoint: a state dict, possibly DataParallel- or EMA-wrapped (see clean_dat_state_dict)."""
    import torch

    from .architectures import DatWideResNet, clean_dat_state_dict

    state = torch.load(path or checkpoint_path("dat-wrn34-10-t40"), map_location="cpu", weights_only=True)
    model = DatWideResNet(depth, width)
    model.load_state_dict(clean_dat_state_dict(state))
    return model.to(device).eval()


JEM_PAPER = ("Your Classifier is Secretly an Energy Based Model and You Should Treat it Like One (Grathwohl et al.)",
             "ICLR 2020", "https://arxiv.org/abs/1912.03263")
DAT_PAPER = ("Joint Discriminative-Generative Modeling via Dual Adversarial Training (Yin et al.)", "arXiv 2025",
             "https://arxiv.org/abs/2510.13872")


def specs() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="jem-wrn28-10", dataset="cifar10", threat_models=("L2", "Linf"), architecture="WideResNet-28-10",
            recipe="JEM", loader=functools.partial(load_jem), paper=JEM_PAPER[0], venue=JEM_PAPER[1],
            link=JEM_PAPER[2], family="joint", sampler="jem-sgld", replay_buffer=functools.partial(jem_replay_buffer),
            footnote="JEM's released CIFAR-10 model (no normalisation layers, leaky ReLU); inputs mapped to [-1, 1] "
                     "as in its training; jem-sgld starts from the replay buffer its checkpoint file holds. The paper "
                     "reports IS 8.76 and FID 38.4 (Table 1) from an evaluation whose code JEM does not publish "
                     "(sample count, reference set and Inception implementation unknown), so no benchbed protocol is "
                     "known to reproduce them and they are not shown beside benchbed's IS/FID",
            # Table 1 of the paper (CIFAR-10); its IS 8.76 / FID 38.4 are in the footnote only (see there)
            reported={"clean_accuracy": 92.9},
            extra={"checkpoint_file": FILES["jem-wrn28-10"][0], "input_range": "[-1, 1] (2x - 1 inside forward)"}),
        ModelSpec(
            name="dat-wrn34-10-t40", dataset="cifar10", threat_models=("L2",), architecture="WideResNet-34-10",
            recipe="DAT", loader=functools.partial(load_dat), paper=DAT_PAPER[0], venue=DAT_PAPER[1],
            link=DAT_PAPER[2], family="joint", sampler="dat-pgd",
            footnote="DAT's released CIFAR-10 model (T=40, seed 0; stage 2 without batch-norm updates, EMA weights); "
                     "CIFAR-10 mean/std normalisation inside forward; its published numbers are not transcribed here "
                     "(see the paper's tables)",
            extra={"checkpoint_file": FILES["dat-wrn34-10-t40"][0],
                   "input_range": "[0, 1], (x - CIFAR-10 mean) / std inside forward"}),
    ]


@hookimpl
def register_models(register):
    for spec in specs():
        register(spec)
