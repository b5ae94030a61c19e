"""Plugin discovery: built-ins, installed distributions (entry-point group ``benchbed``) and local files.

Built-in datasets, attacks, metrics, samplers, tracks, executors, exporters, observers, studies
and CLI commands are plugins registered exactly like external ones (:data:`DEFAULT_PLUGINS`). Which
external plugins load is a :class:`PluginSelection`: read once from ``BENCHBED_PLUGINS`` (a
comma-separated list of entry-point or distribution names; empty: none) and ``BENCHBED_PLUGIN_FILES``
(local ``.py`` files, separated by ``os.pathsep``) at the top of a process, then passed explicitly --
to Ray workers too. A plugin that fails to import, whose hook raises, or that registers an object
of the wrong type or with an invalid or duplicate name is marked broken with one line saying why,
and contributes nothing; every other plugin still loads.
"""
from __future__ import annotations

import importlib
import importlib.metadata as md
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from benchbed._version import __version__
from benchbed.contracts import hookspecs
from benchbed.contracts.errors import BenchbedError, describe_error
from benchbed.contracts.kinds import KINDS, RENAMED, SPEC_TYPES, KindTable  # noqa: F401  (RENAMED: re-exported)
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
    name_problem,
)

ENTRY_POINT_GROUP = "benchbed"
ENV_ALLOW = "BENCHBED_PLUGINS"
ENV_FILES = "BENCHBED_PLUGIN_FILES"

DEFAULT_PLUGINS = (
    "benchbed.builtin.datasets",
    "benchbed.builtin.attacks",
    "benchbed.builtin.study_attacks",
    "benchbed.builtin.metrics",
    "benchbed.builtin.energy",
    "benchbed.builtin.detection",
    "benchbed.builtin.corruption_metric",
    "benchbed.builtin.generative",
    "benchbed.builtin.samplers",
    "benchbed.builtin.tracks",
    "benchbed.builtin.executors",
    "benchbed.builtin.exporters",
    "benchbed.builtin.observers",
    "benchbed.builtin.studies",
    "benchbed.builtin.commands",
)


@dataclass(frozen=True)
class PluginSelection:
    """Which external plugins a process loads: an allow-list (None: all installed) and local files."""

    allow: tuple[str, ...] | None = None
    files: tuple[str, ...] = ()

    @classmethod
    def from_environment(cls, extra_files: tuple[str, ...] = ()) -> PluginSelection:
        allow = os.environ.get(ENV_ALLOW)
        names = None if allow is None else tuple(n.strip() for n in allow.split(",") if n.strip())
        files = tuple(f for f in os.environ.get(ENV_FILES, "").split(os.pathsep) if f)
        return cls(names, tuple(str(Path(f).resolve()) for f in files + tuple(extra_files)))

    def allows(self, ep: md.EntryPoint) -> bool:
        if self.allow is None:
            return True
        dist = ep.dist.name if ep.dist else ""
        return ep.name in self.allow or dist in self.allow


@dataclass
class PluginInfo:
    name: str
    distribution: str
    version: str
    builtin: bool = False
    error: str | None = None  # set when the plugin is broken
    provides: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    def provenance(self) -> dict[str, str]:
        return {"plugin": self.name, "distribution": self.distribution, "version": self.version}


def _file_version(path: Path) -> str:
    """A local plugin file's version: the sha256 of its content (editing it changes the cache key)."""
    from benchbed.results.provenance import sha256_file

    return f"sha256:{sha256_file(path)[:16]}"


def _importable_beside(path: Path) -> None:
    """Make what sits beside a plugin file importable, as Python does for a script: modules in its folder
    by name, and, for a file inside a package (``pkg/plugin.py``), the package by its absolute name."""
    root = path.parent
    while (root / "__init__.py").is_file():
        root = root.parent
    for folder in dict.fromkeys((str(path.parent), str(root))):
        if folder not in sys.path:
            sys.path.append(folder)


