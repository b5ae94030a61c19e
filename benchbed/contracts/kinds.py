"""The one list of plugin kinds: each kind's name, the spec type it registers, its hook and what it is for.

:class:`KindTable` holds the registered objects of one kind (the registry has one per kind).

The hook specifications (:mod:`benchbed.contracts.hookspecs`), the registry's typed tables
(:class:`benchbed.registry.Registry`) and ``benchbed plugins --kinds`` are all derived from
:data:`KINDS`, so adding a kind is one :class:`PluginKind` line here (plus its spec type).
"""
from __future__ import annotations

import fnmatch
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from benchbed.contracts.errors import UnknownNameError
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



S = TypeVar("S")

# Built-in names renamed in 0.3.0, by kind: old -> new. ``get`` still answers the old name (with a
# DeprecationWarning) for one minor version; listings show only the new one.
RENAMED = {
    "tracks": {"cifar10-l2-gen50k": "cifar10-l2-joint50k"},  # it is not DAT's protocol (docs/science.md)
}


class KindTable(Generic[S]):
    """The registered objects of one kind, by stable name; lookups are typed."""

    def __init__(self, kind: str, spec_type: type[S]):
        self.kind = kind
        self.spec_type = spec_type
        self._items: dict[str, S] = {}
        self._sources: dict[str, str] = {}

    @property
    def singular(self) -> str:
        return self.kind[:-1]

    def get(self, name: str) -> S:
        if name not in self._items:
            new = RENAMED.get(self.kind, {}).get(name)
            if new in self._items:
                warnings.warn(f"{self.singular} {name!r} was renamed {new!r} in benchbed 0.3.0; the old name goes "
                              f"away in 0.4", DeprecationWarning, stacklevel=2)
                return self._items[new]
            raise UnknownNameError(self.singular, name, self._items)
        return self._items[name]

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._items if fnmatch.fnmatchcase(n, pattern))

    def source(self, name: str) -> str:
        """The plugin that registered ``name``."""
        self.get(name)
        return self._sources[name]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[S]:
        return iter(self._items[n] for n in sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)
