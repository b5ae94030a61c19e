"""Checkpoint loading: checksum first, then ``torch.load(weights_only=True)``."""
from __future__ import annotations

from pathlib import Path

from .errors import ChecksumError
from .provenance import sha256_file


def verify_sha256(path: str | Path, expected: str, fix: str | None = None) -> None:
    """Raise a one-line :class:`ChecksumError` unless ``path`` exists with sha256 ``expected``.

    ``fix``: how to get the right file back, for the message (e.g. "reinstall pyautoattack").
    """
    path = Path(path)
    if not path.is_file():
        raise ChecksumError(f"checkpoint {path} is missing: "
                            f"{fix or 'reinstall the plugin that ships it or restore the file'}")
    actual = sha256_file(path)
    if actual != expected:
        raise ChecksumError(
            f"checkpoint {path.name} has sha256 {actual[:12]}… but {expected[:12]}… was expected: the file is "
            f"corrupt or was replaced; "
            f"{fix or 'restore the original (or retrain it and update the recorded checksum)'}"
        )


def load_state_dict(path: str | Path, sha256: str, device="cpu", fix: str | None = None) -> dict:
    import torch

    verify_sha256(path, sha256, fix)
    return torch.load(path, map_location=device, weights_only=True)
