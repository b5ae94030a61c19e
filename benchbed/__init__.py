"""benchbed: robust image classifiers benchmarked as energy-based models.

Users: :func:`evaluate` any ``nn.Module``, look up registered models and tracks. Plugin authors:
:mod:`benchbed.plugin` is the API to import.
"""
from __future__ import annotations

from typing import Any

from benchbed import compat as _compat
from benchbed import plugin  # noqa: E402,F401  (benchbed.plugin: the API plugins import)
from benchbed._version import __version__  # noqa: E402
from benchbed.api import EvaluationResult, evaluate, get_model_spec, list_models, list_tracks, load_model  # noqa: E402

_compat.install()  # 0.1/0.2 module paths (benchbed.specs, ...) resolve, with a DeprecationWarning


def __getattr__(name: str) -> Any:
    """0.1's top-level plugin API (``from benchbed import ModelSpec``), deprecated: see docs/compatibility.md."""
    return _compat.top_level(name)


__all__ = ["__version__", "evaluate", "load_model", "list_models", "list_tracks", "get_model_spec",
           "EvaluationResult"]
