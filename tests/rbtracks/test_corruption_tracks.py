"""The corruption tracks on small files in the published layouts, checked against direct computations
(scipy's W1, scikit-learn's AUROC, a hand-written loop over the .npy blocks and JPEG folders)."""
import numpy as np
import pytest
import torch
from PIL import Image
from scipy.stats import wasserstein_distance
from sklearn.metrics import roc_auc_score

import benchbed
from benchbed.builtin import imagenet
from benchbed.builtin.corruptions import CORRUPTIONS, SEVERITIES
from benchbed.contracts.specs import LabelledImages
from benchbed.engine.preflight import preflight
from benchbed.registry import PluginHost

from .rb_files import (
    RES224,
    WNIDS,
    ids_sha256,
    registry_with_clean,
    tiny_cifar_model,
    tiny_imagenet_model,
    write_cifar_c,
    write_imagenet,
    write_imagenet_c,
)

N = 6


def energy(logits: torch.Tensor) -> np.ndarray:
    return (-torch.logsumexp(logits.double(), dim=1)).numpy()


def direct_numbers(model, clean: torch.Tensor, labels: torch.Tensor, corrupted) -> dict[str, float]:
    """The metric's columns by hand; ``corrupted(c, s)`` gives the float images of (corruption, severity)."""
    out, correct, e_cor = {}, {}, {}
    with torch.no_grad():
        e_nat = energy(model(clean))
        for c in CORRUPTIONS:
            for s in SEVERITIES:
                logits = model(corrupted(c, s))
                correct[c, s] = (logits.argmax(1) == labels).numpy()
                e_cor[c, s] = energy(logits)
                out[f"corruption_accuracy_{c}_s{s}"] = 100.0 * correct[c, s].mean()
    out["corruption_accuracy"] = float(np.mean([out[f"corruption_accuracy_{c}_s{s}"]
                                                for c in CORRUPTIONS for s in SEVERITIES]))
    for s in SEVERITIES:
        pooled = np.concatenate([e_cor[c, s] for c in CORRUPTIONS])
        out[f"corruption_accuracy_s{s}"] = float(np.mean([out[f"corruption_accuracy_{c}_s{s}"] for c in CORRUPTIONS]))
        out[f"corruption_energy_s{s}"] = pooled.mean()
        out[f"corruption_delta_energy_s{s}"] = float(np.mean([e_cor[c, s] - e_nat for c in CORRUPTIONS]))
        out[f"corruption_energy_w1_s{s}"] = wasserstein_distance(e_nat, pooled)
        truth = np.r_[np.ones(len(e_nat)), np.zeros(len(pooled))]
        out[f"corruption_ood_auroc_s{s}"] = 100.0 * roc_auc_score(truth, np.r_[-e_nat, -pooled])
    for c in CORRUPTIONS:
        out[f"corruption_accuracy_{c}"] = float(np.mean([out[f"corruption_accuracy_{c}_s{s}"] for s in SEVERITIES]))
    out["corruption_energy_nat"] = e_nat.mean()
    return out


def assert_numbers(result, expected):
    for column, value in expected.items():
        assert result[column] == pytest.approx(value, rel=1e-6, abs=1e-9), column


@pytest.fixture
def cifar10_c(tmp_path):
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 10, N)
    clean = LabelledImages(torch.from_numpy(rng.random((N, 3, 32, 32), dtype=np.float32)), torch.from_numpy(labels))
    write_cifar_c(tmp_path, "CIFAR-10-C", labels)
    return tmp_path, clean


def test_cifar10_c_end_to_end_matches_a_direct_computation(cifar10_c):
    data_dir, clean = cifar10_c
    model = tiny_cifar_model()
    reg = registry_with_clean("cifar10", clean)
    result = benchbed.evaluate(model, track="cifar10-corruptions", n_examples=N, data_dir=data_dir, device="cpu",
                               progress=False, name="tiny", registry=reg)

    def corrupted(c, s):  # block s of the published file: rows (s - 1) * n ... s * n
        block = np.load(data_dir / "CIFAR-10-C" / f"{c}.npy")[(s - 1) * N:s * N]
        return torch.from_numpy(block).permute(0, 3, 1, 2).float() / 255.0

    expected = direct_numbers(model, clean.images, clean.labels, corrupted)
    assert len(expected) == 1 + 5 + 15 + 75 + 1 + 4 * 5
    assert_numbers(result, expected)
    assert result.arrays["corruption_correct"].shape == (N, 15, 5)
    assert result.record.metric_info["corruptions"]["source"] == "CIFAR-10-C"


