"""The ``generative`` metric: IS / FID / KID of class-conditional samples drawn from the classifier.

Column names carry the track's ``generation.column_prefix``: ``digits_is``, ``digits_fid``,
``digits_kid`` on ``digits-linf`` (features from the digits extractor, *not* Inception: never compare
them with Inception numbers), ``is``, ``fid``, ``kid`` on the CIFAR tracks (Inception-v3 features).
The sample grid (one row per class, 8 samples each) is kept with the result as PNG bytes in the
record's ``.npz`` under ``generative_grid_png`` (read it back with
:func:`benchbed.generative.grid.grid_png_from_arrays`); the scores are kept there as 0-d arrays and
reduced with ``scalar``, beside their bootstrap replicates over the generated samples
(``<score>_resampled``, see :mod:`benchbed.generative.resampling`), which give their intervals; the
independent classifier's accuracy is ``percent`` of its per-sample flags (``<prefix>class_correct``),
with a Wilson interval. The metric has ``scope="model"``: computed once per (model, track), whatever
the sharding (it does not depend on the test points).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchbed.contracts.errors import ConfigError
from benchbed.contracts.figures import ArrayPlot, ArraySeries
from benchbed.contracts.hookspecs import hookimpl
from benchbed.contracts.reductions import RESAMPLED, percent, scalar
from benchbed.contracts.specs import Column, MetricOutput, MetricSpec
from benchbed.generative.defaults import CLASSIFYING_EXTRACTORS

if TYPE_CHECKING:  # the inherited dataclass fields' annotations, resolved here by documentation tools
    from collections.abc import Callable, Mapping, Sequence  # noqa: F401

    from benchbed.engine.context import EvaluationContext  # noqa: F401

GRID_PER_CLASS = 8
GRID_MAX_ROWS = 10  # datasets with more classes show their first 10

# Names take the track's generation.column_prefix; "the track's extractor" becomes its name per track.
EXTRACTOR = "the track's extractor"
CLASSIFIER_COLUMN = "{prefix}class_acc"  # only on tracks whose extractor can classify the dataset's classes
GENERATED = "the generated samples"  # what is resampled (Reduction.over)
AGAINST_FIXED = f"{GENERATED} (reference set fixed)"
CLASSIFIER_FLAGS = "{prefix}class_correct"  # per sample: the independent classifier agrees with its class
COLUMN_TEMPLATES = (
    Column("{prefix}is", f"Inception Score of the class-conditional samples (logits of {EXTRACTOR})", True, "",
           reduce=scalar("{prefix}is", resampled=True, over=GENERATED), headline=True),
    Column("{prefix}fid", f"FID of the samples against the track's training set (features of {EXTRACTOR})",
           False, "", reduce=scalar("{prefix}fid", resampled=True, over=AGAINST_FIXED), headline=True, plot="x"),
    Column("{prefix}kid", f"KID (polynomial-kernel MMD^2, mean over subsets) of the samples against the track's "
           f"training set (features of {EXTRACTOR})", False, "",
           reduce=scalar("{prefix}kid", resampled=True, over=AGAINST_FIXED)),
    Column(CLASSIFIER_COLUMN, f"independent-classifier accuracy: how often {EXTRACTOR} (not the sampled model) "
           f"classifies a sample drawn for class y as y", True, "%",
           reduce=percent(CLASSIFIER_FLAGS, over=GENERATED)),
)


def sampler_protocol(settings, sampler: str) -> str:
    """The sampler part of the protocol, in words (built-in samplers' knobs spelled out)."""
    from benchbed.generative.defaults import DAT_DEFAULTS, JEM_CONDITIONAL_DEFAULTS, JEM_DEFAULTS

    s, o = settings, dict(settings.options)
    if sampler == "sgld":
        return (f"sgld ({s.steps} steps, eta {s.step_size:g}, sigma {s.noise:g}, momentum {s.momentum:g}) from "
                f"{s.seed_kind} seeds")
    if sampler == "jem-sgld":
        k = {**JEM_DEFAULTS, **o}
        start = "the model's own replay buffer where it has one, else U[0, 1]" if k["buffer"] == "model" \
            else "U[0, 1]"
        return (f"jem-sgld (JEM's unconditional SGLD on logsumexp f(x), no clamping: {k['visits']:g} visits per "
                f"buffer slot x {k['steps']} steps, alpha {k['step_size']:g}, sigma {k['noise']:g} on [0, 1] pixels, "
                f"re-init {k['reinit']:g}) from {start}; samples labelled by the model's predicted class")
    if sampler == "jem-sgld-conditional":
        k = {**JEM_CONDITIONAL_DEFAULTS, **o}
        return (f"jem-sgld-conditional ({k['passes']} passes x {k['steps']} steps, alpha {k['step_size']:g}, sigma "
                f"{k['noise']:g}, re-init {k['reinit']:g}, {'f(x)[y]' if k['conditional'] else 'logsumexp f(x)'}, "
                f"clipped every step) from U[0, 1] replay-buffer starts")
    if sampler == "dat-pgd":
        k = {**DAT_DEFAULTS, **o}
        steps = (f"steps chosen by FID among {list(k['select_steps'])} on {k['select_samples']} held-out samples"
                 if k["select_steps"] else f"{k['steps']} steps")
        return f"dat-pgd (L2 ascent of f(x)[y], step {k['step_size']:g}, {steps}) from {s.seed_kind} seeds"
    return f"{sampler} (options {o or 'its defaults'})"


def protocol_text(settings) -> str:
    """Everything a generative number depends on besides the model, in one line (Column.protocol)."""
    if settings.sampler == "model":
        sampler = "each model's own sampler (ModelSpec.sampler, sgld where none): rows differ in protocol, see " \
                  "each model page"
    else:
        sampler = sampler_protocol(settings, settings.sampler)
    return (f"{settings.n_samples:,} samples, balanced over classes; sampler {sampler}; reference: the track's full "
            f"training split; features: {settings.feature_extractor}; IS over 10 splits")


@dataclass(frozen=True)
class GenerativeMetricSpec(MetricSpec):
    """A metric whose column names follow the track's ``generation.column_prefix``."""

    def columns_for(self, track) -> tuple[Column, ...]:
        gen = track.generation
        prefix = gen.column_prefix if gen is not None else ""
        extractor = gen.feature_extractor if gen is not None else "inception-v3-compat"
        label = f"{prefix.rstrip('_')}-" if prefix else ""  # digits_ -> "digits-IS: ..."
        protocol = protocol_text(gen) if gen is not None else ""
        mixed = " (each model's own sampler: compare rows with care)" if gen is not None and gen.sampler == "model" \
            else ""
        columns = [c for c in self.columns
                   if c.name != CLASSIFIER_COLUMN or CLASSIFYING_EXTRACTORS.get(extractor) == track.dataset]
        return tuple(dataclasses.replace(
            c, name=c.name.format(prefix=prefix),
            reduce=dataclasses.replace(c.reduce, inputs=tuple(i.format(prefix=prefix) for i in c.reduce.inputs),
                                       replicates=c.reduce.replicates.format(prefix=prefix)),
            description=(f"{label}{c.name.format(prefix='').upper()}: " if label else "")
            + c.description.replace(EXTRACTOR, extractor) + mixed, protocol=protocol) for c in columns)


def _registered_n_samples(ctx) -> int | None:
    tracks = ctx.registry.tracks
    registered = tracks.get(ctx.track.name) if ctx.track.name in tracks else None
    return registered.generation.n_samples if registered is not None and registered.generation else None


def compute_generative(ctx) -> MetricOutput:
    import numpy as np

    from benchbed.generative.fidelity import compute_fidelity, independent_classifier_accuracy
    from benchbed.generative.grid import GRID_ARRAY, grid_png
    from benchbed.generative.resampling import sample_replicates
    from benchbed.generative.sampling import draw_samples
    from benchbed.generative.sgld import joint_energy

    track = ctx.track
    settings = track.generation
    if settings is None:
        raise ConfigError(f"track {track.name!r} lists the generative metric but has no generation settings: "
                          f"give it GenerationSettings(...) or drop 'generative' from its metrics")
    train = ctx.train_split()

    def generate():
        with ctx.model.phase("inputs evaluated by the sampler"):
            return draw_samples(ctx.model, track, ctx.dataset, ctx.registry, ctx.device, train=train,
                                progress=False, report=ctx.progress, model_spec=ctx.model_spec,
                                cache_dir=ctx.cache_dir)

    samples, labels, stats = ctx.cached("generation", generate)
    stats = dict(stats)
    logits = ctx.logits(samples, "generated samples")
    scores = compute_fidelity(samples, train.images, extractor=settings.feature_extractor, device=ctx.device,
                              dataset=track.dataset, split="train", seed=track.seed,
                              batch_size=settings.batch_size, cache_dir=ctx.cache_dir, report=ctx.progress,
                              keep_features=True)
    replicates, bootstrap = sample_replicates(
        scores.features, isc_splits=scores.info["isc_splits"], seed=track.seed,
        kid_subsets=scores.info["kid_subsets"], kid_subset_size=scores.info["kid_subset_size"], device=ctx.device,
        report=ctx.progress)
    prefix = settings.column_prefix
    classifier = independent_classifier_accuracy(samples, labels, extractor=settings.feature_extractor,
                                                 dataset=track.dataset, device=ctx.device)
    correct = classifier.pop("correct") if classifier is not None else None
    registered = _registered_n_samples(ctx)
    rows = min(ctx.dataset.num_classes, GRID_MAX_ROWS)
    sampler, seed = stats.pop("sampler"), stats.pop("seed")
    uses = ctx.registry.samplers.get(sampler).uses if sampler in ctx.registry.samplers else None
    kept = settings.info_for(uses)  # only what this sampler reads: no seed kind for a seed-free sampler
    info = {
        "n_samples": int(len(samples)),
        "quick": registered is not None and len(samples) < registered,
        "sampler": sampler, "seed": seed,
        # what every number here depends on besides the model (shown on the pages with each number)
        "protocol": {"sampler": sampler, "sampler_protocol": sampler_protocol(settings, sampler),
                     "seed_kind": stats.get("seed_kind", kept.get("seed_kind", "none (the sampler's own starts)")),
                     "seed": seed,
                     "sampler_options": stats.get("options", {}), "n_samples": int(len(samples)),
                     "reference": f"{track.dataset} train split ({len(train)} images)",
                     "feature_extractor": settings.feature_extractor, "isc_splits": scores.info.get("isc_splits"),
                     "track_sampler": settings.sampler},
        "independent_classifier": classifier,
        "settings": kept,
        "inception_score_std": scores.inception_score_std, "kid_std": scores.kid_std,
        # how often the model itself classifies a sample as the class it was drawn for (percent)
        "model_agreement": 100.0 * float((logits.argmax(1) == labels).float().mean()),
        "mean_joint_energy_samples": float(joint_energy(logits, labels).mean()),
        "sampler_stats": stats,
        "fidelity": scores.info,
        # the IS/FID/KID intervals: percentile bootstrap over the generated samples (generative.resampling)
        "bootstrap": bootstrap,
        "grid": {"array": GRID_ARRAY, "format": "png", "rows": rows, "per_class": GRID_PER_CLASS,
                 "row_labels": True},
    }
    grid = grid_png(samples, labels, rows, GRID_PER_CLASS, class_names=tuple(ctx.dataset.class_names))
    arrays = {GRID_ARRAY: np.frombuffer(grid, dtype=np.uint8).copy(),
              f"{prefix}is": np.float64(scores.inception_score), f"{prefix}fid": np.float64(scores.fid),
              f"{prefix}kid": np.float64(scores.kid)}
    for score, values in replicates.items():  # the bootstrap replicates the columns' intervals come from
        arrays[f"{prefix}{score}{RESAMPLED}"] = values.astype(np.float64)
    if correct is not None:
        arrays[CLASSIFIER_FLAGS.format(prefix=prefix)] = correct
    return MetricOutput(arrays=arrays, info=info)


# = benchbed.generative.grid.GRID_ARRAY, which imports torch (a test keeps them equal)
SAMPLE_GRID = "generative_grid_png"


@hookimpl
def register_metrics(register):
    register(GenerativeMetricSpec(
        name="generative", columns=COLUMN_TEMPLATES, compute=compute_generative, scope="model",
        figures=(ArrayPlot(name="samples", kind="image", section="Samples from the classifier",
                           title="class-conditional samples drawn from the classifier",
                           series=(ArraySeries(SAMPLE_GRID, "sample grid (PNG)"),),
                           caption="Class-conditional samples, one row per class (labelled on the left), drawn by",
                           caption_info=("protocol", "sampler_protocol")),),
        requires=("generation", "train"),
        description="IS / FID / KID (torch-fidelity) of class-conditional samples drawn from the classifier by the "
                    "track's sampler (or each model's own), and an independent classifier's accuracy on them where "
                    "the extractor has one; columns take the track's prefix ({prefix}), e.g. digits_fid on digits",
    ))
