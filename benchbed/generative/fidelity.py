"""IS / FID / KID of samples against a reference set, through ``torch_fidelity.calculate_metrics``.

- The device is always passed explicitly (torch-fidelity's own default is ``cuda=True``). torch-fidelity
  knows only "CUDA or CPU": a CUDA device runs it on that GPU, anything else on the CPU.
- Images go in as they would as 8-bit PNGs: ``round(255 x)`` as uint8, grey images repeated to three
  channels (what torch-fidelity's folder loader does), so numbers computed from tensors equal a direct
  ``calculate_metrics`` call on the same images saved as PNG files.
- The reference set's features and FID statistics are cached on disk by torch-fidelity, under
  ``<cache>/fidelity`` (``BENCHBED_CACHE``, default ``~/.cache/benchbed``), with a cache name that is a
  content hash of (dataset, split, the reference images' bytes, extractor and its weights, feature
  layers): changing one pixel or the extractor's weights gives a new entry, never a stale one.
- Inception weights (CIFAR tracks): torch-fidelity's normal download into torch hub's cache; or a local
  copy named by ``BENCHBED_INCEPTION_WEIGHTS`` (or the ``inception_weights`` argument). Offline with
  neither, a one-line :class:`~benchbed.contracts.errors.BenchbedError` says what to download and where to put it.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from benchbed.contracts.errors import BenchbedError
from benchbed.contracts.reductions import percent_true
from benchbed.generative.defaults import CLASSIFYING_EXTRACTORS

ENV_CACHE = "BENCHBED_CACHE"
ENV_INCEPTION = "BENCHBED_INCEPTION_WEIGHTS"
INCEPTION = "inception-v3-compat"
KID_SUBSET_SIZE = 1000
KID_SUBSETS = 100
ISC_SPLITS = 10
# Extractors benchbed ships: registered with torch-fidelity on first use.
BENCHBED_EXTRACTORS = {"digits-cnn": "benchbed.generative.extractor"}


def default_cache_dir() -> Path:
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "benchbed")


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] float images -> uint8 0..255 (round to nearest), the values an 8-bit PNG stores."""
    return images.detach().float().clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8).cpu()


class UInt8Images(torch.utils.data.Dataset):
    """A fixed set of images for torch-fidelity: uint8 (3, H, W) tensors (grey repeated to RGB)."""

    def __init__(self, images: torch.Tensor, report=None, label: str = "images", every: int = 0):
        x = images if images.dtype == torch.uint8 else to_uint8(images)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        self.images = x.contiguous()
        # report(message) every ``every`` images read: torch-fidelity reads them one by one in this
        # process (save_cpu_ram=True: no loader workers), so this is its feature extraction's progress
        self.report, self.label, self.every, self._read = report, label, max(1, int(every or 1)), 0

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, i: int) -> torch.Tensor:
        if self.report is not None:
            self._read += 1
            n = len(self)
            if self._read % self.every == 0 or self._read % n == 0:
                self.report(f"fidelity: features of {self.label} {(self._read - 1) % n + 1}/{n}")
        return self.images[i]


