"""Hook specifications: one ``register_*`` hook per plugin kind, plus ``register_commands``.

A plugin is a module (or object) with functions named after these hooks, marked with
:data:`hookimpl`; benchbed finds it through the entry-point group ``benchbed``, a ``--plugin FILE``,
or its built-in list (built-ins register exactly like everyone else). Each ``register_*`` hook is
called once with a ``register`` callback and calls it once per object it provides::

    from benchbed.plugin import ModelSpec, hookimpl

    @hookimpl
    def register_models(register):
        register(ModelSpec(name="my-model", ...))

``register`` checks the object's type (a ``register_models`` hook can only register a
:class:`~benchbed.contracts.specs.ModelSpec`) and its name (:func:`benchbed.contracts.specs.check_name`); a plugin whose
hook raises, or that registers something invalid, is marked broken and contributes nothing at all.
"""
from __future__ import annotations

import pluggy

PROJECT = "benchbed"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_datasets(register):
    """Register :class:`~benchbed.contracts.specs.DatasetSpec` objects: a loader of a split as images in [0, 1]
    (N, C, H, W) with int64 labels, in a fixed order, and optionally a cheap ``check`` of the files."""


@hookspec
def register_models(register):
    """Register :class:`~benchbed.contracts.specs.ModelSpec` objects: metadata and ``loader(device)`` returning an
    ``nn.Module`` that maps [0, 1] images to logits (normalisation inside)."""


@hookspec
def register_attacks(register):
    """Register :class:`~benchbed.contracts.specs.AttackSpec` objects: ``run(AttackRequest) -> AttackResult`` with
    adversarial points, robust flags and, optionally, semantic iterates (``untargeted``, ``targeted``)."""


@hookspec
def register_metrics(register):
    """Register :class:`~benchbed.contracts.specs.MetricSpec` objects: ``compute(ctx) -> MetricOutput`` (per-point
    arrays + info); each :class:`~benchbed.contracts.specs.Column` declares the reduction that makes its number."""


@hookspec
def register_tracks(register):
    """Register :class:`~benchbed.contracts.specs.TrackSpec` objects: dataset, threat model, eps, points, attack,
    metrics and generation settings."""


@hookspec
def register_samplers(register):
    """Register :class:`~benchbed.contracts.specs.SamplerSpec` objects: ``sample(SampleRequest) -> images`` drawing
    class-conditional samples from a classifier (seed + update rule)."""


@hookspec
def register_executors(register):
    """Register :class:`~benchbed.contracts.specs.ExecutorSpec` objects: where units run (``local``, ``ray``, ...)."""


@hookspec
def register_exporters(register):
    """Register :class:`~benchbed.contracts.specs.ExporterSpec` objects: formats of ``benchbed results --format``."""


@hookspec
def register_observers(register):
    """Register :class:`~benchbed.contracts.specs.ObserverSpec` objects: callbacks that see every event of every run
    (unit started, progress, unit done or failed, run end); the progress display and the run log are
    observers too."""


@hookspec
def register_studies(register):
    """Register :class:`~benchbed.contracts.specs.StudySpec` objects: experiments of one model beyond a track's
    columns (``benchbed study NAME``), with declared options, a ``run`` storing a study result, and the
    figures the model page draws from it."""


@hookspec
def register_commands(subparsers):
    """Add sub-commands to the ``benchbed`` CLI: ``subparsers`` is argparse's sub-parser action. Set
    ``func=callable(args) -> int`` as the parser's default (``p.set_defaults(func=...)``)."""


# The register hooks, by plugin kind (the keys of benchbed.contracts.specs.SPEC_TYPES).
KINDS = ("datasets", "models", "attacks", "metrics", "tracks", "samplers", "executors", "exporters", "observers",
         "studies")
