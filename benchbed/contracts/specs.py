"""The typed specs that plugins register. Small, frozen, and validated on creation.

One spec type per plugin kind (:data:`SPEC_TYPES`): the registry refuses an object of the wrong type
with a one-line error naming the plugin. Names are checked there too (:func:`check_name`).
"""
from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchbed.contracts.errors import ConfigError
from benchbed.contracts.figures import ArrayPlot, FlagExplanation
from benchbed.contracts.reductions import Reduction
from benchbed.contracts.studies import StudySpec

if TYPE_CHECKING:  # imported lazily: listing plugins must not pay for torch
    import numpy as np
    import torch
    from torch import nn

    from benchbed.engine.context import EvaluationContext

NORMS = ("Linf", "L2", "L1")
SPLITS = ("train", "test")
FAMILIES = ("classifier", "joint")  # a pure classifier, or a joint discriminative-generative model
MAX_NAME_LENGTH = 200


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a plugin name (None when it can).

    Names are stable ids shown on pages and mapped to file names. ``/`` may separate namespace
    segments (``rb/cifar10-linf/Standard``), but no segment may be empty, ``.`` or ``..``; backslashes,
    control characters and surrounding whitespace are refused, so a name can never act as a path.
    """
    if not isinstance(name, str):
        return f"a name must be a string, got {type(name).__name__}"
    if not name:
        return "the name is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"the name is {len(name)} characters long (at most {MAX_NAME_LENGTH})"
    if name != name.strip():
        return f"{name!r} starts or ends with whitespace"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return f"{name!r} contains a control character"
    if "\\" in name:
        return f"{name!r} contains a backslash (a path separator)"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return f"{name!r} has an empty, '.' or '..' segment between slashes (it could act as a path)"
    return None


def check_name(kind: str, name: object) -> str:
    """``name`` if it is a valid plugin name, else a one-line :class:`ConfigError`."""
    problem = name_problem(name)
    if problem:
        raise ConfigError(f"invalid {kind} name: {problem}; use letters, digits, '-', '_', '.' and '/' "
                          f"between non-empty segments")
    return name  # type: ignore[return-value]


@dataclass(frozen=True)
class LabelledImages:
    """Images in [0, 1] shaped (N, C, H, W), float32, with int64 labels, in a fixed order."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def slice(self, start: int, stop: int) -> LabelledImages:
        return LabelledImages(self.images[start:stop], self.labels[start:stop])

    def copy(self) -> LabelledImages:
        """A private copy: whatever its user does to it, the original stays intact."""
        return LabelledImages(self.images.clone(), self.labels.clone())


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
    # check(split, data_dir) -> None | one line saying what is missing and how to get it: a cheap
    # look for the files, run before any work starts (benchbed.engine.preflight); None = nothing to check.
    check: Callable[[str, Path | None], str | None] | None = None
    # the splits it has: "test" always; "train" is optional (needed only by metrics that require "train",
    # e.g. the generative metric's FID reference and PCA seeds, which preflight checks before any work)
    splits: tuple[str, ...] = SPLITS

    def __post_init__(self):
        _require(self.num_classes >= 2, f"dataset {self.name!r}: num_classes must be >= 2")
        _require(len(self.image_shape) == 3, f"dataset {self.name!r}: image_shape must be (C, H, W)")
        _require("test" in self.splits and set(self.splits) <= set(SPLITS),
                 f"dataset {self.name!r}: splits must include 'test' and be among {SPLITS}, got {self.splits}")

    def load(self, split: str, data_dir: Path | None = None) -> LabelledImages:
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r} for dataset {self.name!r}: use one of {SPLITS}")
        if split not in self.splits:
            raise ConfigError(f"dataset {self.name!r} has no {split} split (it has: {', '.join(self.splits)}): "
                              f"leave out what needs it, or register the dataset with that split")
        return self.loader(split, data_dir)