def ensure_extractor(name: str):
    """The torch-fidelity extractor class for ``name``, registering benchbed's own on first use."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    if name not in FEATURE_EXTRACTORS_REGISTRY and name in BENCHBED_EXTRACTORS:
        import importlib

        importlib.import_module(BENCHBED_EXTRACTORS[name]).register(name)
    if name not in FEATURE_EXTRACTORS_REGISTRY:
        known = ", ".join(sorted(FEATURE_EXTRACTORS_REGISTRY))
        raise BenchbedError(f"unknown feature extractor {name!r}: register it with "
                            f"torch_fidelity.register_feature_extractor (known: {known})")
    return FEATURE_EXTRACTORS_REGISTRY[name]


# -- Inception weights -----------------------------------------------------------------------------
def inception_cache_file() -> Path:
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(URL_INCEPTION_V3)


def resolve_inception_weights(option: str | os.PathLike | None = None) -> str | None:
    """A local Inception weights file (option, then ``BENCHBED_INCEPTION_WEIGHTS``), else ``None`` once
    torch-fidelity's own download is in torch hub's cache (downloading it now if needed)."""
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    given = option or os.environ.get(ENV_INCEPTION)
    if given:
        if not Path(given).is_file():
            raise BenchbedError(f"Inception weights file {given} (from {'the option' if option else ENV_INCEPTION}) "
                                f"does not exist: download {URL_INCEPTION_V3} and point {ENV_INCEPTION} at it")
        return str(given)
    cached = inception_cache_file()
    if cached.is_file():
        return None
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(URL_INCEPTION_V3, str(cached), progress=False)
    except Exception as exc:  # URLError, socket timeouts, HTTP errors, partial files
        reason = str(exc).splitlines()[0] if str(exc) else ""
        raise BenchbedError(
            f"Inception weights for IS/FID/KID could not be downloaded ({type(exc).__name__}: {reason}): "
            f"download {URL_INCEPTION_V3} on a machine with internet and set {ENV_INCEPTION}=/path/to/that/file "
            f"(or copy it to {cached})") from None
    return None


_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def _file_sha256(path: str) -> str:
    from benchbed.results.provenance import sha256_file

    st = os.stat(path)
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    if key not in _FILE_HASHES:
        _FILE_HASHES[key] = sha256_file(path)
    return _FILE_HASHES[key]


def extractor_identity(name: str, weights_path: str | None) -> str:
    """What an extractor's features depend on: its name and its weights (content, not file name)."""
    cls = ensure_extractor(name)
    own = getattr(cls, "benchbed_identity", None)
    if own is not None:
        return str(own(weights_path))
    if weights_path:
        return f"{name}:sha256:{_file_sha256(weights_path)}"
    if name == INCEPTION:
        return f"{name}:{inception_cache_file().name}"  # torch-fidelity's file name carries its hash
    return f"{name}:{cls.__module__}.{cls.__qualname__}"


# -- the reference-statistics cache ----------------------------------------------------------------
def reference_cache_name(reference: torch.Tensor, *, dataset: str, split: str, extractor: str,
                         extractor_id: str, layers: list[str]) -> str:
    """A cache name that changes whenever the reference images, the extractor or the layers change."""
    images = reference if reference.dtype == torch.uint8 else to_uint8(reference)
    digest = hashlib.sha256()
    header = f"benchbed-reference-v1|{dataset}|{split}|{extractor}|{extractor_id}|{','.join(sorted(layers))}|"
    digest.update(header.encode())
    digest.update(repr(tuple(images.shape)).encode())
    digest.update(images.contiguous().numpy().tobytes())
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{dataset}-{split}")
    return f"benchbed-{safe}-{digest.hexdigest()[:24]}"


@dataclass
class FidelityResult:
    inception_score: float | None = None
    inception_score_std: float | None = None
    fid: float | None = None
    kid: float | None = None
    kid_std: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    # with keep_features: "isc" (the samples' IS-layer outputs, e.g. logits), "fid" / "kid" (their
    # FID / KID-layer features), "reference_mu" / "reference_sigma" (the reference's FID statistics),
    # "reference_kid" (the reference's KID-layer features); numpy arrays as torch-fidelity computed them
    features: dict[str, Any] = field(default_factory=dict)


