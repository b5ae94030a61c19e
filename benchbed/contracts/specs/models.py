"""What a model plugin registers: :class:`ModelSpec` (and the checkpoints of a training series)."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from benchbed.contracts.specs.names import FAMILIES, NORMS, _require

if TYPE_CHECKING:  # imported lazily: listing plugins must not pay for torch
    import torch
    from torch import nn


@dataclass(frozen=True)
class TrainingCheckpoint:
    """One checkpoint of a model's training run (e.g. one per epoch), for ``benchbed study dynamics``."""

    step: int  # epoch (or any increasing training step)
    loader: Callable[[torch.device], nn.Module]
    sha256: str = ""
    label: str = ""  # e.g. "epoch 12"


@dataclass(frozen=True)
class ModelSpec:
    """A registered classifier. ``loader(device)`` returns an nn.Module mapping [0, 1] images to logits."""

    name: str
    dataset: str
    threat_models: tuple[str, ...]
    architecture: str
    recipe: str  # standard / PGD-AT / TRADES / WEAT / JEM / DAT / ...
    loader: Callable[[torch.device], nn.Module]
    paper: str = ""
    venue: str = ""
    link: str = ""
    extra_data: bool = False
    checkpoint_sha256: str = ""  # what the plugin claims; benchbed also fingerprints the loaded weights
    footnote: str = ""
    reported: Mapping[str, float] = field(default_factory=dict)  # numbers published elsewhere
    family: str = "classifier"  # "classifier" or "joint" (discriminative-generative, e.g. JEM, DAT)
    sampler: str = ""  # the sampler this model's authors use (a registered sampler name), if any
    # Checkpoints along the model's training, oldest first (``benchbed study dynamics``); None if not published.
    training_series: Callable[[], Sequence[TrainingCheckpoint]] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # plugin-specific JSON-able fields (exports)
    # A JEM-style model's own sampler buffer: ``replay_buffer(device)`` -> (B, C, H, W) images in [0, 1]
    # (e.g. the ``replay_buffer`` a released checkpoint file holds), or None; ``jem-sgld`` starts from it.
    replay_buffer: Callable[[torch.device], torch.Tensor | None] | None = None

    def __post_init__(self):
        for tm in self.threat_models:
            _require(tm in NORMS, f"model {self.name!r}: threat model {tm!r} is not one of {NORMS}")
        _require(self.family in FAMILIES, f"model {self.name!r}: family {self.family!r} is not one of {FAMILIES}")

    def load(self, device: torch.device | str) -> nn.Module:
        import torch

        module = self.loader(torch.device(device))
        return module.eval()

    def info(self) -> dict[str, Any]:
        """Metadata as plain JSON-able values (for result records and pages)."""
        return {
            "name": self.name,
            "dataset": self.dataset,
            "threat_models": list(self.threat_models),
            "architecture": self.architecture,
            "recipe": self.recipe,
            "family": self.family,
            "sampler": self.sampler,
            "paper": self.paper,
            "venue": self.venue,
            "link": self.link,
            "extra_data": self.extra_data,
            "checkpoint_sha256": self.checkpoint_sha256,
            "footnote": self.footnote,
            "reported": dict(self.reported),
            "extra": dict(self.extra),
        }
