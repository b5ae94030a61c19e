"""The typed specs that plugins register. Small, frozen, and validated on creation."""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:  # imported lazily: listing plugins must not pay for torch
    import numpy as np
    import torch
    from torch import nn

    from .context import EvaluationContext

NORMS = ("Linf", "L2", "L1")
SPLITS = ("train", "test")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass(frozen=True)
class LabelledImages:
    """Images in [0, 1] shaped (N, C, H, W), float32, with int64 labels, in a fixed order."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    num_classes: int
    image_shape: tuple[int, int, int]
    # load(split, data_dir) -> LabelledImages; data_dir is None for embedded datasets.
    loader: Callable[[str, Path | None], LabelledImages]
    description: str = ""
    class_names: tuple[str, ...] = ()
    embedded: bool = False  # ships inside a dependency: works offline with no files

    def __post_init__(self):
        _require(self.num_classes >= 2, f"dataset {self.name!r}: num_classes must be >= 2")
        _require(len(self.image_shape) == 3, f"dataset {self.name!r}: image_shape must be (C, H, W)")

    def load(self, split: str, data_dir: Path | None = None) -> LabelledImages:
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r} for dataset {self.name!r}: use one of {SPLITS}")
        return self.loader(split, data_dir)


@dataclass(frozen=True)
class ModelSpec:
    """A registered classifier. ``loader(device)`` returns an nn.Module mapping [0, 1] images to logits."""

    name: str
    dataset: str
    threat_models: tuple[str, ...]
    architecture: str
    recipe: str  # standard / PGD-AT / TRADES / WEAT / JEM / ...
    loader: Callable[[torch.device], nn.Module]
    paper: str = ""
    venue: str = ""
    link: str = ""
    extra_data: bool = False
    checkpoint_sha256: str = ""
    footnote: str = ""
    reported: Mapping[str, float] = field(default_factory=dict)  # numbers published elsewhere
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        for tm in self.threat_models:
            _require(tm in NORMS, f"model {self.name!r}: threat model {tm!r} is not one of {NORMS}")

    def load(self, device: torch.device | str) -> nn.Module:
        import torch

        module = self.loader(torch.device(device))
        return module.eval()

    def info(self) -> dict[str, Any]:
        """Metadata as plain JSON-able values (for result records and pages)."""
        return {
            "name": self.name,
            "dataset": self.dataset,
            "threat_models": list(self.threat_models),
            "architecture": self.architecture,
            "recipe": self.recipe,
            "paper": self.paper,
            "venue": self.venue,
            "link": self.link,
            "extra_data": self.extra_data,
            "checkpoint_sha256": self.checkpoint_sha256,
            "footnote": self.footnote,
            "reported": dict(self.reported),
        }


@dataclass(frozen=True)
class AttackRequest:
    model: nn.Module
    images: torch.Tensor
    labels: torch.Tensor
    norm: str
    eps: float
    seed: int
    device: torch.device
    batch_size: int
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class AttackResult:
    """What an attack hands back for every point it was given (CPU tensors)."""

    adversarial: torch.Tensor  # x_adv; equals x where the attack found nothing
    robust: torch.Tensor  # bool: still correctly classified after the attack
    version: str
    flipped_by: dict[str, int] = field(default_factory=dict)  # per component: points it flipped
    warnings: list[str] = field(default_factory=list)
    # Extra per-point tensors an attack can expose for metrics, e.g. the max-loss iterate of a
    # component for every attacked point (keys like "apgd-ce"), aligned with ``adversarial``.
    components: dict[str, torch.Tensor] = field(default_factory=dict)
    component_masks: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class AttackSpec:
    name: str
    norms: tuple[str, ...]
    run: Callable[[AttackRequest], AttackResult]
    description: str = ""
    library: str = ""  # distribution whose version goes into provenance

    def supports(self, norm: str) -> bool:
        return norm in self.norms


@dataclass(frozen=True)
class Column:
    """One number a metric produces. ``unit`` is shown in headers ("%", "energy", "")."""

    name: str
    description: str
    higher_is_better: bool | None = None  # None: informational, no direction
    unit: str = ""

    def info(self, metric: str) -> dict[str, Any]:
        """How a record describes this column (``record["columns"][name]``)."""
        return {"metric": metric, "description": self.description, "higher_is_better": self.higher_is_better,
                "unit": self.unit}


@dataclass
class MetricResult:
    values: dict[str, float]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # per-point data kept with the result
    info: dict[str, Any] = field(default_factory=dict)  # JSON-able extras (counts, flags, file names)

    @classmethod
    def of(cls, value: MetricResult | Mapping[str, float]) -> MetricResult:
        """A metric's return value as a MetricResult (metrics may return a plain {column: value})."""
        return value if isinstance(value, MetricResult) else cls(values=dict(value))


