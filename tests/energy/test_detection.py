"""OOD detection (energy score, max softmax), ECE and the embedded digits OOD set (issue 13)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import logsumexp, softmax
from sklearn.metrics import roc_auc_score

from benchbed.builtin.detection import DETECTION, DETECTION_CIFAR100
from benchbed.contracts.errors import BenchbedError
from benchbed.contracts.reductions import column_values
from benchbed.functional.detection import auroc, energy_score, expected_calibration_error, max_softmax
from benchbed.functional.ood import digits_ood_images


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.mark.parametrize("tied", [False, True])
def test_auroc_matches_sklearn(rng, tied):
    a, b = rng.normal(1, 1, 300), rng.normal(0, 1, 200)
    if tied:
        a, b = np.round(a), np.round(b)
    expected = roc_auc_score(np.r_[np.ones(a.size), np.zeros(b.size)], np.r_[a, b])
    assert auroc(a, b) == pytest.approx(expected, rel=1e-12)
    assert np.isnan(auroc([], b))


def test_scores_match_scipy(rng):
    z = rng.normal(0, 5, (50, 10))
    np.testing.assert_allclose(energy_score(z), logsumexp(z, axis=1))
    np.testing.assert_allclose(max_softmax(z), softmax(z, axis=1).max(1))


def loop_ece(confidence, correct, bins=15):
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [i for i, c in enumerate(confidence) if (lo < c <= hi) or (b == 0 and c == 0)]
        if inside:
            acc = sum(correct[i] for i in inside) / len(inside)
            conf = sum(confidence[i] for i in inside) / len(inside)
            total += len(inside) / len(confidence) * abs(acc - conf)
    return total


def test_ece_matches_a_hand_loop(rng):
    confidence = rng.uniform(0.1, 1.0, 400)
    correct = rng.random(400) < confidence ** 2
    confidence[:3] = [1.0, 1 / 15, 2 / 15]  # bin edges belong to the lower bin
    assert expected_calibration_error(confidence, correct) == pytest.approx(loop_ece(confidence, correct), abs=1e-12)
    assert expected_calibration_error(np.ones(5), np.ones(5)) == 0.0


def test_digits_ood_points_are_fixed_by_their_index():
    whole = digits_ood_images(range(12))
    assert whole.shape == (12, 1, 8, 8)
    torch.testing.assert_close(digits_ood_images([3, 9]), whole[[3, 9]])
    levels = whole * 16
    torch.testing.assert_close(levels, levels.round())  # on the digits' 17 grey levels
    assert float(whole.min()) >= 0 and float(whole.max()) <= 1
    assert not torch.equal(whole[0], whole[1])


def test_detection_metric_matches_sklearn(tiny_digits_mlp, digits_test, make_context):
    from benchbed.builtin.energy import pgd_final_iterates

    ctx = make_context(tiny_digits_mlp, digits_test, eps=0.05, n=30, attack=None, metrics=("detection",))
    out = DETECTION.compute(ctx)
    values = column_values(DETECTION.columns, out.arrays)
    with torch.no_grad():
        nat = tiny_digits_mlp(ctx.images).double().numpy()
        adv = tiny_digits_mlp(pgd_final_iterates(ctx)["untargeted"]).double().numpy()
        ood = tiny_digits_mlp(digits_ood_images(range(30))).double().numpy()
    labels = np.r_[np.ones(30), np.zeros(30)]
    for name, score in (("energy", lambda z: logsumexp(z, axis=1)), ("msp", lambda z: softmax(z, axis=1).max(1))):
        assert values[f"ood_auroc_{name}"] == pytest.approx(100 * roc_auc_score(labels, np.r_[score(nat), score(ood)]))
        assert values[f"ood_auroc_{name}_adv"] == pytest.approx(
            100 * roc_auc_score(labels, np.r_[score(adv), score(ood)]))
        assert values[f"adv_detect_auroc_{name}"] == pytest.approx(
            100 * roc_auc_score(labels, np.r_[score(nat), score(adv)]))
    correct = nat.argmax(1) == ctx.labels.numpy()
    assert values["ece"] == pytest.approx(100 * loop_ece(softmax(nat, axis=1).max(1), correct), abs=1e-9)
    assert out.info == {"ood_set": "digits-ood"}


def test_a_dataset_without_an_ood_set_is_a_one_line_error(tiny_digits_mlp, digits_test, make_context):
    ctx = make_context(tiny_digits_mlp, digits_test, n=5, attack=None, metrics=("detection_cifar100",))
    with pytest.raises(BenchbedError, match="no OOD set for dataset 'digits'") as err:
        DETECTION_CIFAR100.compute(ctx)
    assert "\n" not in str(err.value)
