"""IS / FID / KID from features (benchbed.functional.fidelity) against torch-fidelity, and their bootstrap
replicates over the generated samples against a hand-written loop of torch-fidelity's own functions."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch_fidelity
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric

from benchbed.contracts.reductions import scalar
from benchbed.functional import fidelity as fm
from benchbed.functional.uncertainty import bootstrap_indices
from benchbed.generative import resampling
from benchbed.generative.fidelity import UInt8Images, compute_fidelity, fidelity_kwargs

KID_KWARGS = dict(kid_kernel="poly", kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1,
                  verbose=False)


@pytest.fixture(scope="module")
def images():
    from benchbed.builtin.dataset_loaders import load_digits_split

    train = load_digits_split("train").images
    noise = torch.rand(120, *train.shape[1:], generator=torch.Generator().manual_seed(3))
    samples = (0.7 * train[300:420] + 0.3 * noise).clamp(0, 1)  # "samples": blurred-by-noise digits
    return samples, train[:300]


def test_kept_features_give_torch_fidelitys_numbers(images, tmp_path):
    samples, reference = images
    ours = compute_fidelity(samples, reference, extractor="digits-cnn", device="cpu", dataset="digits", seed=5,
                            batch_size=64, kid_subsets=20, cache_dir=tmp_path, keep_features=True)
    kwargs = fidelity_kwargs(extractor="digits-cnn", device="cpu", isc=True, fid=True, kid=True, n_samples=120,
                             n_reference=300, seed=5, batch_size=64, weights_path=None, kid_subsets=20)
    direct = torch_fidelity.calculate_metrics(input1=UInt8Images(samples), input2=UInt8Images(reference),
                                              cache=False, **kwargs)
    # the numbers the columns show are torch-fidelity's, unchanged by keeping the features
    assert ours.inception_score == direct["inception_score_mean"]
    assert ours.fid == direct["frechet_inception_distance"]
    assert ours.kid == direct["kernel_inception_distance_mean"]
    f = ours.features
    assert f["isc"].shape == (120, 10) and f["fid"].shape == (120, 128) and f["reference_kid"].shape == (300, 128)
    # the pure functions recompute them from those features
    assert fm.inception_score(f["isc"], 10, seed=5) == pytest.approx(ours.inception_score, rel=1e-12)
    assert fm.fid(f["fid"], f["reference_mu"], f["reference_sigma"]) == pytest.approx(ours.fid, rel=1e-9)
    assert fm.kid(f["kid"], f["reference_kid"], 20, 120, seed=5) == pytest.approx(ours.kid, rel=1e-5, abs=1e-9)


@pytest.fixture(scope="module")
def features():
    rng = np.random.default_rng(7)
    return dict(isc=rng.normal(size=(60, 5)) * 2, fid=rng.normal(size=(60, 6)),
                ref=rng.normal(size=(90, 6)) * 1.2 + 0.3, idx=bootstrap_indices(60, 25, seed=4))


def _torch(x):
    return torch.from_numpy(np.ascontiguousarray(x))


def test_is_and_fid_replicates_equal_a_hand_loop(features):
    idx = features["idx"]
    hand_is = [isc_features_to_metric(_torch(features["isc"][row]), 10, True, 3)["inception_score_mean"]
               for row in idx]
    assert fm.inception_score_replicates(features["isc"], idx, 10, seed=3) == pytest.approx(hand_is, rel=1e-12)
    ref = fid_features_to_statistics(_torch(features["ref"]))
    hand_fid = [fid_statistics_to_metric(fid_features_to_statistics(_torch(features["fid"][row])), ref, False)
                ["frechet_inception_distance"] for row in idx]
    got = fm.fid_replicates(features["fid"], ref["mu"], ref["sigma"], idx)
    assert got == pytest.approx(hand_fid, rel=1e-8)
    assert len(set(np.round(got, 9))) == len(idx)  # every resample scored on its own


@pytest.mark.parametrize("subset_size,route", [(60, "whole"), (40, "counts"), (40, "gather"), (40, "per-subset"),
                                               (40, "torch"), (40, "torch-gather")])
def test_kid_replicates_equal_a_hand_loop(features, monkeypatch, subset_size, route):
    if route in ("gather", "torch-gather"):
        monkeypatch.setattr(fm, "GATHER_COST", 0)
    if route == "per-subset":
        monkeypatch.setattr(fm, "FULL_REFERENCE", 10)
    idx = features["idx"]
    hand = [kid_features_to_metric(_torch(features["fid"][row]), _torch(features["ref"]), kid_subsets=7,
                                   kid_subset_size=subset_size, rng_seed=11, **KID_KWARGS)
            ["kernel_inception_distance_mean"] for row in idx]
    device = "cpu:0" if route.startswith("torch") else "cpu"  # "cpu:0": through torch, as on a GPU
    got = fm.kid_replicates(features["fid"], features["ref"], idx, 7, subset_size, seed=11, device=device)
    assert got == pytest.approx(hand, rel=1e-9, abs=1e-12)


def test_the_interval_is_the_percentile_interval_of_the_replicates(features):
    reps = fm.inception_score_replicates(features["isc"], features["idx"], 10, seed=3)
    reduction = scalar("is", resampled=True)
    iv = reduction.interval_of({"is": np.float64(1.0), "is_resampled": reps})
    assert (iv.low, iv.high) == pytest.approx(tuple(np.quantile(reps, [0.025, 0.975])))
    assert "generated samples" in iv.method
    assert reduction.interval_of({"is": np.float64(1.0)}) is None  # an older result without replicates


def test_one_draw_for_all_scores_and_kid_skipped_past_its_memory_limit(features, monkeypatch):
    ref = fid_features_to_statistics(_torch(features["ref"]))
    given = {"isc": features["isc"], "fid": features["fid"], "reference_mu": ref["mu"],
             "reference_sigma": ref["sigma"], "kid": features["fid"], "reference_kid": features["ref"]}
    reps, info = resampling.sample_replicates(given, isc_splits=10, seed=3, kid_subsets=5, kid_subset_size=40)
    idx = bootstrap_indices(60, 1000, seed=0)
    assert info["resamples"] == 1000 and info["seed"] == 0 and set(reps) == {"is", "fid", "kid"}
    assert reps["fid"][:5] == pytest.approx(fm.fid_replicates(features["fid"], ref["mu"], ref["sigma"], idx[:5]))
    assert reps["kid"][-3:] == pytest.approx(fm.kid_replicates(features["fid"], features["ref"], idx[-3:], 5, 40, 3))
    monkeypatch.setattr(resampling, "KID_MAX_SAMPLES", 50)
    reps, info = resampling.sample_replicates(given, isc_splits=10, seed=3, kid_subsets=5, kid_subset_size=40)
    assert "kid" not in reps and "kernel is too large" in info["skipped"]["kid"]
    # Inception-sized features on 10,000 samples: fewer resamples
    assert resampling.resamples_for(10_000, 2048) == resampling.LARGE_RESAMPLES
    assert resampling.resamples_for(1000, 128) == 1000
