"""Plugin discovery: built-ins, installed distributions (entry-point group ``benchbed``) and local files.

Built-in datasets, attacks, metrics, samplers and tracks are registered exactly like external
plugins. ``BENCHBED_PLUGINS`` limits which external plugins load: a comma-separated list of
entry-point or distribution names; set it empty to load none. ``BENCHBED_PLUGIN_FILES`` adds
local ``.py`` files (separated by ``os.pathsep``). A plugin that fails to import or register is
recorded with its error and skipped; every other plugin still loads.
"""
from __future__ import annotations

import fnmatch
import importlib
import importlib.metadata as md
import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from . import hookspecs
from .errors import BenchbedError, UnknownNameError

ENTRY_POINT_GROUP = "benchbed"
ENV_ALLOW = "BENCHBED_PLUGINS"
ENV_FILES = "BENCHBED_PLUGIN_FILES"

DEFAULT_PLUGINS = (
    "benchbed.builtin.datasets",
    "benchbed.builtin.attacks",
    "benchbed.builtin.metrics",
    "benchbed.builtin.energy",
    "benchbed.builtin.generative",
    "benchbed.builtin.samplers",
    "benchbed.builtin.tracks",
)


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


def _benchbed_version() -> str:
    from . import __version__

    return __version__


class PluginHost:
    """Owns the pluggy manager and what each plugin registered."""

    def __init__(self, load_external: bool = True, extra_files: list[str] | None = None):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        version = _benchbed_version()
        for module_name in DEFAULT_PLUGINS:
            module = importlib.import_module(module_name)
            self.pm.register(module, name=module_name)
            self.infos[module_name] = PluginInfo(module_name, "benchbed", version, builtin=True)
        if load_external:
            self._load_entry_points()
            files = [f for f in os.environ.get(ENV_FILES, "").split(os.pathsep) if f]
            for path in files + list(extra_files or []):
                self.load_file(path)
        self._registry: Registry | None = None

    # -- discovery -------------------------------------------------------------------------------
    def _allowed(self, ep: md.EntryPoint) -> bool:
        allow = os.environ.get(ENV_ALLOW)
        if allow is None:
            return True
        names = {n.strip() for n in allow.split(",") if n.strip()}
        dist = ep.dist.name if ep.dist else ""
        return ep.name in names or dist in names

    def _load_entry_points(self) -> None:
        for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if not self._allowed(ep) or ep.name in self.infos:
                continue
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            info = PluginInfo(ep.name, dist, version)
            self.infos[ep.name] = info
            try:
                self.pm.register(ep.load(), name=ep.name)
            except Exception as exc:  # one broken plugin must not take down the others
                info.error = _describe(exc)

    def load_file(self, path: str | os.PathLike) -> PluginInfo:
        """Load a plugin from a local ``.py`` file (no packaging needed)."""
        path = Path(path).resolve()
        name = f"file:{path.name}"
        info = PluginInfo(name, str(path), "local")
        self.infos[name] = info
        try:
            if not path.is_file():
                raise BenchbedError(f"plugin file {path} does not exist: check the path")
            spec = importlib.util.spec_from_file_location(f"benchbed_local_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            self.pm.register(module, name=name)
        except Exception as exc:
            info.error = _describe(exc)
        self._registry = None
        return info

    def register(self, plugin: Any, name: str) -> None:
        """Register an in-process plugin object (tests, notebooks)."""
        self.pm.register(plugin, name=name)
        self.infos[name] = PluginInfo(name, "(in-process)", "-")
        self._registry = None

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.infos.pop(name, None)
        self._registry = None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry.collect(self)
        return self._registry


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BenchbedError):
        return str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


class Registry:
    """Everything the plugins registered, by kind and stable name."""

    def __init__(self):
        self.items: dict[str, dict[str, Any]] = {kind: {} for kind in hookspecs.KINDS}
        self.sources: dict[tuple[str, str], str] = {}
        self.problems: list[str] = []

    @classmethod
    def collect(cls, host: PluginHost) -> Registry:
        reg = cls()
        for kind in hookspecs.KINDS:
            hook = getattr(host.pm.hook, f"register_{kind}")
            for impl in hook.get_hookimpls():  # registration order: built-ins first
                plugin_name = impl.plugin_name
                info = host.infos.get(plugin_name)
                if info is not None and not info.ok:
                    continue
                staged: list[Any] = []
                try:
                    impl.function(register=staged.append)
                except Exception as exc:
                    reg._broken(host, plugin_name, f"register_{kind} failed: {_describe(exc)}")
                    continue
                for obj in staged:
                    reg._add(host, kind, obj, plugin_name)
        return reg

    def _broken(self, host: PluginHost, plugin_name: str, message: str) -> None:
        info = host.infos.get(plugin_name)
        if info is not None and info.error is None:
            info.error = message
        self.problems.append(f"plugin {plugin_name!r}: {message}")

    def _add(self, host: PluginHost, kind: str, obj: Any, plugin_name: str) -> None:
        name = getattr(obj, "name", None)
        if not isinstance(name, str) or not name:
            self._broken(host, plugin_name, f"registered a {kind[:-1]} without a name: {obj!r}")
            return
        table = self.items[kind]
        if name in table:
            first = self.sources[(kind, name)]
            self._broken(
                host,
                plugin_name,
                f"duplicate {kind[:-1]} name {name!r}: registered by both {first!r} and "
                f"{plugin_name!r}; rename one of them or uninstall one plugin",
            )
            return
        table[name] = obj
        self.sources[(kind, name)] = plugin_name
        info = host.infos.get(plugin_name)
        if info is not None:
            info.provides.setdefault(kind, []).append(name)

    # -- lookups ---------------------------------------------------------------------------------
    def get(self, kind: str, name: str) -> Any:
        table = self.items[kind]
        if name not in table:
            raise UnknownNameError(kind[:-1], name, table)
        return table[name]

    def names(self, kind: str, pattern: str = "*") -> list[str]:
        return sorted(n for n in self.items[kind] if fnmatch.fnmatchcase(n, pattern))

    def dataset(self, name: str):
        return self.get("datasets", name)

    def model(self, name: str):
        return self.get("models", name)

    def attack(self, name: str):
        return self.get("attacks", name)

    def metric(self, name: str):
        return self.get("metrics", name)

    def track(self, name: str):
        return self.get("tracks", name)

    def sampler(self, name: str):
        return self.get("samplers", name)

    def models_for(self, track) -> list:
        """Models registered for a track: same dataset, and they claim the track's threat model."""
        return [
            m
            for _, m in sorted(self.items["models"].items())
            if m.dataset == track.dataset and track.norm in m.threat_models
        ]


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
