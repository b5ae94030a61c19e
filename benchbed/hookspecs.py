"""Hook specifications: one ``register_*`` hook per plugin kind.

Each hook receives a ``register`` callback and calls it once per object it provides::

    @benchbed.hookimpl
    def register_models(register):
        register(ModelSpec(name="my-model", ...))
"""
from __future__ import annotations

import pluggy

PROJECT = "benchbed"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_datasets(register):
    """Register :class:`benchbed.specs.DatasetSpec` objects."""


@hookspec
def register_models(register):
    """Register :class:`benchbed.specs.ModelSpec` objects."""


@hookspec
def register_attacks(register):
    """Register :class:`benchbed.specs.AttackSpec` objects."""


@hookspec
def register_metrics(register):
    """Register :class:`benchbed.specs.MetricSpec` objects."""


@hookspec
def register_tracks(register):
    """Register :class:`benchbed.specs.TrackSpec` objects."""


@hookspec
def register_samplers(register):
    """Register :class:`benchbed.specs.SamplerSpec` objects (seed + update rule for generation)."""


KINDS = ("datasets", "models", "attacks", "metrics", "tracks", "samplers")