@dataclass(frozen=True)
class MetricSpec:
    name: str
    columns: tuple[Column, ...]
    compute: Callable[[EvaluationContext], MetricResult | Mapping[str, float]]
    description: str = ""
    needs_attack: bool = False  # for ordering and for reporting what a metric costs
    # How the metric splits over shards of test points (see benchbed.units): "example" = computed per
    # shard, with per-point arrays; "model" = computed once per (model, track), e.g. FID of samples.
    scope: str = "example"
    # merge(arrays, infos) -> MetricResult | {column: value}: the metric's numbers recomputed from the
    # per-point arrays of all shards (concatenated in index order) and each shard's ``info``. Needed
    # to shard an "example" metric; used for unsharded runs too, so both give identical numbers.
    merge: Callable[[Mapping[str, np.ndarray], list[Mapping[str, Any]]],
                    MetricResult | Mapping[str, float]] | None = None

    def __post_init__(self):
        _require(self.scope in ("example", "model"),
                 f"metric {self.name!r}: scope must be 'example' or 'model', got {self.scope!r}")

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def columns_for(self, track: TrackSpec) -> tuple[Column, ...]:
        """The columns this metric produces on ``track``; subclasses may name them per track."""
        return self.columns


@dataclass(frozen=True)
class GenerationSettings:
    """How images are sampled from a classifier (science.md section 3); every knob a track parameter."""

    sampler: str = "sgld"
    seed_kind: str = "pca"  # pca | gaussian | uniform
    n_samples: int = 10_000
    steps: int = 50
    step_size: float = 0.8  # eta
    noise: float = 0.001  # sigma
    momentum: float = 0.0  # z
    retained_variance: float = 0.95
    seed_scale: float = 0.005  # std of the PCA coefficients' multipliers
    batch_size: int = 500
    feature_extractor: str = "inception-v3-compat"
    column_prefix: str = ""  # e.g. "digits_" so digits numbers are never mistaken for Inception ones

    def __post_init__(self):
        _require(self.n_samples > 0, "generation n_samples must be > 0")
        _require(self.steps >= 0, "generation steps must be >= 0")


@dataclass(frozen=True)
class SamplerSpec:
    """A way to draw class-conditional samples from a classifier (see benchbed.generative)."""

    name: str
    sample: Callable[..., torch.Tensor]
    description: str = ""


@dataclass(frozen=True)
class TrackSpec:
    name: str
    dataset: str
    norm: str
    eps: float
    n_examples: int
    attack: str = "autoattack"
    attack_options: Mapping[str, Any] = field(default_factory=lambda: {"version": "standard"})
    metrics: tuple[str, ...] = ("clean_accuracy", "robust_accuracy")
    generation: GenerationSettings | None = None
    seed: int = 0
    batch_size: int = 250
    # The attack runs on fixed blocks of this many examples, each with its own derived seed, so
    # that any shard made of whole blocks gives exactly the numbers of an unsharded run.
    block_size: int = 500
    eps_label: str = ""  # how the eps is usually written, e.g. "8/255"
    description: str = ""

    def __post_init__(self):
        _require(self.norm in NORMS, f"track {self.name!r}: norm {self.norm!r} is not one of {NORMS}")
        _require(
            isinstance(self.eps, (int, float)) and math.isfinite(self.eps) and self.eps > 0,
            f"track {self.name!r}: eps must be a positive number, got {self.eps!r}",
        )
        _require(self.n_examples > 0, f"track {self.name!r}: n_examples must be > 0, got {self.n_examples}")
        _require(self.block_size > 0, f"track {self.name!r}: block_size must be > 0")

    @property
    def threat_model(self) -> str:
        return self.norm

    def replace(self, **changes: Any) -> TrackSpec:
        return dataclasses.replace(self, **changes)

    def info(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["attack_options"] = dict(self.attack_options)
        d["metrics"] = list(self.metrics)
        return d
