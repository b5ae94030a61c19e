"""The ``generative`` metric: IS / FID / KID of class-conditional samples drawn from the classifier.

Column names carry the track's ``generation.column_prefix``: ``digits_is``, ``digits_fid``,
``digits_kid`` on ``digits-linf`` (features from the digits extractor, *not* Inception: never compare
them with Inception numbers), ``is``, ``fid``, ``kid`` on the CIFAR tracks (Inception-v3 features).
The sample grid (one row per class, 8 samples each) is kept with the result as PNG bytes in the
record's ``.npz`` under ``generative_grid_png`` (read it back with
:func:`benchbed.generative.grid.grid_png_from_arrays`); the scores are kept there as 0-d arrays and
reduced with ``scalar``. The metric has ``scope="model"``: computed once per (model, track), whatever
the sharding (it does not depend on the test points).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import ConfigError
from ..hookspecs import hookimpl
from ..reductions import scalar
from ..specs import Column, MetricOutput, MetricSpec

GRID_PER_CLASS = 8
GRID_MAX_ROWS = 10  # datasets with more classes show their first 10

# Names take the track's generation.column_prefix; "the track's extractor" becomes its name per track.
EXTRACTOR = "the track's extractor"
COLUMN_TEMPLATES = (
    Column("{prefix}is", f"Inception Score of the class-conditional samples (logits of {EXTRACTOR})", True, "",
           reduce=scalar("{prefix}is"), headline=True),
    Column("{prefix}fid", f"FID of the samples against the track's training set (features of {EXTRACTOR})",
           False, "", reduce=scalar("{prefix}fid"), headline=True, plot="x"),
    Column("{prefix}kid", f"KID (polynomial-kernel MMD^2, mean over subsets) of the samples against the track's "
           f"training set (features of {EXTRACTOR})", False, "", reduce=scalar("{prefix}kid")),
)


@dataclass(frozen=True)
class GenerativeMetricSpec(MetricSpec):
    """A metric whose column names follow the track's ``generation.column_prefix``."""

    def columns_for(self, track) -> tuple[Column, ...]:
        gen = track.generation
        prefix = gen.column_prefix if gen is not None else ""
        extractor = gen.feature_extractor if gen is not None else "inception-v3-compat"
        label = f"{prefix.rstrip('_')}-" if prefix else ""  # digits_ -> "digits-IS: ..."
        return tuple(dataclasses.replace(
            c, name=c.name.format(prefix=prefix),
            reduce=dataclasses.replace(c.reduce, inputs=tuple(i.format(prefix=prefix) for i in c.reduce.inputs)),
            description=(f"{label}{c.name.format(prefix='').upper()}: " if label else "")
            + c.description.replace(EXTRACTOR, extractor)) for c in self.columns)


def _registered_n_samples(ctx) -> int | None:
    tracks = ctx.registry.tracks
    registered = tracks.get(ctx.track.name) if ctx.track.name in tracks else None
    return registered.generation.n_samples if registered is not None and registered.generation else None


def compute_generative(ctx) -> MetricOutput:
    import numpy as np

    from ..generative.fidelity import compute_fidelity
    from ..generative.grid import GRID_ARRAY, grid_png
    from ..generative.sampling import draw_samples
    from ..generative.sgld import joint_energy

    track = ctx.track
    settings = track.generation
    if settings is None:
        raise ConfigError(f"track {track.name!r} lists the generative metric but has no generation settings: "
                          f"give it GenerationSettings(...) or drop 'generative' from its metrics")
    train = ctx.train_split()

    def generate():
        with ctx.model.phase("inputs evaluated by the sampler"):
            return draw_samples(ctx.model, track, ctx.dataset, ctx.registry, ctx.device, train=train,
                                progress=False, report=ctx.progress)

    samples, labels, stats = ctx.cached("generation", generate)
    stats = dict(stats)
    logits = ctx.logits(samples, "generated samples")
    scores = compute_fidelity(samples, train.images, extractor=settings.feature_extractor, device=ctx.device,
                              dataset=track.dataset, split="train", seed=track.seed,
                              batch_size=settings.batch_size, cache_dir=ctx.cache_dir, report=ctx.progress)
    prefix = settings.column_prefix
    registered = _registered_n_samples(ctx)
    rows = min(ctx.dataset.num_classes, GRID_MAX_ROWS)
    info = {
        "n_samples": int(len(samples)),
        "quick": registered is not None and len(samples) < registered,
        "sampler": stats.pop("sampler"), "seed": stats.pop("seed"),
        "settings": dataclasses.asdict(settings),
        "inception_score_std": scores.inception_score_std, "kid_std": scores.kid_std,
        # how often the model itself classifies a sample as the class it was drawn for (percent)
        "model_agreement": 100.0 * float((logits.argmax(1) == labels).float().mean()),
        "mean_joint_energy_samples": float(joint_energy(logits, labels).mean()),
        "sampler_stats": stats,
        "fidelity": scores.info,
        "grid": {"array": GRID_ARRAY, "format": "png", "rows": rows, "per_class": GRID_PER_CLASS},
    }
    grid = grid_png(samples, labels, rows, GRID_PER_CLASS)
    return MetricOutput(
        arrays={GRID_ARRAY: np.frombuffer(grid, dtype=np.uint8).copy(),
                f"{prefix}is": np.float64(scores.inception_score), f"{prefix}fid": np.float64(scores.fid),
                f"{prefix}kid": np.float64(scores.kid)},
        info=info,
    )


@hookimpl
def register_metrics(register):
    register(GenerativeMetricSpec(
        name="generative", columns=COLUMN_TEMPLATES, compute=compute_generative, scope="model",
        requires=("generation", "train"),
        description="IS / FID / KID (torch-fidelity) of class-conditional samples drawn from the classifier by SGLD "
                    "on its joint energy; columns take the track's prefix ({prefix}), e.g. digits_fid on digits",
    ))