class PluginHost:
    """Owns the pluggy manager and what each plugin registered."""

    def __init__(self, selection: PluginSelection | None = None, *, load_external: bool = True):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.selection = selection if selection is not None else PluginSelection.from_environment()
        version = __version__
        for module_name in DEFAULT_PLUGINS:
            module = importlib.import_module(module_name)
            self.pm.register(module, name=module_name)
            self.infos[module_name] = PluginInfo(module_name, "benchbed", version, builtin=True)
        if load_external:
            self._load_entry_points()
            for path in self.selection.files:
                self.load_file(path)
        self._registry: Registry | None = None

    # -- discovery -------------------------------------------------------------------------------
    def _load_entry_points(self) -> None:
        for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if not self.selection.allows(ep) or ep.name in self.infos:
                continue
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            info = PluginInfo(ep.name, dist, version)
            self.infos[ep.name] = info
            try:
                self.pm.register(ep.load(), name=ep.name)
            except Exception as exc:  # one broken plugin must not take down the others
                info.error = describe_error(exc)

    def load_file(self, path: str | os.PathLike) -> PluginInfo:
        """Load a plugin from a local ``.py`` file (no packaging needed)."""
        path = Path(path).resolve()
        name = f"file:{path.name}"
        if name in self.infos and self.infos[name].distribution == str(path):
            return self.infos[name]
        info = PluginInfo(name, str(path), "local")
        self.infos[name] = info
        try:
            if not path.is_file():
                raise BenchbedError(f"plugin file {path} does not exist: check the path")
            info.version = _file_version(path)
            _importable_beside(path)
            spec = importlib.util.spec_from_file_location(f"benchbed_local_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            self.pm.register(module, name=name)
        except Exception as exc:
            info.error = describe_error(exc)
        if str(path) not in self.selection.files:
            self.selection = PluginSelection(self.selection.allow, (*self.selection.files, str(path)))
        self._registry = None
        return info

    def register(self, plugin: Any, name: str) -> None:
        """Register an in-process plugin object (tests, notebooks)."""
        self.pm.register(plugin, name=name)
        self.infos[name] = PluginInfo(name, "(in-process)", "in-process")
        self._registry = None

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.infos.pop(name, None)
        self._registry = None

    def emptiness(self, name: str) -> str | None:
        """Why plugin ``name`` contributes nothing (None when it registers something, is broken or built in)."""
        info = self.infos.get(name)
        if info is None or info.builtin or not info.ok or info.provides:
            return None
        plugin = self.pm.get_plugin(name)
        hooks = sorted(c.name for c in (self.pm.get_hookcallers(plugin) or ())) if plugin is not None else []
        if "register_commands" in hooks:
            return None
        if not hooks:
            return ("registers nothing: it defines no benchbed hook (functions named register_models, "
                    "register_datasets, ... decorated with @hookimpl from benchbed.plugin)")
        return f"registers nothing: its hooks ({', '.join(hooks)}) ran but never called register(...)"

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry.collect(self)
        return self._registry


class Registry:
    """Everything the plugins registered, one typed :class:`KindTable` per plugin kind
    (:data:`benchbed.contracts.kinds.KINDS`; the annotations below are for readers and type checkers)."""

    datasets: KindTable[DatasetSpec]
    models: KindTable[ModelSpec]
    attacks: KindTable[AttackSpec]
    metrics: KindTable[MetricSpec]
    tracks: KindTable[TrackSpec]
    samplers: KindTable[SamplerSpec]
    executors: KindTable[ExecutorSpec]
    exporters: KindTable[ExporterSpec]
    observers: KindTable[ObserverSpec]
    studies: KindTable[StudySpec]

    def __init__(self):
        for plugin_kind in KINDS:
            setattr(self, plugin_kind.name, KindTable(plugin_kind.name, plugin_kind.spec_type))
        self.problems: list[str] = []
        self.infos: dict[str, PluginInfo] = {}

    def table(self, kind: str) -> KindTable:
        return getattr(self, kind)

    @classmethod
    def collect(cls, host: PluginHost) -> Registry:
        """Call every plugin's register hooks; a plugin's objects are added only if all its hooks succeed.

        Every hook of a plugin runs even after one fails, so that its author sees all of its problems
        at once (one line, problems separated by " | ")."""
        reg = cls()
        reg.infos = host.infos
        staged: dict[str, list[tuple[str, Any]]] = {}  # plugin -> [(kind, object)] in call order
        order: list[str] = []
        broken: dict[str, list[str]] = {}
        for plugin_kind in KINDS:
            kind = plugin_kind.name
            hook = getattr(host.pm.hook, plugin_kind.hook_name)
            for impl in hook.get_hookimpls():  # registration order: built-ins first
                plugin = impl.plugin_name
                info = host.infos.get(plugin)
                if info is not None and not info.ok:
                    continue
                if plugin not in staged:
                    staged[plugin] = []
                    order.append(plugin)
                found: list[Any] = []
                try:
                    impl.function(register=found.append)
                except Exception as exc:
                    broken.setdefault(plugin, []).append(f"register_{kind} failed: {describe_error(exc)}")
                    continue
                checked = [(obj, reg._object_problem(kind, obj)) for obj in found]
                broken.setdefault(plugin, []).extend(problem for _, problem in checked if problem)
                staged[plugin].extend((kind, obj) for obj, problem in checked if not problem)
        for plugin in order:
            problems = broken.get(plugin, []) + reg._duplicates(staged[plugin], plugin)
            if problems:
                reg._broken(host, plugin, " | ".join(problems))
                continue
            for kind, obj in staged[plugin]:
                reg._add(host, kind, obj, plugin)
        return reg

    @staticmethod
    def _object_problem(kind: str, obj: Any) -> str | None:
        expected = SPEC_TYPES[kind]
        if not isinstance(obj, expected):
            return (f"register_{kind} registered a {type(obj).__name__}, not a {expected.__name__}: pass "
                    f"{expected.__name__}(...) objects to this hook")
        problem = name_problem(getattr(obj, "name", None))
        if problem:
            return f"register_{kind} registered a {kind[:-1]} with an invalid name: {problem}"
        return None

    def _duplicates(self, objects: list[tuple[str, Any]], plugin: str) -> list[str]:
        problems: list[str] = []
        seen: set[tuple[str, str]] = set()
        for kind, obj in objects:
            table = self.table(kind)
            if obj.name in table:
                problems.append(f"duplicate {kind[:-1]} name {obj.name!r}: registered by both "
                                f"{table.source(obj.name)!r} and {plugin!r}; rename one of them or uninstall "
                                f"one plugin")
            elif (kind, obj.name) in seen:
                problems.append(f"registers the {kind[:-1]} name {obj.name!r} twice")
            seen.add((kind, obj.name))
        return problems

    def _broken(self, host: PluginHost, plugin: str, message: str) -> None:
        info = host.infos.get(plugin)
        if info is not None and info.error is None:
            info.error = message
        self.problems.append(f"plugin {plugin!r}: {message}")

    def _add(self, host: PluginHost, kind: str, obj: Any, plugin: str) -> None:
        table = self.table(kind)
        table._items[obj.name] = obj
        table._sources[obj.name] = plugin
        info = host.infos.get(plugin)
        if info is not None:
            info.provides.setdefault(kind, []).append(obj.name)

    def with_model(self, spec: ModelSpec, source: str) -> Registry:
        """A copy of this registry with one more model (``benchbed.evaluate`` of an unregistered module)."""
        import copy

        other = copy.copy(self)
        other.models = copy.copy(self.models)
        other.models._items = {**self.models._items, spec.name: spec}
        other.models._sources = {**self.models._sources, spec.name: source}
        other.infos = {**self.infos, source: PluginInfo(source, "(in-process)", "in-process")}
        return other

    # -- lookups ---------------------------------------------------------------------------------
    def models_for(self, track: TrackSpec) -> list[ModelSpec]:
        """Models registered for a track: same dataset, and they claim the track's threat model."""
        return [m for m in self.models if m.dataset == track.dataset and track.norm in m.threat_models]

    def provenance(self, kind: str, name: str) -> dict[str, str]:
        """Which plugin (distribution, version) registered ``name`` of ``kind``."""
        plugin = self.table(kind).source(name)
        info = self.infos.get(plugin)
        return info.provenance() if info is not None else {"plugin": plugin, "distribution": "?", "version": "?"}


_HOST: PluginHost | None = None


def host() -> PluginHost:
    global _HOST
    if _HOST is None:
        _HOST = PluginHost()
    return _HOST


def registry() -> Registry:
    return host().registry


def reset() -> None:
    """Forget loaded plugins (the next call rediscovers them)."""
    global _HOST
    _HOST = None
