"""Library versions and checksums recorded with every result."""
from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import platform
from pathlib import Path

TRACKED_DISTRIBUTIONS = ("benchbed", "torch", "torchvision", "pyautoattack", "torch-fidelity", "numpy")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for dist in TRACKED_DISTRIBUTIONS:
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def stable_hash(obj) -> str:
    """Hash of a JSON-able object, independent of dict order."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()
