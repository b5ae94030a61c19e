"""The typed specs that plugins register. Small, frozen, and validated on creation.

One spec type per plugin kind (:data:`benchbed.contracts.kinds.KINDS`): the registry refuses an object of
the wrong type with a one-line error naming the plugin. Names are checked there too (:func:`check_name`).
One module per kind of plugin; every name is re-exported here, so ``from benchbed.contracts.specs import
ModelSpec`` keeps working (plugins import them from :mod:`benchbed.plugin`).
"""
from __future__ import annotations

from benchbed.contracts.figures import ArrayPlot, FlagExplanation
from benchbed.contracts.specs.attacks import (
    TARGETED,
    UNTARGETED,
    AttackIterate,
    AttackRequest,
    AttackResult,
    AttackSpec,
    AttackWarning,
)
from benchbed.contracts.specs.data import (
    DatasetSpec,
    LabelledImages,
)
from benchbed.contracts.specs.metrics import (
    INFO_REDUCTIONS,
    Column,
    MetricOutput,
    MetricSpec,
)
from benchbed.contracts.specs.models import (
    ModelSpec,
    TrainingCheckpoint,
)
from benchbed.contracts.specs.names import (
    FAMILIES,
    MAX_NAME_LENGTH,
    NORMS,
    SPLITS,
    check_name,
    name_problem,
)
from benchbed.contracts.specs.runtime import (
    ExecutorSpec,
    ExporterSpec,
    ObserverSpec,
)
from benchbed.contracts.specs.tracks import (
    FALLBACK_SAMPLER,
    METRIC_SETTINGS,
    MODEL_SAMPLER,
    SEED_SETTINGS,
    GenerationSettings,
    SamplerSpec,
    TrackSpec,
    eps_text,
)
from benchbed.contracts.studies import StudySpec

__all__ = [
    "ArrayPlot",
    "FlagExplanation",
    "StudySpec",
    "TARGETED",
    "UNTARGETED",
    "AttackIterate",
    "AttackRequest",
    "AttackResult",
    "AttackSpec",
    "AttackWarning",
    "Column",
    "DatasetSpec",
    "ExecutorSpec",
    "ExporterSpec",
    "FALLBACK_SAMPLER",
    "FAMILIES",
    "GenerationSettings",
    "INFO_REDUCTIONS",
    "LabelledImages",
    "MAX_NAME_LENGTH",
    "METRIC_SETTINGS",
    "MODEL_SAMPLER",
    "SEED_SETTINGS",
    "MetricOutput",
    "MetricSpec",
    "ModelSpec",
    "NORMS",
    "ObserverSpec",
    "SPLITS",
    "SamplerSpec",
    "TrackSpec",
    "TrainingCheckpoint",
    "check_name",
    "eps_text",
    "name_problem",
]
