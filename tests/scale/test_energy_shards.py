"""The energy metric's PGD final iterates and the detection metric: a sharded run equals an unsharded one
(random starts are seeded per attack block; OOD points are fixed by the test index)."""
from __future__ import annotations

import numpy as np

from .conftest import MODELS, results

METRICS = ("clean_accuracy", "robust_accuracy", "energy", "detection")


def test_energy_and_detection_sharded_equal_unsharded(run, tmp_path):
    run(tmp_path / "one", models=MODELS[:1], metrics=METRICS)
    run(tmp_path / "three", models=MODELS[:1], metrics=METRICS, shards=3)
    one, three = results(tmp_path / "one"), results(tmp_path / "three")
    (metrics_a, arrays_a, _, _), (metrics_b, arrays_b, _, _) = one[MODELS[0]], three[MODELS[0]]
    assert sorted(metrics_a) == sorted(metrics_b)
    assert {"energy_w1_rel_untargeted_pgd", "trades_kl_untargeted_pgd", "ood_auroc_energy", "ece"} <= set(metrics_a)
    np.testing.assert_equal(metrics_a, metrics_b)  # exactly, NaN included (no targeted iterates here)
    assert metrics_a["energy_n_untargeted_pgd"] == 120
    for name in ("energy_adv_untargeted_pgd", "trades_kl_targeted_pgd", "ood_energy_ood", "ood_msp_adv"):
        assert np.array_equal(arrays_a[name], arrays_b[name], equal_nan=True), name
