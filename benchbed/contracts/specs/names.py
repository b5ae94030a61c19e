"""Names and the fixed vocabularies every spec checks against (norms, splits, model families)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from benchbed.contracts.errors import ConfigError

if TYPE_CHECKING:  # imported lazily: listing plugins must not pay for torch

    pass


NORMS = ("Linf", "L2", "L1")
SPLITS = ("train", "test")
FAMILIES = ("classifier", "joint")  # a pure classifier, or a joint discriminative-generative model
MAX_NAME_LENGTH = 200


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a plugin name (None when it can).

    Names are stable ids shown on pages and mapped to file names. ``/`` may separate namespace
    segments (``rb/cifar10-linf/Standard``), but no segment may be empty, ``.`` or ``..``; backslashes,
    control characters and surrounding whitespace are refused, so a name can never act as a path.
    """
    if not isinstance(name, str):
        return f"a name must be a string, got {type(name).__name__}"
    if not name:
        return "the name is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"the name is {len(name)} characters long (at most {MAX_NAME_LENGTH})"
    if name != name.strip():
        return f"{name!r} starts or ends with whitespace"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return f"{name!r} contains a control character"
    if "\\" in name:
        return f"{name!r} contains a backslash (a path separator)"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return f"{name!r} has an empty, '.' or '..' segment between slashes (it could act as a path)"
    return None


def check_name(kind: str, name: object) -> str:
    """``name`` if it is a valid plugin name, else a one-line :class:`ConfigError`."""
    problem = name_problem(name)
    if problem:
        raise ConfigError(f"invalid {kind} name: {problem}; use letters, digits, '-', '_', '.' and '/' "
                          f"between non-empty segments")
    return name  # type: ignore[return-value]
