"""The generation study: IS / FID / KID and the mean joint energy of a model's samples as a function of the
number of sampler steps, for several seed kinds and samplers (the joint-model papers' ablations).

Every (sampler, seed kind, steps) cell is an independent draw of ``n`` samples with the track's settings
and only the step count changed: ``settings.steps`` for ``sgld``; the ``steps`` option for ``dat-pgd``;
for ``jem-sgld`` one visit per slot on average of ``steps`` steps from U[0, 1] noise (``visits=1``,
``reinit=0``, ``buffer="uniform"``: plain chains), for ``jem-sgld-conditional`` one pass of ``steps``
steps (``passes=1``); for both the seed kind does not apply (swept once, seed kind "uniform"). The result is a
:class:`benchbed.results.record.StudyResult` of kind ``generation`` (one row per cell), stored beside the
track's records and drawn on the model page as curves.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import time
from typing import Any

from benchbed.contracts.errors import ConfigError
from benchbed.contracts.specs import GenerationSettings
from benchbed.contracts.studies import StudyArgument
from benchbed.results.record import ColumnInfo, StudyResult

KIND = "generation"
TITLE = "generation: sample quality and energy against sampler steps"
DEFAULT_STEPS = (0, 5, 10, 20, 35, 50)
DESCRIPTION = "sample quality (IS/FID/KID) and mean energy against sampler steps, per seed kind and sampler"
ARGUMENTS = (
    StudyArgument("samplers", str, None, many=True, help="samplers (default: the track's and the model's own)"),
    StudyArgument("seed_kinds", str, None, many=True, help="seed kinds (default: pca,gaussian,uniform)"),
    StudyArgument("steps", int, None, many=True, help="step counts (default: 0,5,10,20,35,50)"),
    StudyArgument("n", int, None, help="samples per cell (default: the track's n_samples; at least 10)"),
)
NOTE = ("Each line is one sampler started from one seed kind; each point an independent draw of the samples with "
        "that many sampler steps, scored against the track's full training split. x: sampler steps per sample; "
        "y: the panel's quantity (units in its axis label). Hover a point for its value.")
# samplers that bring their own starts: the seed kind is not swept
OWN_SEEDS = {"jem-sgld": "uniform", "jem-sgld-conditional": "uniform"}


def settings_for(settings: GenerationSettings, sampler: str, seed_kind: str, steps: int) -> GenerationSettings:
    """The track's settings with this cell's sampler, seed kind and step count (see the module doc)."""
    options: dict[str, Any] = {}
    if sampler == settings.sampler_for(None) or sampler == settings.sampler:
        options = dict(settings.options)  # the track's own knobs for its own sampler
    if sampler == "jem-sgld":
        options.update(steps=steps, visits=1, reinit=0.0, buffer="uniform")
    elif sampler == "jem-sgld-conditional":
        options.update(steps=steps, passes=1)
    elif sampler != "sgld":
        options["steps"] = steps
    return dataclasses.replace(settings, sampler=sampler, seed_kind=seed_kind, steps=steps, options=options)


def _columns(prefix: str, extractor: str, classifier: bool) -> dict[str, ColumnInfo]:
    def col(order, description, hib, unit=""):
        return ColumnInfo(metric=KIND, description=description, higher_is_better=hib, unit=unit, order=order)

    cols = {
        "sampler": col(0, "the sampler", None),
        "seed_kind": col(1, "where the chains start (pca / gaussian / uniform)", None),
        "steps": col(2, "sampler steps per sample (gradient evaluations)", None, "count"),
        f"{prefix}is": col(3, f"Inception Score of the samples (logits of {extractor}, 10 splits)", True),
        f"{prefix}fid": col(4, f"FID against the track's full training split (features of {extractor})", False),
        f"{prefix}kid": col(5, f"KID against the track's full training split (features of {extractor})", False),
        "mean_joint_energy": col(6, "mean joint energy E(x, y) = -f(x)[y] of the samples", False, "energy"),
        "wall_s": col(8, "seconds to draw the samples", None, "s"),
    }
    if classifier:
        cols[f"{prefix}class_acc"] = col(7, f"how often {extractor} classifies a sample of class y as y", True, "%")
    return cols


def _cell(model, model_spec, track, registry, dataset, train, device, n, cache_dir, row) -> dict[str, Any]:
    """One cell of the sweep: ``n`` samples drawn with the cell's settings, scored; ``row`` completed."""
    import torch

    from benchbed.generative.fidelity import compute_fidelity, independent_classifier_accuracy
    from benchbed.generative.sampling import draw_samples
    from benchbed.generative.sgld import joint_energy

    settings, prefix = track.generation, track.generation.column_prefix
    t0 = time.perf_counter()
    samples, labels, _ = draw_samples(model, track, dataset, registry, device, n=n, train=train, progress=False,
                                      model_spec=model_spec, cache_dir=cache_dir)
    wall = time.perf_counter() - t0
    with torch.no_grad():
        energy = float(torch.cat([joint_energy(model(samples[j:j + 500].to(device)), labels[j:j + 500].to(device)).cpu()
                                  for j in range(0, n, 500)]).mean())
    scores = compute_fidelity(samples, train.images, extractor=settings.feature_extractor, device=device,
                              dataset=track.dataset, split="train", seed=track.seed, batch_size=settings.batch_size,
                              cache_dir=cache_dir)
    row = {**row, f"{prefix}is": scores.inception_score, f"{prefix}fid": scores.fid, f"{prefix}kid": scores.kid,
           "mean_joint_energy": energy, "wall_s": round(wall, 3)}
    acc = independent_classifier_accuracy(samples, labels, extractor=settings.feature_extractor,
                                          dataset=track.dataset, device=device)
    if acc is not None:
        row[f"{prefix}class_acc"] = acc["accuracy"]
    return row


