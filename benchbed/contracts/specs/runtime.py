"""What executors, exporters and observers register: where units run, result formats, run watchers."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported lazily: listing plugins must not pay for torch

    pass


@dataclass(frozen=True)
class ExecutorSpec:
    """Where units run. ``make(**options)`` returns a :class:`benchbed.engine.executors.Executor`; options are
    ``threads``, ``retries``, ``device``, ``address``, ``workers`` (an executor ignores what it has no use for)."""

    name: str
    make: Callable[..., Any]
    description: str = ""


@dataclass(frozen=True)
class ExporterSpec:
    """A ``benchbed results --format`` format: ``render(records, options) -> str`` (printed), and
    optionally ``write(records, folder, options) -> list[Path]`` for ``--export-dir``."""

    name: str
    render: Callable[..., str]
    description: str = ""
    write: Callable[..., list] | None = None


@dataclass(frozen=True)
class ObserverSpec:
    """Something that watches runs. ``start(run)`` is called when a run starts with its
    :class:`benchbed.contracts.events.RunInfo` and returns a callable that then receives every
    event of that run, each a typed :class:`benchbed.contracts.events.RunEvent` subclass (``UnitStart``,
    ``UnitProgress``, ``MetricDone``, ``UnitDone``, ``UnitFailed``, ``RunEnd``, ...; ``event.kind`` and
    ``event.fields`` give its name and fields as in 0.2), or None to sit this run out. An observer that
    raises is reported once and dropped for the rest of the run; the run goes on."""

    name: str
    start: Callable[[Any], Callable[[Any], None] | None]
    description: str = ""
