"""Loading a RobustBench zoo model: checkpoint folder, checksum, optional download, robustbench's loader.

Checkpoints live where RobustBench keeps them::

    <BENCHBED_ROBUSTBENCH_DIR>/<dataset>/<threat_model>/<ModelId>.pt        (single models)
    <BENCHBED_ROBUSTBENCH_DIR>/<dataset>/<threat_model>/<ModelId>.pt_m<i>.pt (ensembles, i = 0, 1, ...)

``BENCHBED_ROBUSTBENCH_DIR`` defaults to ``./models`` (RobustBench's own default ``model_dir``), so
a folder RobustBench already filled is reused as is. A missing file is downloaded from RobustBench's
Google Drive when the network allows it (set ``BENCHBED_ROBUSTBENCH_DOWNLOAD=0`` to never try);
otherwise a one-line :class:`benchbed.contracts.errors.BenchbedError` names the file and the folder.

RobustBench publishes no checksums, so the checksum recorded with a result is the sha256 of the
file actually loaded (for an ensemble: the sha256 of its members' sha256 hex digests, one per line,
in member order).
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import os
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from benchbed.plugin import BenchbedError, sha256_file

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .zoo import ZooEntry

ENV_DIR = "BENCHBED_ROBUSTBENCH_DIR"
ENV_DOWNLOAD = "BENCHBED_ROBUSTBENCH_DOWNLOAD"
DEFAULT_DIR = Path("models")  # RobustBench's default model_dir ("./models")


def checkpoint_root() -> Path:
    return Path(os.environ.get(ENV_DIR) or DEFAULT_DIR)


def checkpoint_folder(entry: ZooEntry, root: Path | None = None) -> Path:
    return (root or checkpoint_root()) / entry.dataset / entry.threat_model


def checkpoint_files(entry: ZooEntry, root: Path | None = None) -> list[Path]:
    """The file(s) RobustBench's ``load_model`` reads for this entry, in member order (none for weights
    it takes from torchvision's or timm's hub)."""
    if entry.hub_weights:
        return []
    base = checkpoint_folder(entry, root) / f"{entry.model_id}.pt"
    if entry.ensemble:
        return [Path(f"{base}_m{i}.pt") for i in range(len(entry.gdrive_ids))]
    return [base]


# -- checksums ----------------------------------------------------------------------------------------
_DIGESTS: dict[tuple[str, int, int], str] = {}
_DIGEST_LOCK = threading.Lock()


def _file_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _DIGEST_LOCK:
        if key in _DIGESTS:
            return _DIGESTS[key]
    digest = sha256_file(path)
    with _DIGEST_LOCK:
        _DIGESTS[key] = digest
    return digest


def checkpoint_sha256(entry: ZooEntry, root: Path | None = None) -> str:
    """sha256 of the checkpoint file(s) in the folder now; "" while any of them is missing."""
    files = checkpoint_files(entry, root)
    if not files or not all(f.is_file() for f in files):
        return ""
    digests = [_file_sha256(f) for f in files]
    if len(digests) == 1:
        return digests[0]
    return hashlib.sha256("".join(d + "\n" for d in digests).encode()).hexdigest()


# -- importing robustbench ---------------------------------------------------------------------------
def import_robustbench(submodule: str) -> types.ModuleType:
    """Import ``robustbench.<submodule>`` even where ``import robustbench`` itself fails.

    robustbench's ``__init__`` imports its evaluation and data modules, which need the GitHub
    ``autoattack`` package (benchbed uses the PyPI ``pyautoattack``) and setuptools'
    ``pkg_resources`` (gone from recent setuptools). The model zoo and ``load_model`` need neither.
    When the real import fails on such a missing module, the package is entered without running
    its ``__init__`` (a bare package module pointing at the same folder) and only the submodule
    is imported.
    """
    try:
        importlib.import_module("robustbench")
    except ImportError as exc:
        spec = importlib.util.find_spec("robustbench")
        if spec is None or not spec.submodule_search_locations:
            raise BenchbedError("the RobustBench adapter needs the robustbench package: "
                                "pip install robustbench (or pip install 'benchbed[robustbench]')") from exc
        package = types.ModuleType("robustbench")
        package.__path__ = list(spec.submodule_search_locations)
        package.__spec__ = spec
        package.__file__ = spec.origin
        package.__package__ = "robustbench"
        sys.modules["robustbench"] = package
    return importlib.import_module(f"robustbench.{submodule}")


@contextlib.contextmanager
def weights_only_loads() -> Iterator[None]:
    """Make every ``torch.load`` inside (robustbench calls it without arguments) use weights_only=True."""
    saved = {k: os.environ.get(k) for k in ("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")}
    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
    os.environ.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# -- download ----------------------------------------------------------------------------------------
def downloads_allowed() -> bool:
    return os.environ.get(ENV_DOWNLOAD, "1").strip().lower() not in ("0", "false", "no", "off")


def _missing_error(entry: ZooEntry, missing: list[Path], reason: str) -> BenchbedError:
    folder = missing[0].parent
    names = ", ".join(p.name for p in missing)
    ids = ", ".join(entry.gdrive_ids) or "none published"
    return BenchbedError(
        f"RobustBench checkpoint {names} for {entry.model_id} is not in {folder} and {reason}: download it "
        f"from RobustBench's Google Drive (id {ids}) into that folder, or point {ENV_DIR} at the folder "
        f"that holds {entry.dataset}/{entry.threat_model}/{missing[0].name}"
    )


def download_gdrive(gdrive_id: str, path: Path) -> None:
    """RobustBench's own Google Drive download, into a temporary name renamed on success."""
    utils = import_robustbench("utils")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    try:
        utils.download_gdrive_new(gdrive_id, tmp)
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise OSError("the download produced no file")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def ensure_checkpoint(entry: ZooEntry, root: Path | None = None) -> list[Path]:
    files = checkpoint_files(entry, root)
    missing = [f for f in files if not f.is_file()]
    if not missing:
        return files
    if not entry.gdrive_ids:
        raise _missing_error(entry, missing, "RobustBench publishes no download for it")
    if not downloads_allowed():
        raise _missing_error(entry, missing, f"downloads are off ({ENV_DOWNLOAD}=0)")
    by_file = dict(zip(files, entry.gdrive_ids))
    for path in missing:
        try:
            download_gdrive(by_file[path], path)
        except BenchbedError:
            raise
        except Exception as exc:  # no network, Google Drive quota, ...
            raise _missing_error(entry, [path], f"the download failed ({type(exc).__name__})") from exc
    return files


def load(entry: ZooEntry, device: torch.device) -> nn.Module:
    """Ensure the checkpoint is there, then build and load the model with RobustBench's ``load_model``."""
    root = checkpoint_root()
    ensure_checkpoint(entry, root)
    utils = import_robustbench("utils")
    try:
        with weights_only_loads():
            model = utils.load_model(entry.model_id, model_dir=str(root), dataset=entry.dataset,
                                     threat_model=entry.threat_model)
    except Exception as exc:
        where = checkpoint_folder(entry, root)
        raise BenchbedError(
            f"RobustBench could not load {entry.model_id} from {where} ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else ''}): the file may be corrupt or from another "
            f"model; delete it to download it again"
        ) from exc
    return model.to(device).eval()
