"""The one list of plugin kinds: each kind's name, the spec type it registers, its hook and what it is for.

The hook specifications (:mod:`benchbed.contracts.hookspecs`), the registry's typed tables
(:class:`benchbed.registry.Registry`) and ``benchbed plugins --kinds`` are all derived from
:data:`KINDS`, so adding a kind is one :class:`PluginKind` line here (plus its spec type).
"""
from __future__ import annotations

from dataclasses import dataclass

from benchbed.contracts.specs import (
    AttackSpec,
    DatasetSpec,
    ExecutorSpec,
    ExporterSpec,
    MetricSpec,
    ModelSpec,
    ObserverSpec,
    SamplerSpec,
    StudySpec,
    TrackSpec,
)


@dataclass(frozen=True)
class PluginKind:
    """One kind of plugin object: ``register_<name>(register)`` registers ``spec_type`` objects."""

    name: str  # plural, the registry table's attribute: "models"
    spec_type: type
    doc: str  # what a plugin registers under this kind (the hook's docstring)

    @property
    def hook_name(self) -> str:
        return f"register_{self.name}"

    @property
    def singular(self) -> str:
        return self.name[:-1]


KINDS: tuple[PluginKind, ...] = (
    PluginKind("datasets", DatasetSpec, "a loader of a split as images in [0, 1] (N, C, H, W) with int64 labels, "
               "in a fixed order, and optionally a cheap ``check`` of the files"),
    PluginKind("models", ModelSpec, "metadata and ``loader(device)`` returning an ``nn.Module`` that maps [0, 1] "
               "images to logits (normalisation inside)"),
    PluginKind("attacks", AttackSpec, "``run(AttackRequest) -> AttackResult`` with adversarial points, robust flags "
               "and, optionally, semantic iterates (``untargeted``, ``targeted``)"),
    PluginKind("metrics", MetricSpec, "``compute(ctx) -> MetricOutput`` (per-point arrays + info); each ``Column`` "
               "declares the reduction that makes its number"),
    PluginKind("tracks", TrackSpec, "dataset, threat model, eps, points, attack, metrics and generation settings"),
    PluginKind("samplers", SamplerSpec, "``sample(SampleRequest) -> images`` drawing class-conditional samples from "
               "a classifier (seed + update rule)"),
    PluginKind("executors", ExecutorSpec, "where units run (``local``, ``ray``, ...)"),
    PluginKind("exporters", ExporterSpec, "formats of ``benchbed results --format``"),
    PluginKind("observers", ObserverSpec, "callbacks that see every typed event of every run (unit started, "
               "progress, unit done or failed, run end); the progress display and the run log are observers too"),
    PluginKind("studies", StudySpec, "experiments of one model beyond a track's columns (``benchbed study NAME``), "
               "with declared options, a ``run`` storing a study result, and the figures the model page draws "
               "from it"),
)

KIND_NAMES: tuple[str, ...] = tuple(k.name for k in KINDS)
SPEC_TYPES: dict[str, type] = {k.name: k.spec_type for k in KINDS}  # plugin kind -> the spec type it registers


def kind(name: str) -> PluginKind:
    for k in KINDS:
        if k.name == name:
            return k
    raise KeyError(f"no plugin kind {name!r}: the kinds are {', '.join(KIND_NAMES)}")