@dataclass(frozen=True)
class TrainingCheckpoint:
    """One checkpoint of a model's training run (e.g. one per epoch), for ``benchbed study dynamics``."""

    step: int  # epoch (or any increasing training step)
    loader: Callable[[torch.device], nn.Module]
    sha256: str = ""
    label: str = ""  # e.g. "epoch 12"


@dataclass(frozen=True)
class ModelSpec:
    """A registered classifier. ``loader(device)`` returns an nn.Module mapping [0, 1] images to logits."""

    name: str
    dataset: str
    threat_models: tuple[str, ...]
    architecture: str
    recipe: str  # standard / PGD-AT / TRADES / WEAT / JEM / DAT / ...
    loader: Callable[[torch.device], nn.Module]
    paper: str = ""
    venue: str = ""
    link: str = ""
    extra_data: bool = False
    checkpoint_sha256: str = ""  # what the plugin claims; benchbed also fingerprints the loaded weights
    footnote: str = ""
    reported: Mapping[str, float] = field(default_factory=dict)  # numbers published elsewhere
    family: str = "classifier"  # "classifier" or "joint" (discriminative-generative, e.g. JEM, DAT)
    sampler: str = ""  # the sampler this model's authors use (a registered sampler name), if any
    # Checkpoints along the model's training, oldest first (``benchbed study dynamics``); None if not published.
    training_series: Callable[[], Sequence[TrainingCheckpoint]] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # plugin-specific JSON-able fields (exports)
    # A JEM-style model's own sampler buffer: ``replay_buffer(device)`` -> (B, C, H, W) images in [0, 1]
    # (e.g. the ``replay_buffer`` a released checkpoint file holds), or None; ``jem-sgld`` starts from it.
    replay_buffer: Callable[[torch.device], torch.Tensor | None] | None = None

    def __post_init__(self):
        for tm in self.threat_models:
            _require(tm in NORMS, f"model {self.name!r}: threat model {tm!r} is not one of {NORMS}")
        _require(self.family in FAMILIES, f"model {self.name!r}: family {self.family!r} is not one of {FAMILIES}")

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
            "family": self.family,
            "sampler": self.sampler,
            "paper": self.paper,
            "venue": self.venue,
            "link": self.link,
            "extra_data": self.extra_data,
            "checkpoint_sha256": self.checkpoint_sha256,
            "footnote": self.footnote,
            "reported": dict(self.reported),
            "extra": dict(self.extra),
        }


@dataclass(frozen=True)
class AttackRequest:
    model: nn.Module  # benchbed's guard around the model: a copy of every input, logits checked finite
    images: torch.Tensor  # the attack's own copy
    labels: torch.Tensor
    norm: str
    eps: float
    seed: int
    device: torch.device
    batch_size: int
    options: Mapping[str, Any] = field(default_factory=dict)
    progress: Callable[[str], None] = lambda message: None  # one-line status for the progress display


@dataclass
class AttackIterate:
    """An attack's adversarial points of one semantic kind, for metrics that study them (energy).

    ``images[i]`` is the x* of point i where ``mask[i]``; elsewhere the natural image. ``source``
    names what produced them (e.g. AutoAttack's "apgd-ce" component).
    """

    images: torch.Tensor
    mask: torch.Tensor  # bool, one per point
    source: str


# Semantic iterate kinds an attack may provide (AttackResult.iterates keys).
UNTARGETED, TARGETED = "untargeted", "targeted"


@dataclass(frozen=True)
class AttackWarning:
    """Something an attack noticed about a model (e.g. randomness in its forward pass)."""

    label: str  # short, shown as a flag on the pages ("randomness", "gradient masking", ...)
    detail: str  # the attack's own words

    def info(self) -> dict[str, str]:
        return {"label": self.label, "detail": self.detail}