def test_shards_merge_to_the_unsharded_numbers(cifar10_c, tmp_path_factory):
    from benchbed.engine.runner import run_track
    from benchbed.results.store import ResultsStore

    data_dir, clean = cifar10_c
    model = tiny_cifar_model()
    reg = registry_with_clean("cifar10", clean)
    whole = benchbed.evaluate(model, track="cifar10-corruptions", n_examples=N, data_dir=data_dir, device="cpu",
                              progress=False, name="tiny", registry=reg)
    track = reg.tracks.get("cifar10-corruptions").replace(name="c10c-small", n_examples=N, block_size=2)
    spec = benchbed.api.adhoc_spec(model, track, "tiny")
    reg = reg.with_model(spec, "test")
    out = tmp_path_factory.mktemp("results")
    run_track(track, registry=reg, models=["tiny"], shards=3, results_dir=out, data_dir=data_dir,
              device="cpu", show_progress=False, run_log=False)
    (sharded,) = ResultsStore(out).records(track.name)
    assert len(sharded.units) == 3
    assert sharded.metrics["corruption_accuracy"] == whole["corruption_accuracy"]
    # shards of 2 points batch the forward passes differently: float32 logits may differ in the last bits
    for column in ("corruption_energy_w1_s3", "corruption_ood_auroc_s5", "corruption_delta_energy_s1"):
        assert sharded.metrics[column] == pytest.approx(whole[column], rel=1e-5)


def test_labels_that_do_not_match_the_clean_split_fail_the_metric(cifar10_c):
    data_dir, clean = cifar10_c
    wrong = LabelledImages(clean.images, (clean.labels + 1) % 10)
    reg = registry_with_clean("cifar10", wrong)
    result = benchbed.evaluate(tiny_cifar_model(), track="cifar10-corruptions", n_examples=N, data_dir=data_dir,
                               device="cpu", progress=False, name="tiny", registry=reg)
    assert "labels of gaussian_noise (severity 1) differ" in result.record.metric_errors["corruptions"]


def test_preflight_lists_the_missing_corruption_files(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, N)
    clean = LabelledImages(torch.zeros((N, 3, 32, 32)), torch.from_numpy(labels))
    reg = registry_with_clean("cifar10", clean)
    track = reg.tracks.get("cifar10-corruptions").replace(n_examples=N)
    (problem,) = preflight(track, list(track.metrics), reg, tmp_path)
    assert f"{tmp_path / 'CIFAR-10-C'} not found" in problem and "https://zenodo.org/record/2535967" in problem
    write_cifar_c(tmp_path, "CIFAR-10-C", labels, corruptions=("fog", "snow"))
    (problem,) = preflight(track, list(track.metrics), reg, tmp_path)
    assert "13 file(s) missing" in problem and "gaussian_noise.npy" in problem and "fog.npy" not in problem
    write_cifar_c(tmp_path, "CIFAR-10-C", labels)
    assert preflight(track, list(track.metrics), reg, tmp_path) == []
    (problem,) = preflight(track.replace(n_examples=N + 1), list(track.metrics), reg, tmp_path)[:1]
    assert f"has {N} images per severity" in problem and f"needs {N + 1}" in problem
    np.save(tmp_path / "CIFAR-10-C" / "fog.npy", np.zeros((5 * N, 32, 32), dtype=np.uint8))
    problems = preflight(track, list(track.metrics), reg, tmp_path)
    assert len(problems) == 1 and "expected uint8 (5 x n, 32, 32, 3)" in problems[0]


def test_imagenet_c_end_to_end_matches_a_direct_computation(tmp_path, monkeypatch):
    n = 2
    model = tiny_imagenet_model()
    ids = write_imagenet(tmp_path, n, model)
    monkeypatch.setattr(imagenet, "IDS_SHA256", ids_sha256(tmp_path))
    reg = PluginHost(load_external=False).registry
    track = reg.tracks.get("imagenet-corruptions").replace(n_examples=n)
    assert "ImageNet-C" in preflight(track, list(track.metrics), reg, tmp_path)[0]
    write_imagenet_c(tmp_path, ids)
    assert preflight(track, list(track.metrics), reg, tmp_path) == []
    result = benchbed.evaluate(model, track="imagenet-corruptions", n_examples=n, data_dir=tmp_path, device="cpu",
                               progress=False, name="tiny", registry=reg)
    clean = imagenet.load_imagenet("test", tmp_path)
    labels = torch.tensor([WNIDS.index(i.split("/")[0]) for i in ids])

    def corrupted(c, s):
        stack = []
        for name in ids:
            with Image.open(tmp_path / "ImageNet-C" / c / str(s) / name) as image:
                stack.append(RES224(image.convert("RGB")))
        return torch.stack(stack)

    assert_numbers(result, direct_numbers(model, clean.images[:n], labels, corrupted))
    (tmp_path / "ImageNet-C" / "fog" / "3" / ids[0]).unlink()
    (problem,) = preflight(track, list(track.metrics), reg, tmp_path)
    assert "ImageNet-C fog severity 3: 1 of the 2 images" in problem and ids[0] in problem
