"""The sampler contract and the driver shared by the ``generative`` metric and ``benchbed sample``.

A sampler is a :class:`benchbed.contracts.specs.SamplerSpec` whose ``sample(request)`` takes a
:class:`SampleRequest` and returns the samples: a float32 CPU tensor (N, C, H, W) in [0, 1], the n-th
sample drawn for class ``request.labels[n]``. A sampler that draws unconditionally (JEM's ``jem-sgld``) may
instead set ``request.labels`` to the class it assigns each sample (same length): that is what the
caller reads back. Samplers register through the ``register_samplers``
hook, so a model author can ship one fitted to their model (e.g. JEM's replay-buffer SGLD) and select
it with a track's ``GenerationSettings(sampler=...)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from benchbed.contracts.errors import BenchbedError, ConfigError
from benchbed.contracts.specs import GenerationSettings, LabelledImages
from benchbed.generative.seeds import FILE_PREFIX, SeedModel, cached_fit_seeds


def class_labels(n: int, num_classes: int) -> torch.Tensor:
    """Balanced class labels 0, 1, ..., K-1, 0, 1, ... (every prefix is as balanced as it can be)."""
    return torch.arange(int(n), dtype=torch.int64) % int(num_classes)


@dataclass
class SampleRequest:
    model: torch.nn.Module  # eval mode, [0, 1] images -> logits
    labels: torch.Tensor  # (N,) int64 on the CPU: the class each sample is drawn for
    settings: GenerationSettings
    train: LabelledImages | None  # the track's training split (what seeds are fitted on)
    num_classes: int
    image_shape: tuple[int, int, int]
    device: torch.device
    seed: int = 0
    progress: bool = True
    seed_model: SeedModel | None = None  # pre-fitted seeds, reused across models when given
    stats: dict[str, Any] = field(default_factory=dict)  # JSON-able numbers a sampler reports
    report: Any = None  # report(message): a one-line status for the run's progress display
    dataset: str = ""  # the track's dataset name (names cached reference statistics)
    cache_dir: Any = None  # benchbed's cache folder (None: $BENCHBED_CACHE or ~/.cache/benchbed)
    replay_buffer: Any = None  # the model's own sampler buffer, ModelSpec.replay_buffer(device), if it has one

    def __len__(self) -> int:
        return int(self.labels.numel())

    def seeds(self) -> SeedModel:
        """The seed model of ``settings.seed_kind``, fitted on ``train`` on first use."""
        if self.seed_model is None:
            s = self.settings
            if self.train is None and not _needs_no_fit(s.seed_kind):
                raise ConfigError(f"seed kind {s.seed_kind!r} needs the track's training split")
            if _needs_no_fit(s.seed_kind):
                images = torch.zeros((1, *self.image_shape))
                labels = torch.zeros(1, dtype=torch.int64)
            else:
                images, labels = self.train.images, self.train.labels
            self.seed_model = cached_fit_seeds(s.seed_kind, images, labels, self.num_classes,
                                               retained_variance=s.retained_variance, scale=s.seed_scale,
                                               cache_dir=self.cache_dir, dataset=self.dataset)
        return self.seed_model


def _needs_no_fit(seed_kind: str) -> bool:
    return seed_kind == "uniform" or seed_kind.startswith(FILE_PREFIX)


def run_sampler(sampler, request: SampleRequest) -> torch.Tensor:
    """Call ``sampler.sample(request)`` and check what comes back (shape, finite, in [0, 1])."""
    out = sampler.sample(request)
    expected = (len(request), *request.image_shape)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != expected:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise BenchbedError(f"sampler {sampler.name!r} returned {got}, expected a tensor of shape {expected}: "
                            f"a sampler must return one image per requested label")
    labels = request.labels
    if not isinstance(labels, torch.Tensor) or tuple(labels.shape) != (len(out),) or labels.dtype != torch.int64 \
            or (len(labels) and not (0 <= int(labels.min()) and int(labels.max()) < request.num_classes)):
        raise BenchbedError(f"sampler {sampler.name!r} left request.labels that are not {len(out)} int64 classes in "
                            f"[0, {request.num_classes}): a sampler that relabels its samples must give one class each")
    out = out.detach().float().cpu()
    if not torch.isfinite(out).all():
        raise BenchbedError(f"sampler {sampler.name!r} returned NaN/inf pixels: check its step size and model")
    return out.clamp_(0.0, 1.0)


def resolve_sampler_name(settings: GenerationSettings, model_spec=None, override: str | None = None) -> str:
    """See :meth:`benchbed.contracts.specs.GenerationSettings.sampler_for`."""
    return settings.sampler_for(model_spec, override)


def draw_samples(model: torch.nn.Module, track, dataset, registry, device, *, n: int | None = None,
                 seed: int | None = None, train: LabelledImages | None = None, data_dir=None,
                 progress: bool = True, report=None, model_spec=None, sampler: str | None = None,
                 cache_dir=None) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Sample ``n`` (default: the track's ``n_samples``) balanced class-conditional images from ``model``
    with the track's sampler (or ``sampler``; see :func:`resolve_sampler_name`) and generation settings;
    returns (samples, labels, sampler stats)."""
    settings = track.generation
    if settings is None:
        raise ConfigError(f"track {track.name!r} has no generation settings: add GenerationSettings(...) to it "
                          f"to sample from its models")
    n = settings.n_samples if n is None else int(n)
    if n <= 0:
        raise ConfigError(f"the number of samples must be positive, got {n}")
    spec = registry.samplers.get(resolve_sampler_name(settings, model_spec, sampler))
    if train is None and (not _needs_no_fit(settings.seed_kind) or settings.options.get("select_steps")):
        train = dataset.load("train", data_dir)
    request = SampleRequest(model=model, labels=class_labels(n, dataset.num_classes), settings=settings, train=train,
                            num_classes=dataset.num_classes, image_shape=tuple(dataset.image_shape),
                            device=torch.device(device), seed=track.seed if seed is None else int(seed),
                            progress=progress, report=report or (lambda message: None), dataset=track.dataset,
                            cache_dir=cache_dir, replay_buffer=getattr(model_spec, "replay_buffer", None))
    samples = run_sampler(spec, request)
    stats = {"sampler": spec.name, "seed": request.seed, **request.stats}
    return samples, request.labels, stats