def run_generation_study(model_spec, track, registry, *, samplers: list[str] | None = None,
                         seed_kinds: list[str] | None = None, steps: list[int] | None = None, n: int | None = None,
                         device="cpu", data_dir=None, cache_dir=None, report=None) -> StudyResult:
    """Sweep (sampler x seed kind x steps) for one model on one track; returns the study (not stored)."""
    import torch

    from benchbed.engine.devices import device_name
    from benchbed.engine.evaluation import load_model
    from benchbed.generative.seeds import SEED_KINDS
    from benchbed.results.provenance import library_versions, stable_hash, state_dict_sha256

    settings = track.generation
    if settings is None:
        raise ConfigError(f"track {track.name!r} has no generation settings: pick a track that generates samples")
    samplers = list(samplers or dict.fromkeys([settings.sampler_for(model_spec), settings.sampler_for(None),
                                               *([model_spec.sampler] if model_spec.sampler else [])]))
    seed_kinds = list(seed_kinds or SEED_KINDS)
    steps = sorted({int(k) for k in (steps if steps is not None else DEFAULT_STEPS)})
    for name in samplers:
        registry.samplers.get(name)  # an unknown sampler: one line naming the registered ones
    for kind in seed_kinds:
        if kind not in SEED_KINDS:
            raise ConfigError(f"unknown seed kind {kind!r}: use some of {', '.join(SEED_KINDS)}")
    if any(k < 0 for k in steps):
        raise ConfigError(f"--steps must be >= 0, got {steps}")
    n = int(n or settings.n_samples)
    dataset = registry.datasets.get(track.dataset)
    train = dataset.load("train", data_dir)
    device = torch.device(device)
    model = load_model(model_spec, device)
    report = report or (lambda message: None)
    prefix = settings.column_prefix
    start, rows = time.perf_counter(), []
    cells = [(s, k) for s in samplers for k in ([OWN_SEEDS[s]] if s in OWN_SEEDS else seed_kinds)]
    for i, (sampler, kind) in enumerate(cells):
        for k in steps:
            report(f"generation study: {sampler} from {kind} seeds, {k} steps (cell {i + 1}/{len(cells)})")
            cell_track = track.replace(generation=settings_for(settings, sampler, kind, k))
            rows.append(_cell(model, model_spec, cell_track, registry, dataset, train, device, n, cache_dir,
                              {"sampler": sampler, "seed_kind": kind, "steps": k}))
    best = min(rows, key=lambda r: r[f"{prefix}fid"])
    summary = {"best_fid": best[f"{prefix}fid"],
               "best_cell": f"{best['sampler']} from {best['seed_kind']} seeds, {best['steps']} steps"}
    params = {"samplers": ", ".join(samplers), "seed_kinds": ", ".join(seed_kinds),
              "steps": ", ".join(map(str, steps)), "n_samples": n, "feature_extractor": settings.feature_extractor,
              "reference": f"{track.dataset} train split ({len(train)} images)", "seed": track.seed}
    versions = library_versions()
    plugins = {f"sampler:{s}": registry.provenance("samplers", s) for s in samplers}
    plugins["model"] = registry.provenance("models", model_spec.name)
    weights = state_dict_sha256(model)
    key = stable_hash({"kind": KIND, "model": model_spec.name, "weights": weights, "track": track.key_info(),
                       "params": params, "versions": versions})
    return StudyResult(
        kind=KIND, model=model_spec.name, track=track.name, params=params, rows=tuple(rows),
        columns=_columns(prefix, settings.feature_extractor, any(f"{prefix}class_acc" in r for r in rows)),
        summary=summary, arrays=(), weights_sha256=weights, checkpoint_sha256=model_spec.checkpoint_sha256,
        versions=versions, plugins=plugins, model_info=model_spec.info(), track_info=track.info(), key=key,
        device=device_name(device), wall_time_s=round(time.perf_counter() - start, 3),
        finished_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))


def run_study(request) -> tuple[StudyResult, dict]:
    """``benchbed study generation``: the sweep on the model's track (default: its dataset's default track)."""
    from benchbed.engine.devices import resolve_device
    from benchbed.studies.common import pick_track

    registry, options = request.registry, request.options
    model_spec = registry.models.get(request.model)
    track = pick_track(registry, model_spec, request.track)
    n = options.get("n")
    if n is not None and n < 10:
        raise ConfigError(f"--n must be at least 10 (the Inception Score's 10 splits), got {n}")
    study = run_generation_study(model_spec, track, registry, samplers=options.get("samplers"),
                                 seed_kinds=options.get("seed_kinds"), steps=options.get("steps"), n=n,
                                 device=resolve_device(request.device), data_dir=request.data_dir,
                                 report=request.progress)
    return study, {}