@dataclass
class AttackResult:
    """What an attack hands back for every point it was given (CPU tensors)."""

    adversarial: torch.Tensor  # x_adv; equals x where the attack found nothing
    robust: torch.Tensor  # bool: still correctly classified after the attack
    version: str
    flipped_by: dict[str, int] = field(default_factory=dict)  # per component: points it flipped
    warnings: list[AttackWarning] = field(default_factory=list)
    iterates: dict[str, AttackIterate] = field(default_factory=dict)  # by kind: UNTARGETED, TARGETED


@dataclass(frozen=True)
class AttackSpec:
    name: str
    norms: tuple[str, ...]
    run: Callable[[AttackRequest], AttackResult]
    description: str = ""
    library: str = ""  # distribution whose version goes into provenance and the cache key
    provides: tuple[str, ...] = ()  # iterate kinds its results carry (UNTARGETED, TARGETED)
    options: tuple[str, ...] = ()  # the option names it accepts in a track's attack_options (empty: not checked)
    # named option sets a run may choose instead of the track's own (``--attack-mode NAME``), e.g.
    # AutoAttack's {"fast": APGD-CE + APGD-T only}; the description says what each costs and gives up
    modes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    mode_descriptions: Mapping[str, str] = field(default_factory=dict)
    # what its warnings (AttackResult.warnings) mean, first match wins (see FlagExplanation)
    flag_explanations: tuple[FlagExplanation, ...] = ()

    def __post_init__(self):
        for mode in self.modes:  # a mode names a variant, which names files: keep it a plain word
            _require(isinstance(mode, str) and re.fullmatch(r"[a-z][a-z0-9-]{0,31}", mode) is not None
                     and mode != "standard",
                     f"attack {self.name!r}: mode {mode!r} must be a short lower-case word (a-z, 0-9, '-') other "
                     f"than 'standard'")

    def supports(self, norm: str) -> bool:
        return norm in self.norms

    def explain_flag(self, detail: str) -> FlagExplanation | None:
        """The declared explanation of a warning with this detail text (None: the attack declares none)."""
        text = detail.lower()
        matched = next((f for f in self.flag_explanations if f.match and f.match.lower() in text), None)
        return matched or next((f for f in self.flag_explanations if not f.match), None)


@dataclass(frozen=True)
class Column:
    """One number a metric produces, how it is computed from the per-point arrays, and how pages use it.

    ``reduce`` turns the merged per-point arrays into the number (:mod:`benchbed.contracts.reductions`), the
    same way for unsharded runs, sharded runs and ``benchbed.evaluate``. ``unit`` is shown in headers
    ("%", "energy", "points"). ``headline``: in the compact views (the run's table, the board's default
    columns). ``rank``: the track table's sort keys (1 first, then 2; 0 = not a key). ``plot``: the
    axis of the track's scatter plot ("x" or "y"). ``group``: the column group of the board's toggles
    (default: the metric's name). ``protocol``: which points/iterates the number uses, in words.
    """

    name: str
    description: str
    higher_is_better: bool | None = None  # None: informational, no direction
    unit: str = ""
    reduce: Reduction | None = None
    headline: bool = False
    rank: int = 0
    plot: str = ""
    group: str = ""
    protocol: str = ""

    def __post_init__(self):
        _require(self.plot in ("", "x", "y"), f"column {self.name!r}: plot must be '', 'x' or 'y'")
        _require(self.rank >= 0, f"column {self.name!r}: rank must be >= 0")

    def info(self, metric: str) -> dict[str, Any]:
        """How a record describes this column (``record.columns[name]``)."""
        return {"metric": metric, "description": self.description, "higher_is_better": self.higher_is_better,
                "unit": self.unit, "headline": self.headline, "rank": self.rank, "plot": self.plot,
                "group": self.group or metric, "protocol": self.protocol,
                "reduce": self.reduce.describe() if self.reduce is not None else ""}


