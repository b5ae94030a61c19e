"""Registers RobustBench's model zoo as benchbed models ``rb/<track>/<ModelId>``.

One benchbed model per RobustBench (dataset, threat model, model id) that benchbed has a track
for: ``rb/cifar10-linf/<ModelId>``, ``rb/cifar10-l2/<ModelId>``, ``rb/cifar100-linf/<ModelId>``,
``rb/imagenet-linf/<ModelId>``.
The track is part of the name because RobustBench reuses model ids across datasets and threat
models for different checkpoints (e.g. ``Standard`` on CIFAR-10 Linf and L2, ``Rice2020Overfitting``
on all three); ``benchbed models 'rb/cifar10-linf/*'`` lists one table.

Registration is cheap: the zoo is read from robustbench's source files and README without importing
robustbench, torch or timm, and no architecture is built until a model is loaded.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from benchbed.plugin import BenchbedError, ModelSpec, hookimpl

from . import loading
from .zoo import IMAGENET_PREPROCESSING, ZooEntry, zoo_entries

if TYPE_CHECKING:
    import torch
    from torch import nn

PREFIX = "rb"


def model_name(entry: ZooEntry) -> str:
    return f"{PREFIX}/{entry.track}/{entry.model_id}"


class RobustBenchModelSpec(ModelSpec):
    """A ModelSpec whose ``checkpoint_sha256`` is the sha256 of the checkpoint file in the folder.

    RobustBench publishes no checksums; the value is computed when read (cached per file size and
    mtime), so it is "" until the file exists and afterwards always names the bytes that get loaded.
    """

    @property
    def checkpoint_sha256(self) -> str:  # type: ignore[override]
        entry = self.extra.get("zoo_entry")
        return loading.checkpoint_sha256(entry) if entry is not None else ""

    @checkpoint_sha256.setter
    def checkpoint_sha256(self, value: str) -> None:  # the dataclass __init__ sets it: the file decides
        pass

    def info(self):
        """Metadata for records; RobustBench's own fields go under ``extra["robustbench"]``, where
        benchbed's RobustBench export (``benchbed results --format model-info``) reads them."""
        out = super().info()
        extra = self.extra
        out["extra"] = {"robustbench": {
            "id": extra["robustbench_id"], "dataset": extra["robustbench_dataset"],
            "threat_model": extra["robustbench_threat_model"], "authors": extra["authors"],
            "number_forward_passes": extra["number_forward_passes"], "unreliable": extra["unreliable"],
            "reported_by_paper": extra["reported_by_paper"], "metadata_source": extra["metadata_source"],
            "footnote": extra["robustbench_footnote"], "gdrive_id": list(extra["gdrive_id"]),
            "checkpoint_files": [str(p) for p in loading.checkpoint_files(extra["zoo_entry"])],
        }}
        return out


def load_entry(entry: ZooEntry, device: torch.device) -> nn.Module:
    return loading.load(entry, device)


def _recipe(entry: ZooEntry) -> str:
    return "standard" if entry.model_id.startswith("Standard") else "see paper"


def _extra_data(entry: ZooEntry) -> tuple[bool, str]:
    if "additional_data" in entry.meta:
        return bool(entry.meta["additional_data"]), ""
    guess = "extra" in entry.model_id.lower()
    return guess, ("extra data: guessed from the model id (RobustBench's package does not ship its "
                   "additional_data flag)")


def spec_for(entry: ZooEntry) -> RobustBenchModelSpec:
    meta = entry.meta
    reported = {}
    if meta.get("clean_acc") is not None:
        reported["clean_accuracy"] = float(meta["clean_acc"])
    if meta.get("autoattack_acc") is not None:
        reported["robust_accuracy"] = float(meta["autoattack_acc"])
    extra_data, guess_note = _extra_data(entry)
    notes = [f"RobustBench zoo model {entry.model_id} ({entry.dataset}, {entry.threat_model}); reported "
             f"numbers are RobustBench's AutoAttack evaluation on the full test set"]
    if meta.get("footnote"):
        notes.append(str(meta["footnote"]))
    if guess_note:
        notes.append(guess_note)
    if not meta:
        notes.append("no metadata: the model is in RobustBench's zoo but not in the tables its package ships")
    if entry.dataset == "imagenet" and entry.preprocessing not in ("", IMAGENET_PREPROCESSING):
        notes.append(f"RobustBench evaluates it on {entry.preprocessing}-preprocessed images; benchbed's imagenet "
                     f"tracks feed every model {IMAGENET_PREPROCESSING} (224x224), so its numbers may differ")
    if entry.hub_weights:
        notes.append("weights from torchvision's or timm's hub (robustbench's load_model fetches them)")
    return RobustBenchModelSpec(
        name=model_name(entry),
        dataset=entry.dataset,
        threat_models=(entry.threat_model,),
        architecture=meta.get("architecture") or entry.constructor or "unknown",
        recipe=_recipe(entry),
        loader=functools.partial(load_entry, entry),
        paper=meta.get("name", ""),
        venue=meta.get("venue", ""),
        link=meta.get("link", ""),
        extra_data=extra_data,
        footnote="; ".join(notes),
        reported=reported,
        extra={
            "zoo_entry": entry,
            "robustbench_id": entry.model_id,
            "robustbench_dataset": entry.dataset,
            "robustbench_threat_model": entry.threat_model,
            "gdrive_id": list(entry.gdrive_ids),
            "authors": meta.get("authors", ""),
            "number_forward_passes": meta.get("number_forward_passes", 1),
            "eps_label": meta.get("eps", ""),
            "reported_by_paper": meta.get("reported"),
            "unreliable": meta.get("unreliable", False),
            "robustbench_footnote": meta.get("footnote", ""),
            "metadata_source": meta.get("source", "none"),
            "constructor": entry.constructor,
            "preprocessing": entry.preprocessing,
        },
    )


@functools.lru_cache(maxsize=1)
def _entries() -> tuple[ZooEntry, ...]:
    return tuple(zoo_entries())


def specs() -> list[RobustBenchModelSpec]:
    try:
        entries = _entries()
    except ModuleNotFoundError as exc:
        raise BenchbedError("the benchbed-robustbench plugin needs the robustbench package: "
                            "pip install robustbench") from exc
    return [spec_for(e) for e in entries]


@hookimpl
def register_models(register):
    for spec in specs():
        register(spec)
