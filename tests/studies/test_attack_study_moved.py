"""The per-attack study's energy statistics are over the points the attack moved, and each row says how
many (issue 18): an attack that leaves a point at x (FAB-T, a minimal-norm attack) must not add dE = 0."""
from __future__ import annotations

import contextlib
from types import SimpleNamespace

import numpy as np
import torch

from benchbed.studies import attack_study


class _Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))

    def forward(self, x):
        return self.body(x)

    def phase(self, _):
        return contextlib.nullcontext()


def test_rows_are_over_the_moved_points_only(monkeypatch):
    torch.manual_seed(0)
    model = _Model()
    x, y = torch.rand(30, 1, 8, 8), torch.randint(0, 10, (30,))
    moved = torch.arange(30) % 3 == 0  # the attack produced an x* for 10 points, left 20 at x
    x_star = torch.where(moved.view(-1, 1, 1, 1), (x + 0.3).clamp(0, 1), x)
    monkeypatch.setattr(attack_study, "run_attack", lambda *a, **k: (x_star, moved, "targeted"))
    monkeypatch.setattr(attack_study, "make_study", lambda setup, kind, **k: k)
    setup = SimpleNamespace(points=SimpleNamespace(images=x, labels=y), model=model,
                            model_spec=SimpleNamespace(name="m"),
                            track=SimpleNamespace(eps=0.3, norm="Linf", n_examples=30, seed=0))
    study, arrays = attack_study.run(setup, attacks=("fab-t",), progress=False)
    row = study["rows"][0]
    with torch.no_grad():  # a hand computation on the moved points only
        nat, adv = model(x).double()[moved], model(x_star).double()[moved]
    gap = (-torch.logsumexp(nat, 1) + torch.logsumexp(adv, 1)).numpy()
    joint_gap = (-nat.gather(1, y[moved].view(-1, 1)) + adv.gather(1, y[moved].view(-1, 1))).numpy().ravel()
    assert row["n"] == 10 and row["moved"] == 10 and row["points"] == 30
    np.testing.assert_allclose(row["ΔE mean"], gap.mean(), rtol=1e-6)
    np.testing.assert_allclose(row["ΔE std"], gap.std(ddof=0), rtol=1e-6)
    np.testing.assert_allclose(row["ΔE(x,y) mean"], joint_gap.mean(), rtol=1e-6)
    np.testing.assert_allclose(row["E(x) mean"], (-torch.logsumexp(nat, 1)).mean().item(), rtol=1e-6)
    with torch.no_grad():  # robust accuracy stays over all points (an unmoved one is scored at x)
        assert row["robust_accuracy"] == 100.0 * float((model(x_star).argmax(1) == y).double().mean())
    assert arrays["fab-t.moved"].tolist() == moved.tolist()
    assert np.isnan(arrays["fab-t.marginal"][~moved.numpy()]).all()  # the histograms: moved points only
    assert np.isfinite(arrays["fab-t.marginal"][moved.numpy()]).all()
