"""The studies' attacks: PGD against a bare torch loop, every attack inside the eps ball and the image
box and deterministic, the CW and KL attacks raise their own losses."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from benchbed.builtin.study_attacks import STUDY_ATTACKS, _run
from benchbed.contracts.specs import AttackRequest
from benchbed.functional import study_attacks as sa

EPS = 0.1
# cheap settings for a tiny model (the attacks' defaults are AutoAttack's)
CHEAP = {"pgd": {}, "apgd-ce": {"n_iter": 10}, "apgd-dlr": {"n_iter": 10},
         "apgd-t": {"n_iter": 10, "n_target_classes": 3},
         "fab-t": {"n_iter": 10, "n_target_classes": 2}, "square": {"n_queries": 50}, "cw-margin-t": {"steps": 10},
         "trades-kl": {}}


def run_plugin(name, model, x, y, norm="Linf", seed=0):
    from benchbed.engine.context import GuardedModel

    function, kind, options, fixed, _, _ = STUDY_ATTACKS[name]

    request = AttackRequest(model=GuardedModel(model, "tiny", 10), images=x.clone(), labels=y.clone(), norm=norm,
                            eps=EPS, seed=seed, device=torch.device("cpu"), batch_size=10, options=CHEAP[name])
    return _run(function, kind, options, fixed, request)


def test_pgd_is_the_bare_torch_loop(tiny_digits_mlp, few_points):
    x, y = few_points
    got, moved = sa.pgd(tiny_digits_mlp, x, y, eps=EPS, seed=3, steps=7, batch_size=10)
    # reference: Madry's PGD written out by hand on the whole batch at once
    g = torch.Generator().manual_seed(3)
    x_adv = (x + (torch.rand(x.shape, generator=g) * 2 - 1) * EPS).clamp(0, 1)
    for _ in range(7):
        x_adv.requires_grad_(True)
        loss = F.cross_entropy(tiny_digits_mlp(x_adv), y, reduction="sum")
        grad, = torch.autograd.grad(loss, x_adv)
        with torch.no_grad():
            x_adv = x_adv + EPS / 4 * grad.sign()
            x_adv = torch.min(torch.max(x_adv, x - EPS), x + EPS).clamp(0, 1)
    assert torch.allclose(got, x_adv, atol=1e-6) and bool(moved.all())


@pytest.mark.parametrize("name", sorted(STUDY_ATTACKS))
def test_each_attack_stays_in_the_ball_and_box_and_repeats_itself(name, tiny_digits_mlp, few_points):
    x, y = few_points
    result = run_plugin(name, tiny_digits_mlp, x, y)
    (iterate,) = result.iterates.values()
    x_star = iterate.images
    assert x_star.shape == x.shape and iterate.mask.shape == (len(y),)
    assert float((x_star - x).abs().max()) <= EPS + 1e-6
    assert float(x_star.min()) >= 0.0 and float(x_star.max()) <= 1.0
    with torch.no_grad():
        robust = tiny_digits_mlp(x_star).argmax(1) == y
    assert torch.equal(result.robust, robust)
    # adversarial: x* where it flipped the point, x elsewhere
    assert torch.equal(result.adversarial[~robust], x_star[~robust])
    assert torch.equal(result.adversarial[robust], x[robust])
    again = run_plugin(name, tiny_digits_mlp, x, y)
    assert torch.equal(next(iter(again.iterates.values())).images, x_star)


@pytest.mark.parametrize("name", ["pgd", "cw-margin-t", "trades-kl"])
def test_the_hand_written_loops_stay_in_the_l2_ball(name, tiny_digits_mlp, few_points):
    x, y = few_points
    x_star = next(iter(run_plugin(name, tiny_digits_mlp, x, y, norm="L2").iterates.values())).images
    assert float((x_star - x).flatten(1).norm(dim=1).max()) <= EPS + 1e-5


def test_cw_margin_and_kl_match_their_formulas():
    torch.manual_seed(0)
    z, t = torch.randn(6, 5), torch.tensor([0, 1, 2, 3, 4, 0])
    expected = [float(z[i, t[i]] - max(z[i, k] for k in range(5) if k != t[i])) for i in range(6)]
    assert torch.allclose(sa.cw_margin(z, t), torch.tensor(expected), atol=1e-6)
    q = torch.randn(6, 5)
    p_, q_ = z.softmax(1), q.softmax(1)
    kl = [sum(float(p_[i, k]) * math.log(float(p_[i, k]) / float(q_[i, k])) for k in range(5)) for i in range(6)]
    assert torch.allclose(sa.kl_divergence(z, q), torch.tensor(kl, dtype=torch.float32), atol=1e-5)
    labels = torch.tensor([0, 0, 0, 0, 0, 0])
    others = [[k for k in range(5) if k not in (0, int(z[i].argmax()))] for i in range(6)]
    assert sa.runner_up(z, labels).tolist() == [max(o, key=lambda k: float(z[i, k])) for i, o in enumerate(others)]


def test_the_cw_attack_raises_its_margin_and_the_kl_attack_its_divergence(tiny_digits_mlp, few_points):
    x, y = few_points
    with torch.no_grad():
        natural = tiny_digits_mlp(x)
    targets = sa.runner_up(natural, y)
    x_cw, _ = sa.cw_margin_targeted(tiny_digits_mlp, x, y, eps=EPS, steps=10)
    with torch.no_grad():
        before, after = sa.cw_margin(natural, targets), sa.cw_margin(tiny_digits_mlp(x_cw), targets)
    assert bool((after > before).all())
    x_kl, _ = sa.trades_kl(tiny_digits_mlp, x, y, eps=EPS, seed=1)
    start = sa.project(x + 0.001 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1)), x, EPS, "Linf")
    with torch.no_grad():
        kl_start = sa.kl_divergence(natural, tiny_digits_mlp(start))
        kl_end = sa.kl_divergence(natural, tiny_digits_mlp(x_kl))
    assert float(kl_end.mean()) > 10 * float(kl_start.mean()) and bool((kl_end >= kl_start).all())


def test_no_attack_touches_the_global_random_state(tiny_digits_mlp, few_points):
    x, y = few_points
    torch.manual_seed(123)
    expected = torch.rand(3)
    for name in ("apgd-ce", "apgd-t", "fab-t", "square"):
        torch.manual_seed(123)
        run_plugin(name, tiny_digits_mlp, x, y, seed=7)
        assert torch.equal(torch.rand(3), expected), name
