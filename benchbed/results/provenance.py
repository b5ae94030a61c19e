"""Library versions and checksums recorded with every result."""
from __future__ import annotations

import hashlib
import importlib.metadata as md
import platform
from pathlib import Path

from benchbed.results.canonical import canonical_sha256

TRACKED_DISTRIBUTIONS = ("benchbed", "torch", "torchvision", "pyautoattack", "torch-fidelity", "numpy")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for dist in TRACKED_DISTRIBUTIONS:
        versions[dist] = distribution_version(dist)
    return versions


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def stable_hash(obj) -> str:
    """Hash of a JSON-able object, independent of dict order (what result and unit keys are made of)."""
    return canonical_sha256(obj, default=str)


def distribution_version(name: str) -> str:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return "not installed"


def state_dict_sha256(module) -> str:
    """sha256 fingerprint of a module's weights, computed by benchbed from what it actually evaluates.

    For each entry of ``module.state_dict()``, in order: the key (UTF-8), then for a tensor its dtype
    and shape as text and its raw bytes (CPU, contiguous, native byte order); for any other value its
    ``repr``. Separators keep the fields apart. Equal weights give equal digests across devices; it
    is *not* the sha256 of a file ``torch.save`` would write (that file also holds pickle framing).
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
