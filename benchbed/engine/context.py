"""The evaluation context: one model on one unit's points; each expensive thing is computed once.

Metrics read what they need from here (clean logits, the attack's result, samples, the training
split), so the energy metric reuses the robust-accuracy attack and nothing is attacked twice.

The model a metric, an attack or a sampler sees is a :class:`GuardedModel`: every call gets a
private copy of its input (a model that rescales ``x`` in place cannot touch anyone else's data)
and every logits tensor it returns is checked finite -- counted on the device, read once per phase,
so no host round trip is added inside attack or sampler loops.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchbed.contracts.errors import ModelOutputError
from benchbed.contracts.specs import AttackRequest, AttackResult, DatasetSpec, LabelledImages, ModelSpec, TrackSpec


def describe_output_problem(logits: Any, n_inputs: int, num_classes: int, model_name: str) -> str | None:
    """Why ``logits`` cannot be the model's answer to ``n_inputs`` images (None when fine)."""
    expected = (n_inputs, num_classes)
    if not isinstance(logits, torch.Tensor):
        return (f"model {model_name!r} returned {type(logits).__name__}, not a tensor: its forward must return a "
                f"logits tensor of shape (N, {num_classes})")
    if tuple(logits.shape) != expected:
        return (f"model {model_name!r} returned logits of shape {tuple(logits.shape)} for {n_inputs} images, "
                f"expected {expected}: fix its output layer to {num_classes} classes (and flatten extra dimensions)")
    return None


class GuardedModel(torch.nn.Module):
    """The model as plugins' code sees it: private input copies, output shape and finiteness checked.

    Non-finite logits are counted per :meth:`phase`; leaving a phase with any raises one
    :class:`ModelOutputError` saying how many inputs of what kind ("adversarial inputs",
    "sampler steps" ...) got NaN/inf logits.
    """

    def __init__(self, model: torch.nn.Module, name: str, num_classes: int):
        super().__init__()
        self.inner = model
        self.model_name = name
        self.num_classes = num_classes
        self._bad: torch.Tensor | None = None  # rows with a non-finite logit, on the device
        self._rows = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.inner(x.clone())
        problem = describe_output_problem(out, int(x.shape[0]), self.num_classes, self.model_name)
        if problem:
            raise ModelOutputError(problem)
        with torch.no_grad():
            if out.device.type == "cpu":
                # on the CPU a check costs no device round trip: one reduction, and the exact count only
                # when it is not finite (a NaN or inf anywhere makes the sum NaN or inf)
                if not math.isfinite(out.detach().sum().item()):
                    bad = int((~torch.isfinite(out.detach())).any(dim=1).sum())
                    self._bad = bad if self._bad is None else self._bad + bad
            else:  # on an accelerator: counted on the device, read once per phase (no per-call sync)
                bad = (~torch.isfinite(out.detach())).any(dim=1).sum()
                self._bad = bad if self._bad is None else self._bad + bad
        self._rows += int(x.shape[0])
        return out

    @contextmanager
    def phase(self, what: str) -> Iterator[None]:
        """Count non-finite logits of the calls inside; raise if there were any (``what``: the inputs)."""
        saved = (self._bad, self._rows)
        self._bad, self._rows = None, 0
        try:
            yield
            self.check(what)
        finally:
            self._bad, self._rows = saved

    def check(self, what: str) -> None:
        bad = 0 if self._bad is None else int(self._bad)
        if bad:
            raise ModelOutputError(f"model {self.model_name!r} returned NaN/inf logits for {bad} of {self._rows} "
                                   f"{what}: check its weights and numerics (inputs are in [0, 1])")


def inplace_mutation(model: torch.nn.Module, probe: torch.Tensor) -> bool:
    """Whether ``model`` changes its input tensor in place (benchbed hands it copies; this is a flag)."""
    x = probe.clone()
    with torch.no_grad():
        model(x)
    return not torch.equal(x, probe)


