"""User-facing errors: one line that names the problem and the fix."""
from __future__ import annotations

import difflib
import traceback
from collections.abc import Iterable
from pathlib import Path


class BenchbedError(Exception):
    """An error a user can act on. ``str(err)`` is a single line: problem, then fix."""


KNOWN_SHOWN = 12  # names an unknown-name error lists before '... and N more'


class UnknownNameError(BenchbedError, KeyError):
    def __init__(self, kind: str, name: str, known: Iterable[str]):
        known = sorted(known)
        self.kind, self.name, self.known = kind, name, known
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        shown = known[:KNOWN_SHOWN]  # one readable line, also with a large zoo installed
        more = f" and {len(known) - len(shown)} more" if len(known) > len(shown) else ""
        hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else (
            f"known {kind}s: {', '.join(shown) or '(none)'}{more}"
        )
        super().__init__(f"unknown {kind} {name!r}: {hint} (list them with `benchbed {kind}s`)")

    def __str__(self) -> str:  # KeyError would otherwise wrap the message in quotes
        return self.args[0]


class ChecksumError(BenchbedError):
    pass


class ModelOutputError(BenchbedError):
    pass


class DatasetNotFoundError(BenchbedError):
    pass


class ConfigError(BenchbedError):
    pass


class RecordError(BenchbedError):
    """A stored result that fails its schema or checksum: never ranked, never reused."""


def describe_error(exc: BaseException) -> str:
    """One line for an exception: a BenchbedError's own message, else type, first line and where."""
    if isinstance(exc, BenchbedError):
        return str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}{where}"