@dataclass
class MetricOutput:
    """What a metric's ``compute`` returns: per-point arrays (one row per test point of the unit, or
    whole arrays for ``scope="model"``) and JSON-able ``info``. Numbers are never returned here: every
    column's value comes from its ``reduce`` over the (merged) arrays."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


INFO_REDUCTIONS = ("sum", "union", "same", "first")
@dataclass(frozen=True)
class MetricSpec:
    """A metric: ``compute(ctx)`` -> :class:`MetricOutput`; each column declares its reduction.

    ``scope``: "example" (per-point arrays, concatenated across shards) or "model" (computed once per
    model and track, e.g. FID of samples). ``info_reduce``: how each key of ``info`` combines across
    shards: "sum" (numbers, or dicts of numbers), "union" (lists), "same" (must agree; the default),
    "first". ``requires``: what the metric needs, checked before a run starts (benchbed.engine.preflight):
    "attack" (the track's attack), "iterates:<kind>", "generation" (generation settings, sampler and
    feature extractor), "train" (the training split). ``check(track, data_dir)``: files of its own the
    metric reads (e.g. corrupted copies of the test points), looked for before a run starts: None or
    a list of lines, each naming what is missing and where to put it.
    """

    name: str
    columns: tuple[Column, ...]
    compute: Callable[[EvaluationContext], MetricOutput]
    description: str = ""
    scope: str = "example"
    info_reduce: Mapping[str, str] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    # presentation: figures of its per-point arrays on the pages, how its columns' units read in words
    # ({"energy": "energy units"}), and whether its lower-is-better columns measure an alignment the
    # track page correlates with the track's robustness axis across models
    figures: tuple[ArrayPlot, ...] = ()
    unit_texts: Mapping[str, str] = field(default_factory=dict)
    alignment: bool = False
    check: Callable[[TrackSpec, Path | None], Sequence[str] | str | None] | None = None

    def __post_init__(self):
        _require(self.scope in ("example", "model"),
                 f"metric {self.name!r}: scope must be 'example' or 'model', got {self.scope!r}")
        for key, how in self.info_reduce.items():
            _require(how in INFO_REDUCTIONS, f"metric {self.name!r}: info_reduce[{key!r}] = {how!r} is not one "
                                             f"of {INFO_REDUCTIONS}")

    def columns_for(self, track: TrackSpec) -> tuple[Column, ...]:
        """The columns this metric produces on ``track``; subclasses may name them per track."""
        return self.columns


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


@dataclass(frozen=True)
class ExecutorSpec:
    """Where units run. ``make(**options)`` returns a :class:`benchbed.engine.executors.Executor`; options are
    ``threads``, ``retries``, ``device``, ``address``, ``workers`` (an executor ignores what it has no use for)."""

    name: str
    make: Callable[..., Any]
    description: str = ""


@dataclass(frozen=True)
class ExporterSpec:
    """A ``benchbed results --format`` format: ``render(records, options) -> str`` (printed), and
    optionally ``write(records, folder, options) -> list[Path]`` for ``--export-dir``."""

    name: str
    render: Callable[..., str]
    description: str = ""
    write: Callable[..., list] | None = None


@dataclass(frozen=True)
class ObserverSpec:
    """Something that watches runs. ``start(run)`` is called when a run starts with its
    :class:`benchbed.contracts.events.RunInfo` and returns a callable that then receives every
    :class:`benchbed.contracts.events.RunEvent` of that run (unit started, progress, metric done, unit done or
    failed, run end...), or None to sit this run out. An observer that raises is reported once and
    dropped for the rest of the run; the run goes on."""

    name: str
    start: Callable[[Any], Callable[[Any], None] | None]
    description: str = ""


# plugin kind -> the spec type its register hook must register
SPEC_TYPES: dict[str, type] = {
    "datasets": DatasetSpec, "models": ModelSpec, "attacks": AttackSpec, "metrics": MetricSpec,
    "tracks": TrackSpec, "samplers": SamplerSpec, "executors": ExecutorSpec, "exporters": ExporterSpec,
    "observers": ObserverSpec, "studies": StudySpec,
}