def batched_logits(model: torch.nn.Module, images: torch.Tensor, device, batch_size: int) -> torch.Tensor:
    """Logits for ``images`` (CPU in, CPU out), computed in batches without gradients."""
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            out.append(model(images[start:start + batch_size].to(device, non_blocking=True)).float())
    # one copy to the host at the end: no per-batch synchronisation with an accelerator
    return torch.cat(out).cpu() if out else torch.empty(0)


def block_ids(indices: np.ndarray, block_size: int) -> np.ndarray:
    return np.asarray(indices) // block_size


class EvaluationContext:
    """What a metric's ``compute(ctx)`` may read. Everything expensive is computed once per unit.

    Attributes: ``model`` (the guarded model, eval mode), ``model_spec``, ``track``, ``dataset``,
    ``images`` / ``labels`` (this unit's test points, a private copy, CPU), ``indices`` (their
    positions in the track), ``device``, ``registry``, ``data_dir``, ``cache_dir``, ``timings``.
    """

    def __init__(self, *, model: torch.nn.Module, model_spec: ModelSpec, track: TrackSpec, dataset: DatasetSpec,
                 points: LabelledImages, indices: np.ndarray, device: torch.device, attack=None,
                 data_dir: Path | None = None, cache_dir: Path | None = None, registry=None,
                 progress: Callable[[str], None] | None = None):
        if not isinstance(model, GuardedModel):  # e.g. a metric's own tests build a context around a module
            model = GuardedModel(model, model_spec.name, dataset.num_classes).eval()
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

    def progress(self, message: str) -> None:
        """A one-line status for the progress display (what is running now)."""
        self._progress(message)

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """Shared work for plugins: ``compute`` runs once per context, its result is reused."""
        if key not in self._cache:
            start = time.perf_counter()
            self._cache[key] = compute()
            self.timings[key] = time.perf_counter() - start
        return self._cache[key]

    def ran(self, key: str) -> bool:
        """Whether the shared work ``key`` ("attack", "clean_logits", ...) was computed in this context."""
        return key in self._cache

    def logits(self, images: torch.Tensor, what: str = "inputs") -> torch.Tensor:
        """The model's logits for ``images`` (CPU float32), checked finite (``what`` names the inputs)."""
        with self.model.phase(what):
            return batched_logits(self.model, images, self.device, self.track.batch_size)

    def train_split(self) -> LabelledImages:
        """The track's training split (a private copy, loaded once)."""
        return self.cached("train_split", lambda: self.dataset.load("train", self.data_dir).copy())

    @property
    def clean_logits(self) -> torch.Tensor:
        return self.cached("clean_logits", lambda: self.logits(self.images, "clean test inputs"))

    @property
    def clean_correct(self) -> torch.Tensor:
        return self.clean_logits.argmax(1) == self.labels

    @property
    def attack_result(self) -> AttackResult:
        return self.cached("attack", self._run_attack)

    @property
    def adversarial_logits(self) -> torch.Tensor:
        return self.cached("adversarial_logits", lambda: self.logits(
            self.attack_result.adversarial, "adversarial inputs (the attack's x_adv)"))

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
            label = f"{track.attack} block {int(block)} ({len(where)} points)"
            self.progress(label)
            request = AttackRequest(
                model=self.model, images=self.images[where].clone(), labels=self.labels[where].clone(),
                norm=track.norm, eps=track.eps, seed=track.seed + int(block), device=self.device,
                batch_size=track.batch_size, options=dict(track.attack_options),
                progress=lambda message, label=label: self.progress(f"{label}: {message}"))
            with self.model.phase("inputs evaluated by the attack"):
                parts.append((where, self.attack_spec.run(request)))
        return merge_attack_results(parts, len(self))


def merge_attack_results(parts: list[tuple[np.ndarray, AttackResult]], n: int) -> AttackResult:
    from benchbed.contracts.specs import AttackIterate

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
        for kind, it in part.iterates.items():
            if kind not in merged.iterates:
                merged.iterates[kind] = AttackIterate(
                    images=torch.zeros((n, *it.images.shape[1:]), dtype=it.images.dtype),
                    mask=torch.zeros(n, dtype=torch.bool), source=it.source)
            merged.iterates[kind].images[idx] = it.images
            merged.iterates[kind].mask[idx] = it.mask
    return merged
