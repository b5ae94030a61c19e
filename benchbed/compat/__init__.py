"""Deprecated import paths of earlier versions, kept working for one minor version (docs/compatibility.md).

Two kinds of old names resolve here, each with a :class:`DeprecationWarning` that names the new import:

- 0.1's top-level names (``from benchbed import ModelSpec, hookimpl, MetricResult``), through
  :func:`top_level` (``benchbed.__getattr__``);
- the flat module paths of 0.1 and 0.2 (``benchbed.specs``, ``benchbed.checkpoints``,
  ``benchbed.provenance``, ...), moved into subpackages in 0.3, through an import hook
  (:class:`OldModuleFinder`) that hands out a stand-in module forwarding every attribute.

0.1's ``MetricSpec(merge=...)`` and ``MetricResult`` are adapted by :mod:`benchbed.compat.metric_v01`.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import types
import warnings
from typing import Any

REMOVED_IN = "0.4"
MIGRATION = "CHANGELOG.md, 'Migrating from 0.1'"

# 0.1's `from benchbed import X` -> the module that holds X now (benchbed.plugin is the public API)
TOP_LEVEL = {name: "benchbed.plugin" for name in (
    "hookimpl", "AttackResult", "AttackSpec", "Column", "DatasetSpec", "GenerationSettings", "ModelSpec",
    "SamplerSpec", "TrackSpec")}
TOP_LEVEL.update({"MetricSpec": "benchbed.compat.metric_v01", "MetricResult": "benchbed.compat.metric_v01"})

# old module path (0.1 and 0.2) -> its module in 0.3
MOVED_MODULES = {
    **{f"benchbed.{m}": f"benchbed.contracts.{m}"
       for m in ("specs", "hookspecs", "errors", "checkpoints", "reductions", "events")},
    **{f"benchbed.{m}": f"benchbed.engine.{m}"
       for m in ("context", "runner", "scheduler", "units", "evaluation", "locking", "preflight", "devices",
                 "executors")},
    **{f"benchbed.{m}": f"benchbed.results.{m}"
       for m in ("record", "store", "tables", "exports", "compare", "provenance", "runlog")},
    **{f"benchbed.{m}": f"benchbed.functional.{m}"
       for m in ("energy", "detection", "pgd", "ood", "correlation", "study_attacks")},
    "benchbed.attacks": "benchbed.builtin.autoattack",
    "benchbed.datasets": "benchbed.builtin.dataset_loaders",
}
# names an old module had that its new home does not (0.1's metric contract)
OVERRIDES = {"benchbed.specs": {"MetricSpec": "benchbed.compat.metric_v01",
                                "MetricResult": "benchbed.compat.metric_v01"}}


def _is_import_machinery(filename: str) -> bool:
    return "importlib" in filename and "_bootstrap" in filename  # frames warnings.warn skips by itself


def _caller_stacklevel() -> int:
    """warnings' stacklevel of the first frame outside the import machinery and benchbed (the importer)."""
    here = os.path.dirname(__file__)
    frame, level = sys._getframe(2), 2  # the frame that called deprecated(), as warnings counts
    while frame is not None:
        name = frame.f_code.co_filename
        if _is_import_machinery(name):
            frame = frame.f_back
            continue
        if not (name.startswith(here) or name.endswith(os.path.join("benchbed", "__init__.py"))
                or name.endswith(os.path.join("importlib", "__init__.py"))):  # importlib.import_module's frame
            return level
        frame, level = frame.f_back, level + 1
    return 1


def deprecated(old: str, new: str) -> None:
    warnings.warn(f"{old} is deprecated and will be removed in benchbed {REMOVED_IN}: use {new} "
                  f"(see {MIGRATION})", DeprecationWarning, stacklevel=_caller_stacklevel())


def top_level(name: str) -> Any:
    """``benchbed.<name>`` for 0.1's top-level plugin API, with a warning; AttributeError otherwise."""
    if name not in TOP_LEVEL:
        raise AttributeError(f"module 'benchbed' has no attribute {name!r}")
    home = TOP_LEVEL[name]
    # `from benchbed import X` asks twice (importlib's hasattr check, then the import): warn once
    if sys._getframe(2).f_code.co_name != "_handle_fromlist":
        new = (f"'from {home} import {name}'" if home == "benchbed.plugin" else
               "benchbed.plugin's MetricSpec with MetricOutput and Column.reduce")
        deprecated(f"'from benchbed import {name}'", new)
    return getattr(importlib.import_module(home), name)


def _new_name(old: str) -> str | None:
    for prefix, target in MOVED_MODULES.items():
        if old == prefix or old.startswith(prefix + "."):
            return target + old[len(prefix):]
    return None


class _StandIn(types.ModuleType):
    """An old module path: every attribute is read from the module's new home (plus 0.1 overrides)."""

    def __init__(self, old: str, new: str):
        super().__init__(old, f"deprecated alias of {new}")
        self.__dict__["_new"] = new

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        new = self.__dict__["_new"]
        home = OVERRIDES.get(self.__name__, {}).get(name, new)
        return getattr(importlib.import_module(home), name)

    def __dir__(self):
        return sorted(set(dir(importlib.import_module(self.__dict__["_new"]))))


class OldModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the old flat module paths; each becomes a :class:`_StandIn` after a deprecation warning."""

    def find_spec(self, fullname, path=None, target=None):
        new = _new_name(fullname)
        if new is None:
            return None
        is_package = hasattr(importlib.import_module(new), "__path__")
        return importlib.machinery.ModuleSpec(fullname, self, is_package=is_package)

    def create_module(self, spec):
        new = _new_name(spec.name)
        deprecated(f"module {spec.name}", f"{new} (plugin authors: benchbed.plugin)")
        module = _StandIn(spec.name, new)
        importlib.import_module(new)  # a missing new home fails here, at import time
        return module

    def exec_module(self, module):
        if module.__spec__.submodule_search_locations is not None:
            module.__dict__["__path__"] = []


def install() -> None:
    """Put the finder on ``sys.meta_path`` once (done when benchbed is imported)."""
    if not any(isinstance(f, OldModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(OldModuleFinder())
