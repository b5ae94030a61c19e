"""The evaluation context: one model on one track's points; each expensive thing is computed once.

Metrics read what they need from here (clean logits, the attack's adversarial examples, samples),
so the energy metrics reuse the robust-accuracy attack and nothing is attacked twice.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import ModelOutputError
from .specs import AttackRequest, AttackResult, DatasetSpec, LabelledImages, ModelSpec, TrackSpec


def batched_logits(model: torch.nn.Module, images: torch.Tensor, device, batch_size: int) -> torch.Tensor:
    """Logits for ``images`` (CPU in, CPU out), computed in batches without gradients."""
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            out.append(model(images[start:start + batch_size].to(device)).float().cpu())
    return torch.cat(out) if out else torch.empty(0)


def check_logits(logits: torch.Tensor, n_inputs: int, num_classes: int, model_name: str) -> None:
    expected = (n_inputs, num_classes)
    if not isinstance(logits, torch.Tensor):
        raise ModelOutputError(f"model {model_name!r} returned {type(logits).__name__}, not a tensor: its "
                               f"forward must return a logits tensor of shape (N, {num_classes})")
    if tuple(logits.shape) != expected:
        raise ModelOutputError(f"model {model_name!r} returned logits of shape {tuple(logits.shape)} for "
                               f"{n_inputs} images, expected {expected}: fix its output layer to "
                               f"{num_classes} classes (and flatten extra dimensions)")
    if not torch.isfinite(logits).all():
        bad = int((~torch.isfinite(logits)).any(dim=1).sum())
        raise ModelOutputError(f"model {model_name!r} returned NaN/inf logits for {bad} of {n_inputs} "
                               f"images: check its weights and normalisation (inputs are in [0, 1])")


def block_ids(indices: np.ndarray, block_size: int) -> np.ndarray:
    return np.asarray(indices) // block_size


class EvaluationContext:
    def __init__(self, *, model: torch.nn.Module, model_spec: ModelSpec, track: TrackSpec,
                 dataset: DatasetSpec, points: LabelledImages, indices: np.ndarray, device: torch.device,
                 attack=None, data_dir: Path | None = None, cache_dir: Path | None = None,
                 registry=None, progress: Callable[[str], None] | None = None):
        self.model = model
        self.model_spec = model_spec
        self.track = track
        self.dataset = dataset
        self.images = points.images
        self.labels = points.labels
        self.indices = np.asarray(indices)
        self.device = device
        self.attack_spec = attack
        self.data_dir = data_dir
        self.cache_dir = cache_dir
        self.registry = registry
        self.timings: dict[str, float] = {}
        self._cache: dict[str, Any] = {}
        self._progress = progress or (lambda message: None)

    def __len__(self) -> int:
        return len(self.labels)

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """Shared work for plugins: ``compute`` runs once per context, its result is reused."""
        if key not in self._cache:
            start = time.perf_counter()
            self._cache[key] = compute()
            self.timings[key] = time.perf_counter() - start
        return self._cache[key]

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return batched_logits(self.model, images, self.device, self.track.batch_size)

    @cached_property
    def clean_logits(self) -> torch.Tensor:
        return self.cached("clean_logits", lambda: self.logits(self.images))

    @cached_property
    def clean_correct(self) -> torch.Tensor:
        return self.clean_logits.argmax(1) == self.labels

    @cached_property
    def attack_result(self) -> AttackResult:
        return self.cached("attack", self._run_attack)

    @cached_property
    def adversarial_logits(self) -> torch.Tensor:
        return self.cached("adversarial_logits", lambda: self.logits(self.attack_result.adversarial))

    def _run_attack(self) -> AttackResult:
        """Run the track's attack block by block; block b gets seed track.seed + b.

        Blocks are fixed by the global example index, so a shard of whole blocks sees exactly the
        attack calls an unsharded run makes, and sharded numbers equal unsharded ones.
        """
        track = self.track
        blocks = block_ids(self.indices, track.block_size)
        parts: list[tuple[np.ndarray, AttackResult]] = []
        for block in np.unique(blocks):
            where = np.flatnonzero(blocks == block)
            self._progress(f"{track.attack} block {int(block)} ({len(where)} points)")
            request = AttackRequest(
                model=self.model, images=self.images[where], labels=self.labels[where], norm=track.norm,
                eps=track.eps, seed=track.seed + int(block), device=self.device,
                batch_size=track.batch_size, options=dict(track.attack_options))
            parts.append((where, self.attack_spec.run(request)))
        return merge_attack_results(parts, len(self))


def merge_attack_results(parts: list[tuple[np.ndarray, AttackResult]], n: int) -> AttackResult:
    if len(parts) == 1 and len(parts[0][0]) == n:
        return parts[0][1]
    first = parts[0][1]
    adversarial = torch.empty((n, *first.adversarial.shape[1:]), dtype=first.adversarial.dtype)
    robust = torch.empty(n, dtype=torch.bool)
    merged = AttackResult(adversarial=adversarial, robust=robust, version=first.version)
    for where, part in parts:
        idx = torch.as_tensor(where)
        adversarial[idx] = part.adversarial
        robust[idx] = part.robust
        for name, count in part.flipped_by.items():
            merged.flipped_by[name] = merged.flipped_by.get(name, 0) + count
        merged.warnings.extend(w for w in part.warnings if w not in merged.warnings)
        for name, tensor in part.components.items():
            if name not in merged.components:
                merged.components[name] = torch.zeros((n, *tensor.shape[1:]), dtype=tensor.dtype)
            merged.components[name][idx] = tensor
        for name, mask in part.component_masks.items():
            if name not in merged.component_masks:
                merged.component_masks[name] = torch.zeros(n, dtype=torch.bool)
            merged.component_masks[name][idx] = mask
    return merged
