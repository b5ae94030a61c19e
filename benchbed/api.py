"""The Python API: evaluate any ``nn.Module`` on a track, and look up what the plugins registered.

::

    import benchbed

    result = benchbed.evaluate(my_model, track="digits-linf", n_examples=100, device="cpu")
    print(result.metrics["robust_accuracy"])
    result.to_frame()                      # the row `benchbed results` would print
    benchbed.list_models("rb/cifar10-linf/*")
    model = benchbed.load_model("aa-example-resnet18", device="cpu")

``evaluate`` wraps the module in an ad-hoc :class:`~benchbed.specs.ModelSpec` and runs exactly what
``benchbed run`` runs for one model (:func:`benchbed.runner.evaluate_unit` on the same test points),
so an unregistered model gets the numbers it would get as a registered plugin. Its checksum is
:func:`state_dict_sha256`, a hash of its weights (there is no checkpoint file to hash).
"""
from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, UnknownNameError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import torch
    from torch import nn

    from .specs import ModelSpec, TrackSpec

ADHOC_RECIPE = "unregistered"


@dataclass
class EvaluationResult:
    """What :func:`evaluate` returns: the numbers, their provenance and the per-point arrays.

    ``record`` is the full result record, the same dict ``benchbed run`` writes to the results store
    (see :mod:`benchbed.store`); the other fields are copied out of it for convenience.
    """

    model: str
    track: str
    metrics: dict[str, float]
    n_examples: int
    dataset: str
    norm: str
    eps: float
    seed: int
    quick: bool  # fewer points than the registered track asks for
    device: str
    checkpoint_sha256: str
    versions: dict[str, str]
    attack: dict[str, Any]
    wall_time_s: float
    finished_at: str
    record: dict[str, Any] = field(repr=False)
    arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    path: Path | None = None  # where the record was written, when ``results_dir`` was given

    @classmethod
    def from_record(cls, record: dict[str, Any], arrays: dict[str, np.ndarray] | None = None,
                    path: Path | None = None) -> EvaluationResult:
        return cls(
            model=record["model"], track=record["track"], metrics=dict(record.get("metrics", {})),
            n_examples=int(record.get("n_examples", 0)), dataset=record.get("dataset", ""),
            norm=record.get("norm", ""), eps=float(record.get("eps", float("nan"))), seed=int(record.get("seed", 0)),
            quick=bool(record.get("quick", False)), device=record.get("device", ""),
            checkpoint_sha256=record.get("checkpoint_sha256", ""), versions=dict(record.get("versions", {})),
            attack=dict(record.get("attack", {})), wall_time_s=float(record.get("wall_time_s", 0.0)),
            finished_at=record.get("finished_at", ""), record=record, arrays=dict(arrays or {}), path=path,
        )

    def __getitem__(self, column: str) -> float:
        """``result["robust_accuracy"]``: a metric column's value."""
        return self.metrics[column]

    def to_frame(self) -> pd.DataFrame:
        """A one-row DataFrame with the same columns as ``benchbed results`` prints for this track."""
        from .tables import records_frame

        return records_frame([self.record])

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able record (the arrays are left out)."""
        return dict(self.record)


# -- checksums ----------------------------------------------------------------------------------------
def state_dict_sha256(module: nn.Module) -> str:
    """sha256 identifying an in-memory module's weights (the checksum of an unregistered model).

    For each entry of ``module.state_dict()``, in order: the key (UTF-8), then for a tensor its dtype
    and shape as text and its raw bytes (CPU, contiguous, native byte order); for any other value its
    ``repr``. Separators keep the fields apart. Equal weights give equal digests across devices;
    it is *not* the sha256 of a file ``torch.save`` would write (that file also holds pickle framing).
    """
    import torch

    digest = hashlib.sha256()
    for key, value in module.state_dict().items():
        digest.update(key.encode("utf-8") + b"\0")
        if isinstance(value, torch.Tensor):
            tensor = value.detach()
            if tensor.is_sparse or tensor.is_quantized:
                tensor = tensor.dequantize() if tensor.is_quantized else tensor.to_dense()
            tensor = tensor.to("cpu").contiguous()
            digest.update(f"{tensor.dtype}:{tuple(tensor.shape)}\0".encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
        else:
            digest.update(repr(value).encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


# -- lookups ----------------------------------------------------------------------------------------
def _registry(registry=None):
    if registry is not None:
        return registry
    from . import plugins

    return plugins.registry()


def list_models(pattern: str = "*", track: str | None = None, *, registry=None) -> list[str]:
    """Names of registered models matching a wildcard (``fnmatch``: ``*``, ``?``, ``[...]``), sorted.

    With ``track``, only the models registered for it (its dataset and threat model).
    """
    reg = _registry(registry)
    names = [m.name for m in reg.models_for(reg.track(track))] if track else reg.names("models")
    return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))


def list_tracks(pattern: str = "*", *, registry=None) -> list[str]:
    """Names of registered tracks matching a wildcard, sorted."""
    return _registry(registry).names("tracks", pattern)


def get_model_spec(name: str, *, registry=None) -> ModelSpec:
    """The registered :class:`~benchbed.specs.ModelSpec` (metadata, reported numbers) of a model."""
    return _registry(registry).model(name)


def load_model(name: str, device: str | torch.device | None = None, *, registry=None) -> nn.Module:
    """A registered model, loaded (checksum checked) in eval mode on ``device`` (default: the best here)."""
    from .devices import resolve_device

    return _registry(registry).model(name).load(resolve_device(device))


# -- evaluation -------------------------------------------------------------------------------------
def _select_metrics(spec: TrackSpec, metrics) -> TrackSpec:
    if metrics is None:
        return spec
    if isinstance(metrics, str):
        metrics = [metrics]
    chosen = list(dict.fromkeys(metrics))
    if not chosen:
        raise ConfigError(f"metrics=[] selects nothing: pick some of track {spec.name!r}'s metrics "
                          f"({', '.join(spec.metrics)}) or pass metrics=None for all")
    for name in chosen:
        if name not in spec.metrics:
            err = UnknownNameError("metric", name, spec.metrics)
            raise ConfigError(f"{err.args[0].split(' (list them')[0]} (track {spec.name!r} computes: "
                              f"{', '.join(spec.metrics)})") from None
    return spec.replace(metrics=tuple(m for m in spec.metrics if m in chosen))  # the track's order


def adhoc_spec(model: nn.Module, track: TrackSpec, name: str | None = None) -> ModelSpec:
    """A ModelSpec for an unregistered module on ``track`` (loader: move it to the device)."""
    from .specs import ModelSpec

    def loader(device, _module=model):
        return _module.to(device)

    return ModelSpec(
        name=name or type(model).__name__, dataset=track.dataset, threat_models=(track.norm,),
        architecture=type(model).__name__, recipe=ADHOC_RECIPE, loader=loader,
        checkpoint_sha256=state_dict_sha256(model),
        footnote="evaluated from Python with benchbed.evaluate (not a registered plugin); the checksum is "
                 "benchbed.api.state_dict_sha256 of its weights",
        extra={"source": "benchbed.evaluate", "module": f"{type(model).__module__}.{type(model).__qualname__}"},
    )


def evaluate(model: nn.Module, track: str | TrackSpec = "cifar10-linf", n_examples: int | None = None,
             device: str | torch.device | None = None, metrics: list[str] | str | None = None,
             name: str | None = None, data_dir: str | Path | None = None,
             results_dir: str | Path | None = None, *, registry=None) -> EvaluationResult:
    """Evaluate an unregistered ``nn.Module`` on a track, as ``benchbed run`` would evaluate a plugin.

    ``model`` maps images in [0, 1] shaped (N, C, H, W) to logits (N, classes); put any input
    normalisation inside it. It is moved to ``device`` and put in eval mode for the run, and
    handed back in the training mode it had. ``n_examples``: the first N test points (a recorded
    quick mode; default: the track's number). ``metrics``: a subset of the track's metrics (default:
    all of them; e.g. ``["clean_accuracy"]`` skips the attack). ``name``: the model's name in the
    record (default: its class name). ``results_dir``: also write the record there, where
    ``benchbed results --out`` and the leaderboard read it.
    """
    import numpy as np

    from . import runner
    from .devices import resolve_device

    if not callable(getattr(model, "forward", None)) or not hasattr(model, "state_dict"):
        raise ConfigError(f"benchbed.evaluate needs a torch.nn.Module, got {type(model).__name__}: load "
                          f"registered models by name with benchbed.load_model(name)")
    reg = _registry(registry)
    spec = _select_metrics(runner.resolve_track(track, reg, n_examples), metrics)
    torch_device = resolve_device(device)
    data_dir = Path(data_dir) if data_dir else None
    points = runner.test_points(spec, reg, data_dir)
    indices = np.arange(len(points))
    model_spec = adhoc_spec(model, spec, name)
    was_training = bool(getattr(model, "training", False))
    try:
        record, arrays = runner.evaluate_unit(model_spec, spec, points, indices, torch_device, reg,
                                              data_dir=data_dir)
    finally:
        model.train(was_training)
    path = None
    if results_dir is not None:
        from .store import ResultsStore

        path = ResultsStore(results_dir).write(record, arrays)
    return EvaluationResult.from_record(record, arrays, path)
