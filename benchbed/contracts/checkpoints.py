"""Checkpoint loading: checksum first, then ``torch.load(weights_only=True)``."""
from __future__ import annotations

import pickle
from pathlib import Path

from benchbed.contracts.errors import BenchbedError, ChecksumError
from benchbed.results.provenance import sha256_file

WEIGHTS_ONLY_HINT = ("re-save it as a plain state_dict of tensors: "
                     "torch.save(model.state_dict(), path) where the model was defined, then update its sha256")


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


def weights_only_refusal(exc: BaseException, what: str = "the checkpoint") -> BenchbedError | None:
    """torch's multi-line refusal to unpickle code under ``weights_only=True``, as one benchbed line."""
    if isinstance(exc, pickle.UnpicklingError) and "weights only" in str(exc).lower():
        return BenchbedError(f"{what} holds pickled code (objects, not just tensors), which benchbed refuses to "
                             f"load (torch.load(weights_only=True)): {WEIGHTS_ONLY_HINT}")
    return None


def load_state_dict(path: str | Path, sha256: str, device="cpu", fix: str | None = None) -> dict:
    """The state dict in ``path`` after checking its sha256; tensors only (never pickled code)."""
    import torch

    verify_sha256(path, sha256, fix)
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:
        refusal = weights_only_refusal(exc, f"checkpoint {Path(path).name}")
        if refusal is not None:
            raise refusal from None
        raise
