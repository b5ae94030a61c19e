"""benchbed: robust image classifiers benchmarked as energy-based models."""
from __future__ import annotations

__version__ = "0.1.0"

from .api import EvaluationResult, evaluate, get_model_spec, list_models, list_tracks, load_model  # noqa: E402
from .hookspecs import hookimpl  # noqa: E402
from .specs import (  # noqa: E402
    AttackResult,
    AttackSpec,
    Column,
    DatasetSpec,
    GenerationSettings,
    MetricResult,
    MetricSpec,
    ModelSpec,
    SamplerSpec,
    TrackSpec,
)

__all__ = [
    "__version__", "hookimpl", "AttackResult", "AttackSpec", "Column", "DatasetSpec", "GenerationSettings",
    "MetricResult", "MetricSpec", "ModelSpec", "SamplerSpec", "TrackSpec",
    "evaluate", "load_model", "list_models", "list_tracks", "get_model_spec", "EvaluationResult",
]