def _metrics_and_features(kwargs: dict[str, Any], cls, *, isc: bool, fid: bool, kid: bool):
    """What ``calculate_metrics`` does for one extractor (torch-fidelity 0.4's own steps and functions,
    so the scores are the same numbers), keeping the features it computes on the way."""
    from torch_fidelity.metric_fid import fid_featuresdict_to_statistics_cached, fid_statistics_to_metric
    from torch_fidelity.metric_isc import isc_featuresdict_to_metric
    from torch_fidelity.metric_kid import kid_featuresdict_to_metric
    from torch_fidelity.utils import (
        create_feature_extractor,
        extract_featuresdict_from_input_id_cached,
        get_cacheable_input_name,
    )

    layer = {m: cls.get_default_feature_layer_for_metric(m) for m in ("isc", "fid", "kid")}
    wanted = sorted({layer[m] for m, on in (("isc", isc), ("fid", fid), ("kid", kid)) if on})
    extractor = create_feature_extractor(kwargs["feature_extractor"], wanted, **kwargs)
    samples = extract_featuresdict_from_input_id_cached(1, extractor, **kwargs)
    reference = extract_featuresdict_from_input_id_cached(2, extractor, **kwargs) if fid or kid else None
    metrics: dict[str, Any] = {}
    features: dict[str, Any] = {}
    if isc:
        metrics.update(isc_featuresdict_to_metric(samples, layer["isc"], **kwargs))
        features["isc"] = samples[layer["isc"]].cpu().numpy()
    if fid:
        stats = [fid_featuresdict_to_statistics_cached(d, get_cacheable_input_name(i, **kwargs), extractor,
                                                       layer["fid"], **kwargs)
                 for i, d in ((1, samples), (2, reference))]
        metrics.update(fid_statistics_to_metric(stats[0], stats[1], False))
        features.update(fid=samples[layer["fid"]].cpu().numpy(), reference_mu=stats[1]["mu"],
                        reference_sigma=stats[1]["sigma"])
    if kid:
        metrics.update(kid_featuresdict_to_metric(samples, reference, layer["kid"], **kwargs))
        features.update(kid=samples[layer["kid"]].cpu().numpy(), reference_kid=reference[layer["kid"]].cpu().numpy())
    return metrics, features


@contextlib.contextmanager
def _on_device(device: torch.device):
    if device.type == "cuda" and device.index is not None:
        with torch.cuda.device(device):
            yield
    else:
        yield


def fidelity_kwargs(*, extractor: str, device, isc: bool, fid: bool, kid: bool, n_samples: int,
                    n_reference: int, seed: int, batch_size: int, weights_path: str | None,
                    kid_subsets: int = KID_SUBSETS) -> dict[str, Any]:
    """The keyword arguments benchbed gives ``calculate_metrics`` (besides the inputs and the cache)."""
    device = torch.device(device)
    kwargs: dict[str, Any] = dict(
        cuda=device.type == "cuda", isc=isc, fid=fid, kid=kid, feature_extractor=extractor,
        batch_size=int(batch_size), rng_seed=int(seed), verbose=False, save_cpu_ram=True,
        isc_splits=ISC_SPLITS, kid_subsets=int(kid_subsets),
        kid_subset_size=min(KID_SUBSET_SIZE, n_samples, n_reference),
    )
    if weights_path:
        kwargs["feature_extractor_weights_path"] = weights_path
    return kwargs


