"""benchbed: robust image classifiers benchmarked as energy-based models.

Users: :func:`evaluate` any ``nn.Module``, look up registered models and tracks. Plugin authors:
:mod:`benchbed.plugin` is the API to import.
"""
from __future__ import annotations

from benchbed import plugin  # noqa: E402,F401  (benchbed.plugin: the API plugins import)
from benchbed._version import __version__  # noqa: E402
from benchbed.api import EvaluationResult, evaluate, get_model_spec, list_models, list_tracks, load_model  # noqa: E402

__all__ = ["__version__", "evaluate", "load_model", "list_models", "list_tracks", "get_model_spec",
           "EvaluationResult"]
