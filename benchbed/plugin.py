"""The public plugin API: everything a plugin needs, and the only benchbed module plugins import.

::

    from benchbed.plugin import ModelSpec, hookimpl, load_state_dict

    @hookimpl
    def register_models(register):
        register(ModelSpec(name="my-cnn", dataset="cifar10", threat_models=("Linf",), architecture="ResNet-18",
                           recipe="PGD-AT", loader=lambda device: ..., checkpoint_sha256="..."))

What is here is kept stable; what is not here (the scheduler, the store, the runner) may change.
Guides per plugin kind: docs/plugins/.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from benchbed.builtin.dataset_helpers import image_folder_dataset, numpy_dataset
from benchbed.builtin.torchvision_datasets import torchvision_dataset
from benchbed.contracts.checkpoints import load_state_dict, verify_sha256
from benchbed.contracts.errors import (
    BenchbedError,
    ChecksumError,
    ConfigError,
    DatasetNotFoundError,
    ModelOutputError,
    UnknownNameError,
)
from benchbed.contracts.figures import ArrayPlot, ArraySeries, Figure, FlagExplanation, Series
from benchbed.contracts.hookspecs import hookimpl
from benchbed.contracts.reductions import Reduction, column_values, mean, percent, scalar
from benchbed.contracts.specs import (
    TARGETED,
    UNTARGETED,
    AttackIterate,
    AttackRequest,
    AttackResult,
    AttackSpec,
    AttackWarning,
    Column,
    DatasetSpec,
    ExecutorSpec,
    ExporterSpec,
    GenerationSettings,
    LabelledImages,
    MetricOutput,
    MetricSpec,
    ModelSpec,
    ObserverSpec,
    SamplerSpec,
    TrackSpec,
    TrainingCheckpoint,
)
from benchbed.contracts.studies import StudyArgument, StudyRequest, StudySpec
from benchbed.results.provenance import sha256_file
from benchbed.studies.common import prepare_study, study_result

if TYPE_CHECKING:
    from benchbed.engine.context import EvaluationContext, GuardedModel
    from benchbed.generative.sampling import SampleRequest

# These need torch; they load on first use, so that importing this module (when plugins are listed)
# stays cheap.
_LAZY = {"EvaluationContext": "benchbed.engine.context", "GuardedModel": "benchbed.engine.context",
         "SampleRequest": "benchbed.generative.sampling"}


def dataset_split(name: str, split: str, data_dir=None) -> LabelledImages:
    """A registered dataset's split (e.g. to train a model on ``dataset_split("digits", "train")``)."""
    from benchbed import registry as plugin_registry
    return plugin_registry.registry().datasets.get(name).load(split, data_dir)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = globals()[name] = getattr(importlib.import_module(_LAZY[name]), name)  # loaded once
        return value
    raise AttributeError(f"module 'benchbed.plugin' has no attribute {name!r}")


__all__ = [
    # hooks
    "hookimpl",
    # specs
    "AttackSpec", "Column", "DatasetSpec", "ExecutorSpec", "ExporterSpec", "GenerationSettings", "MetricSpec",
    "ModelSpec", "ObserverSpec", "SamplerSpec", "StudySpec", "TrackSpec", "TrainingCheckpoint",
    # presentation and studies
    "ArrayPlot", "ArraySeries", "Figure", "FlagExplanation", "Series", "StudyArgument", "StudyRequest",
    # what plugin code receives and returns
    "AttackIterate", "AttackRequest", "AttackResult", "AttackWarning", "EvaluationContext", "GuardedModel",
    "LabelledImages", "MetricOutput", "SampleRequest", "TARGETED", "UNTARGETED",
    # reductions
    "Reduction", "column_values", "mean", "percent", "scalar",
    # checkpoints, checksums, data
    "load_state_dict", "sha256_file", "verify_sha256", "dataset_split",
    # studies: load a request's model and points; make the stored result
    "prepare_study", "study_result",
    # datasets from files on disk (docs/plugins/datasets.md)
    "image_folder_dataset", "numpy_dataset", "torchvision_dataset",
    # errors
    "BenchbedError", "ChecksumError", "ConfigError", "DatasetNotFoundError", "ModelOutputError", "UnknownNameError",
]