def compute_fidelity(samples: torch.Tensor, reference: torch.Tensor, *, extractor: str, device, dataset: str,
                     split: str = "train", isc: bool = True, fid: bool = True, kid: bool = True, seed: int = 0,
                     batch_size: int = 200, cache_dir: str | os.PathLike | None = None, cache: bool = True,
                     weights_path: str | None = None, inception_weights: str | None = None,
                     kid_subsets: int = KID_SUBSETS, report=None, keep_features: bool = False) -> FidelityResult:
    """IS of ``samples``, FID and KID of ``samples`` against ``reference`` (both (N, C, H, W) in [0, 1]).

    ``weights_path`` overrides the extractor's weights (torch-fidelity's
    ``feature_extractor_weights_path``); for Inception, ``inception_weights`` /
    ``BENCHBED_INCEPTION_WEIGHTS`` name a local file. ``report(message)``: feature extraction's progress.
    ``keep_features``: also return the extractor outputs the scores came from (``FidelityResult.features``),
    for a bootstrap over the samples; the scores are the same either way.
    """
    import torch_fidelity

    device = torch.device(device)
    ensure_extractor(extractor)
    if extractor == INCEPTION and weights_path is None:
        weights_path = resolve_inception_weights(inception_weights)
    n, n_ref = int(samples.shape[0]), int(reference.shape[0])
    if isc and n < ISC_SPLITS:
        raise BenchbedError(f"the Inception Score needs at least {ISC_SPLITS} samples, got {n}: raise n_samples")
    if (fid or kid) and min(n, n_ref) < 2:
        raise BenchbedError(f"FID/KID need at least 2 samples and 2 reference images, got {n} and {n_ref}")
    kwargs = fidelity_kwargs(extractor=extractor, device=device, isc=isc, fid=fid, kid=kid, n_samples=n,
                             n_reference=n_ref, seed=seed, batch_size=batch_size, weights_path=weights_path,
                             kid_subsets=kid_subsets)
    cls = ensure_extractor(extractor)
    layers = sorted({cls.get_default_feature_layer_for_metric(m) for m, on in
                     (("isc", isc), ("fid", fid), ("kid", kid)) if on})
    ref_u8 = to_uint8(reference)
    cache_root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache_root = cache_root / "fidelity"
    info: dict[str, Any] = {"feature_extractor": extractor, "feature_layers": layers, "n_samples": n,
                            "n_reference": n_ref, "reference": {"dataset": dataset, "split": split},
                            "kid_subset_size": kwargs["kid_subset_size"], "kid_subsets": int(kid_subsets),
                            "isc_splits": ISC_SPLITS,
                            "rng_seed": int(seed), "device": str(device)}
    if fid or kid:
        identity = extractor_identity(extractor, weights_path)
        name = reference_cache_name(ref_u8, dataset=dataset, split=split, extractor=extractor,
                                    extractor_id=identity, layers=layers)
        kwargs.update(input2=UInt8Images(ref_u8, report, f"the {dataset} {split} split (reference)", batch_size),
                      input2_cache_name=name if cache else None,
                      cache=cache, cache_root=str(cache_root))
        info["reference"].update(cache_name=name, extractor_id=identity)
    else:
        kwargs.update(cache=False)
    kwargs["input1"] = UInt8Images(samples, report, "samples", batch_size)
    try:
        with _on_device(device):
            if keep_features:
                metrics, features = _metrics_and_features(kwargs, cls, isc=isc, fid=fid, kid=kid)
            else:
                metrics, features = torch_fidelity.calculate_metrics(**kwargs), {}
    except ValueError as exc:  # torch-fidelity's vassert: misuse, e.g. a layer the extractor lacks
        raise BenchbedError(f"torch-fidelity refused the {extractor} metrics: {exc}") from exc
    out = FidelityResult(info=info, features=features)
    if isc:
        out.inception_score = float(metrics[torch_fidelity.KEY_METRIC_ISC_MEAN])
        out.inception_score_std = float(metrics[torch_fidelity.KEY_METRIC_ISC_STD])
    if fid:
        out.fid = float(metrics[torch_fidelity.KEY_METRIC_FID])
    if kid:
        out.kid = float(metrics[torch_fidelity.KEY_METRIC_KID_MEAN])
        out.kid_std = float(metrics[torch_fidelity.KEY_METRIC_KID_STD])
    return out


def independent_classifier_accuracy(samples: torch.Tensor, labels: torch.Tensor, *, extractor: str,
                                    dataset: str, device="cpu") -> dict[str, Any] | None:
    """How often a classifier that is not the sampled model calls a "class y" sample a y (percent).

    The classifier is the track's feature extractor when it has a head over the dataset's classes: the
    digits extractor (``digits-cnn``) does; Inception's 1008 ImageNet classes are not CIFAR's, so there
    the answer is None. The samples go in as the extractor sees them for FID (8-bit quantised).
    ``"correct"``: the per-sample flags (a numpy bool array, for the Wilson interval; not JSON)."""
    if CLASSIFYING_EXTRACTORS.get(extractor) != dataset:
        return None
    from benchbed.generative.extractor import load_net, uint8_to_unit

    net = load_net(device=device)
    x = to_uint8(samples)
    with torch.no_grad():
        pred = torch.cat([net(uint8_to_unit(x[i:i + 1000]).to(device)).argmax(1).cpu()
                          for i in range(0, len(x), 1000)])
    hit = (pred == labels.cpu()).float()
    per_class = [100.0 * float(hit[labels == y].mean()) if bool((labels == y).any()) else None
                 for y in range(int(net.head.out_features))]
    correct = hit.numpy().astype(bool)
    return {"classifier": extractor, "accuracy": percent_true(correct),  # as the record's `percent` reduction
            "per_class": per_class, "correct": correct}
