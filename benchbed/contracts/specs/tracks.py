"""What a track is (:class:`TrackSpec`, with its :class:`GenerationSettings`) and what a sampler registers."""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from benchbed.contracts.specs.names import NORMS, _require

if TYPE_CHECKING:  # imported lazily: listing plugins must not pay for torch
    import torch

    from benchbed.contracts.specs.models import ModelSpec


MODEL_SAMPLER = "model"  # GenerationSettings.sampler: each model's preferred sampler (ModelSpec.sampler)
FALLBACK_SAMPLER = "sgld"  # ... for a model that names none


@dataclass(frozen=True)
class GenerationSettings:
    """How images are sampled from a classifier (docs/science.md, section 4); every knob a track parameter."""

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
    options: Mapping[str, Any] = field(default_factory=dict)  # sampler-specific knobs (SamplerSpec.defaults)

    def __post_init__(self):
        _require(self.n_samples > 0, "generation n_samples must be > 0")
        _require(self.steps >= 0, "generation steps must be >= 0")

    def info(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["options"] = dict(self.options)
        return d

    def info_for(self, uses: Sequence[str] | None) -> dict[str, Any]:
        """The settings a sampler that reads ``uses`` depends on (``SamplerSpec.uses``; None: all of them),
        plus what the generative metric itself reads (:data:`METRIC_SETTINGS`): what a record keeps."""
        d = self.info()
        return d if uses is None else {k: v for k, v in d.items() if k in METRIC_SETTINGS or k in uses}

    def sampler_for(self, model: ModelSpec | None = None, override: str | None = None) -> str:
        """The sampler a model is drawn with: ``override`` (``benchbed sample --sampler``), else ``sampler``.
        ``sampler="model"`` means each model's own ``ModelSpec.sampler`` (``sgld`` where it names none); a
        track that names a sampler forces it on every model, so its columns hold one protocol."""
        name = override or self.sampler
        if name == MODEL_SAMPLER:
            name = (model.sampler if model is not None else "") or FALLBACK_SAMPLER
        return name


# GenerationSettings fields the generative metric reads whatever the sampler (kept in every record)
METRIC_SETTINGS = ("sampler", "n_samples", "batch_size", "feature_extractor", "column_prefix", "options")
# ... and those the seeds read (``seed_kind`` and the PCA seeds' knobs), for samplers that start from them
SEED_SETTINGS = ("seed_kind", "retained_variance", "seed_scale")


@dataclass(frozen=True)
class SamplerSpec:
    """A way to draw class-conditional samples from a classifier (see benchbed.generative).

    ``uses``: the :class:`GenerationSettings` fields the sampler reads besides :data:`METRIC_SETTINGS`
    (e.g. ``SEED_SETTINGS + ("steps", "step_size")``); a record keeps only those, so a sampler that draws
    its own starts never shows a seed kind. None (the default): all of them.
    """

    name: str
    sample: Callable[..., torch.Tensor]
    description: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)  # its own knobs; a track's options override
    uses: tuple[str, ...] | None = None

    def __post_init__(self):
        if self.uses is not None:
            known = {f.name for f in dataclasses.fields(GenerationSettings)}
            unknown = sorted(set(self.uses) - known)
            _require(not unknown, f"sampler {self.name!r}: uses names {unknown}, which are not GenerationSettings "
                                  f"fields ({', '.join(sorted(known))})")


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
    # "standard": the track's own attack options; else the name of one of its attack's AttackSpec.modes
    # (set by ``--attack-mode``; the run is then a labelled variant, never ranked with standard ones)
    attack_mode: str = "standard"

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
        d["generation"] = self.generation.info() if self.generation is not None else None
        return d

    def key_info(self) -> dict[str, Any]:
        """What in the track changes numbers (the cache key's part): not its description or eps label.

        The metric list is left out too: each metric's own numbers do not depend on which others run
        (the record's metric selection is keyed separately)."""
        d = self.info()
        for cosmetic in ("description", "eps_label", "metrics"):
            d.pop(cosmetic)
        return d


def eps_text(eps: float, label: str = "") -> str:
    """How an eps is usually written: the track's label ("8/255"), else k/255 when it is one, else %g."""
    if label:
        return label
    numerator = eps * 255
    if abs(numerator - round(numerator)) < 1e-9 and round(numerator) > 0:
        return f"{round(numerator)}/255"
    return f"{eps:g}"
