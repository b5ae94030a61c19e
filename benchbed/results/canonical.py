"""Canonical JSON and the one content hasher: what every checksum and every result key is computed with.

:func:`canonical_sha256` hashes a JSON-able value independently of dict order. Result and unit keys
(:mod:`benchbed.engine.units`) hash their inputs with ``default=str`` (a value JSON cannot hold is
hashed as its text); a stored document's ``record_sha256`` (:func:`content_sha256`) uses
:func:`json_default` (numpy numbers and arrays as JSON numbers), the same conversion :func:`dumps`
writes files with. Both have been written to disk by earlier benchbed versions, so neither changes.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np


def json_default(obj):
    """How a stored document writes the values JSON has no type for."""
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def dumps(obj: Any) -> str:
    """Pretty, key-sorted JSON (NaN allowed: a statistic over no points is NaN): how documents are written."""
    return json.dumps(obj, indent=2, sort_keys=True, allow_nan=True, default=json_default) + "\n"


def canonical_sha256(obj: Any, default: Callable[[Any], Any] = str) -> str:
    """sha256 of ``obj`` as compact, key-sorted JSON (dict order does not matter)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True, default=default)
    return hashlib.sha256(blob.encode()).hexdigest()


def content_sha256(data: Mapping[str, Any]) -> str:
    """sha256 of a stored document's canonical JSON, without its own ``record_sha256`` field."""
    return canonical_sha256({k: v for k, v in data.items() if k != "record_sha256"}, default=json_default)
