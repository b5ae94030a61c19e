"""The study plugin kind: an experiment of one model beyond a track's columns (``benchbed study NAME``)."""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchbed.contracts.errors import ConfigError
from benchbed.contracts.figures import Figure


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


ARGUMENT_TYPES = (str, int, float, bool)
# the options every study has (``benchbed study NAME --model M ...``): a study cannot declare them again
COMMON_OPTIONS = ("model", "track", "n_examples", "out", "site", "no_leaderboard", "device", "threads", "data_dir",
                  "no_progress", "plugin", "quiet", "study", "alias", "func", "command")


@dataclass(frozen=True)
class StudyArgument:
    """One option of a study (``benchbed study KIND --NAME VALUE``): its type (str, int, float, bool;
    ``many=True``: a comma-separated list of them), default and help. ``--name`` on the command line
    is ``name`` with ``_`` as ``-``; the study receives it as ``request.options[name]``."""

    name: str
    type: type = str
    default: Any = None
    help: str = ""
    many: bool = False
    metavar: str = ""

    def __post_init__(self):
        _require(re.fullmatch(r"[a-z][a-z0-9_]{0,39}", self.name) is not None,
                 f"study argument {self.name!r} must be a lower-case identifier")
        _require(self.type in ARGUMENT_TYPES, f"study argument {self.name!r}: type must be one of "
                                              f"{[t.__name__ for t in ARGUMENT_TYPES]}")


@dataclass(frozen=True)
class StudyRequest:
    """What a study's ``run`` receives: the names the user gave and every declared option's value.

    ``registry`` holds every registered plugin; ``progress(message)`` reports one line of progress
    (a no-op when the user asked for none) and ``show_bars`` says whether progress bars are welcome."""

    registry: Any
    model: str
    track: str | None
    options: Mapping[str, Any]
    n_examples: int | None = None
    device: str | None = None
    data_dir: Path | None = None
    progress: Callable[[str], None] = lambda message: None
    show_bars: bool = True


@dataclass(frozen=True)
class StudySpec:
    """An experiment beyond a track's columns (``benchbed study NAME --model M``).

    ``run(StudyRequest) -> (StudyResult, arrays)`` does the work and returns what is stored (the
    result, and named per-point arrays kept beside it); ``figures(result, arrays) -> [Figure]`` says
    what the model page draws from a stored result; ``note`` is the page's paragraph above them.
    ``arguments`` are its declared options (see :class:`StudyArgument`)."""

    name: str
    title: str
    run: Callable[[StudyRequest], tuple[Any, Mapping[str, Any]]]
    description: str = ""
    arguments: tuple[StudyArgument, ...] = ()
    figures: Callable[[Any, Mapping[str, Any]], Sequence[Figure]] | None = None
    note: str = ""

    def __post_init__(self):
        names = [a.name for a in self.arguments]
        _require(len(set(names)) == len(names), f"study {self.name!r}: an argument is declared twice")
        taken = sorted(set(names) & set(COMMON_OPTIONS))
        _require(not taken, f"study {self.name!r}: argument(s) {taken} clash with the options every study has "
                            f"({', '.join(COMMON_OPTIONS[:10])}): rename them")
