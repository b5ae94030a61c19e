"""What an attack plugin registers (:class:`AttackSpec`) and what it is asked and answers."""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from benchbed.contracts.figures import FlagExplanation
from benchbed.contracts.specs.names import _require

if TYPE_CHECKING:  # imported lazily: listing plugins must not pay for torch
    import torch
    from torch import nn


@dataclass(frozen=True)
class AttackRequest:
    model: nn.Module  # benchbed's guard around the model: a copy of every input, logits checked finite
    images: torch.Tensor  # the attack's own copy
    labels: torch.Tensor
    norm: str
    eps: float
    seed: int
    device: torch.device
    batch_size: int
    options: Mapping[str, Any] = field(default_factory=dict)
    progress: Callable[[str], None] = lambda message: None  # one-line status for the progress display


@dataclass
class AttackIterate:
    """An attack's adversarial points of one semantic kind, for metrics that study them (energy).

    ``images[i]`` is the x* of point i where ``mask[i]``; elsewhere the natural image. ``source``
    names what produced them (e.g. AutoAttack's "apgd-ce" component).
    """

    images: torch.Tensor
    mask: torch.Tensor  # bool, one per point
    source: str


# Semantic iterate kinds an attack may provide (AttackResult.iterates keys).
UNTARGETED, TARGETED = "untargeted", "targeted"


@dataclass(frozen=True)
class AttackWarning:
    """Something an attack noticed about a model (e.g. randomness in its forward pass)."""

    label: str  # short, shown as a flag on the pages ("randomness", "gradient masking", ...)
    detail: str  # the attack's own words

    def info(self) -> dict[str, str]:
        return {"label": self.label, "detail": self.detail}


@dataclass
class AttackResult:
    """What an attack hands back for every point it was given (CPU tensors)."""

    adversarial: torch.Tensor  # x_adv; equals x where the attack found nothing
    robust: torch.Tensor  # bool: still correctly classified after the attack
    version: str
    flipped_by: dict[str, int] = field(default_factory=dict)  # per component: points it flipped
    warnings: list[AttackWarning] = field(default_factory=list)
    iterates: dict[str, AttackIterate] = field(default_factory=dict)  # by kind: UNTARGETED, TARGETED


@dataclass(frozen=True)
class AttackSpec:
    name: str
    norms: tuple[str, ...]
    run: Callable[[AttackRequest], AttackResult]
    description: str = ""
    library: str = ""  # distribution whose version goes into provenance and the cache key
    provides: tuple[str, ...] = ()  # iterate kinds its results carry (UNTARGETED, TARGETED)
    options: tuple[str, ...] = ()  # the option names it accepts in a track's attack_options (empty: not checked)
    # named option sets a run may choose instead of the track's own (``--attack-mode NAME``), e.g.
    # AutoAttack's {"fast": APGD-CE + APGD-T only}; the description says what each costs and gives up
    modes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    mode_descriptions: Mapping[str, str] = field(default_factory=dict)
    # what its warnings (AttackResult.warnings) mean, first match wins (see FlagExplanation)
    flag_explanations: tuple[FlagExplanation, ...] = ()

    def __post_init__(self):
        for mode in self.modes:  # a mode names a variant, which names files: keep it a plain word
            _require(isinstance(mode, str) and re.fullmatch(r"[a-z][a-z0-9-]{0,31}", mode) is not None
                     and mode != "standard",
                     f"attack {self.name!r}: mode {mode!r} must be a short lower-case word (a-z, 0-9, '-') other "
                     f"than 'standard'")

    def supports(self, norm: str) -> bool:
        return norm in self.norms

    def explain_flag(self, detail: str) -> FlagExplanation | None:
        """The declared explanation of a warning with this detail text (None: the attack declares none)."""
        text = detail.lower()
        matched = next((f for f in self.flag_explanations if f.match and f.match.lower() in text), None)
        return matched or next((f for f in self.flag_explanations if not f.match), None)
