"""Scale-free alignment, the TRADES decomposition and the papers' PGD final-iterate protocol (issue 13)."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.special import logsumexp, softmax
from scipy.stats import wasserstein_distance

from benchbed.builtin.energy import KINDS, column_name, columns, compute_energy
from benchbed.contracts.reductions import column_values
from benchbed.functional.energy import normalised_statistics, scale_free, trades_decomposition
from benchbed.functional.pgd import pgd_final_iterate, runner_up


@pytest.fixture
def rng():
    return np.random.default_rng(13)


def test_normalised_statistics_match_numpy(rng):
    e_nat = rng.normal(-5, 2.0, 200)
    j_nat = rng.normal(-7, 3.0, 200)
    covered = rng.random(200) < 0.6
    e_adv = e_nat[covered] + rng.normal(0.5, 1.0, covered.sum())
    j_adv = j_nat[covered] + rng.normal(0.2, 0.7, covered.sum())
    gap, joint_gap = e_nat[covered] - e_adv, j_nat[covered] - j_adv
    stats = {"w1": wasserstein_distance(e_nat[covered], e_adv), "abs_gap_mean": np.abs(gap).mean(),
             "gap_std": gap.std(), "joint_gap_std": joint_gap.std()}
    got = normalised_statistics(stats, e_nat, j_nat)
    assert got["w1_rel"] == pytest.approx(stats["w1"] / np.std(e_nat))
    assert got["abs_gap_rel"] == pytest.approx(np.mean(np.abs(gap)) / np.std(e_nat))
    assert got["gap_std_rel"] == pytest.approx(np.std(gap) / np.std(e_nat))
    assert got["joint_gap_std_rel"] == pytest.approx(np.std(joint_gap) / np.std(j_nat))


def test_scale_free_needs_a_spread():
    assert scale_free(1.0, 0.0) != scale_free(1.0, 0.0)  # NaN
    assert math.isnan(scale_free(1.0, math.nan))
    assert scale_free(3.0, 2.0) == 1.5


@pytest.mark.parametrize("scale", [0.1, 7.0])
def test_relative_columns_divide_by_the_natural_spread(rng, scale):
    """Each _rel column is its raw column over std E(x) (std E(x, y) for the joint one); the joint one,
    exactly homogeneous in the logits, is unchanged when every logit is multiplied by c > 0."""
    nat, adv, y = rng.normal(0, 3, (100, 10)), rng.normal(0, 3, (100, 10)), rng.integers(0, 10, 100)

    def arrays(c):
        e = -logsumexp(c * nat, axis=1)
        out = {"energy_nat": e, "joint_energy_nat": -c * nat[np.arange(100), y]}
        for kind in KINDS:
            for suffix in ("", "_pgd"):
                out[f"energy_adv_{kind}{suffix}"] = -logsumexp(c * adv, axis=1)
                out[f"joint_energy_adv_{kind}{suffix}"] = -c * adv[np.arange(100), y]
                out[f"trades_kl_{kind}{suffix}"] = np.zeros(100)
                out[f"trades_joint_term_{kind}{suffix}"] = np.zeros(100)
        return column_values(columns(), out)

    base, scaled = arrays(1.0), arrays(scale)
    for kind in KINDS:
        for stem in ("w1", "abs_gap_mean", "gap_std"):
            raw = scaled[column_name(stem, kind)]
            rel = scaled[column_name({"w1": "w1_rel", "abs_gap_mean": "abs_gap_rel", "gap_std": "gap_std_rel"}[stem],
                                     kind)]
            assert rel == pytest.approx(raw / scaled["energy_nat_std"])
        joint_rel = scaled[column_name("joint_gap_std_rel", kind)]
        assert joint_rel == pytest.approx(base[column_name("joint_gap_std_rel", kind)])  # exactly homogeneous


def loop_kl_and_terms(z, z_adv):
    """KL(p || q) and its two energy terms, one point and one class at a time."""
    kls, joints, margins = [], [], []
    for row, row_adv in zip(z, z_adv):
        p, q = softmax(row), softmax(row_adv)
        e, e_adv = -logsumexp(row), -logsumexp(row_adv)
        kls.append(sum(p[k] * math.log(p[k] / q[k]) for k in range(len(row))))
        joints.append(sum(p[k] * ((-row_adv[k]) - (-row[k])) for k in range(len(row))))
        margins.append(e - e_adv)
    return np.array(kls), np.array(joints), np.array(margins)


@pytest.mark.parametrize("spread", [1.0, 8.0])
def test_trades_terms_add_up_to_the_kl(rng, spread):
    z, z_adv = rng.normal(0, spread, (64, 10)), rng.normal(0, spread, (64, 10))
    kl, joint, marginal = trades_decomposition(z, z_adv)
    reference = F.kl_div(torch.log_softmax(torch.tensor(z_adv), 1), torch.log_softmax(torch.tensor(z), 1),
                         log_target=True, reduction="none").sum(1).numpy()
    np.testing.assert_allclose(kl, reference, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(joint + marginal, reference, rtol=1e-9, atol=1e-10)
    loop = loop_kl_and_terms(z, z_adv)
    for got, want in zip((kl, joint, marginal), loop):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10)


def test_trades_kl_is_zero_for_identical_logits(rng):
    z = rng.normal(0, 4, (10, 5))
    kl, joint, marginal = trades_decomposition(z, z + 3.0)  # a shift changes energies, not p
    np.testing.assert_allclose(kl, 0, atol=1e-12)
    np.testing.assert_allclose(marginal, 3.0)
    np.testing.assert_allclose(joint, -3.0)


def loop_pgd(model, x, y, eps, steps, start, targeted):
    """A bare per-point Linf PGD: one image at a time, final iterate."""
    out = []
    size = eps / 4  # torchattacks PGD's alpha / eps (2/255 at 8/255)
    for i in range(len(x)):
        xi = x[i:i + 1]
        adv = (xi + start[i:i + 1]).clamp(0, 1)
        for _ in range(steps):
            adv = adv.clone().requires_grad_(True)
            loss = F.cross_entropy(model(adv), y[i:i + 1])
            (g,) = torch.autograd.grad(-loss if targeted else loss, adv)
            adv = torch.min(torch.max(adv.detach() + size * g.sign(), xi - eps), xi + eps).clamp(0, 1)
        out.append(adv)
    return torch.cat(out)


@pytest.mark.parametrize("targeted", [False, True])
def test_pgd_final_iterate_matches_a_bare_loop(targeted):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)).double().float()
    x = torch.rand(12, 1, 8, 8)
    y = torch.randint(0, 10, (12,))
    targets = runner_up(model(x).detach(), y) if targeted else None
    got = pgd_final_iterate(model, x, y, norm="Linf", eps=0.1, steps=5, generator=torch.Generator().manual_seed(3),
                            targets=targets, batch_size=5)
    start = (torch.rand(x.shape, generator=torch.Generator().manual_seed(3)) * 2 - 1) * 0.1
    want = loop_pgd(model, x, targets if targeted else y, 0.1, 5, start, targeted)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)
    assert float((got - x).abs().max()) <= 0.1 + 1e-6 and got.min() >= 0 and got.max() <= 1


def test_runner_up_skips_the_label():
    logits = torch.tensor([[5.0, 4.0, 1.0], [0.0, 1.0, 3.0]])
    assert runner_up(logits, torch.tensor([0, 2])).tolist() == [1, 1]


def test_pgd_protocol_covers_every_point_and_matches_a_hand_computation(tiny_digits_mlp, digits_test, make_context):
    from benchbed.builtin.autoattack import run_autoattack
    from benchbed.builtin.energy import pgd_final_iterates
    from benchbed.contracts.specs import AttackSpec

    ctx = make_context(tiny_digits_mlp, digits_test, eps=0.05, n=40, block_size=20,
                       attack=AttackSpec(name="autoattack", norms=("Linf",), run=run_autoattack),
                       options={"version": "custom", "attacks": ["apgd-ce", "apgd-t"]})
    out = compute_energy(ctx)
    values = column_values(columns(), out.arrays)
    finals = pgd_final_iterates(ctx)
    with torch.no_grad():
        nat = tiny_digits_mlp(ctx.images).double().numpy()
    e_nat = -logsumexp(nat, axis=1)
    for kind in KINDS:
        assert values[column_name("n", kind, "pgd")] == 40  # misclassified points included
        with torch.no_grad():
            adv = tiny_digits_mlp(finals[kind]).double().numpy()
        e_adv = -logsumexp(adv, axis=1)
        assert values[column_name("w1_rel", kind, "pgd")] == pytest.approx(
            wasserstein_distance(e_nat, e_adv) / e_nat.std(), rel=1e-4)
        kl = F.kl_div(torch.log_softmax(torch.tensor(adv), 1), torch.log_softmax(torch.tensor(nat), 1),
                      log_target=True, reduction="none").sum(1).numpy()
        assert values[column_name("kl", kind, "pgd")] == pytest.approx(kl.mean(), rel=1e-4)
        assert values[column_name("kl", kind, "pgd")] == pytest.approx(
            values[column_name("joint_term", kind, "pgd")] + values[column_name("marginal_term", kind, "pgd")],
            rel=1e-6, abs=1e-9)
    # the second block's draws do not depend on the first: a context of only points 20..39 agrees
    rest = SimpleNamespace(images=digits_test.images[20:], labels=digits_test.labels[20:])
    ctx2 = make_context(tiny_digits_mlp, rest, eps=0.05, n=20, block_size=20, attack=ctx.attack_spec)
    ctx2.indices = np.arange(20, 40)
    torch.testing.assert_close(pgd_final_iterates(ctx2)[KINDS[0]], finals[KINDS[0]][20:])


def test_relative_columns_are_declared():
    cols = {c.name: c for c in columns()}
    assert cols["energy_w1_rel_untargeted"].headline and not cols["energy_w1_rel_untargeted_pgd"].headline
    assert not cols["energy_w1_untargeted"].headline
    for name, col in cols.items():
        if "_rel_" in name:
            assert col.higher_is_better is False and col.unit == "std E(x)"
        if name.endswith("_pgd"):
            assert "all test points" in col.protocol
        elif name.startswith(("energy_", "joint_", "trades_")) and "nat" not in name:
            assert "still robust" in col.protocol


def test_an_l1_track_keeps_the_attack_columns_and_says_the_pgd_protocol_did_not_run(tiny_digits_mlp, digits_test,
                                                                                    make_context):
    from benchbed.builtin.autoattack import run_autoattack
    from benchbed.contracts.specs import AttackSpec

    ctx = make_context(tiny_digits_mlp, digits_test, eps=1.0, n=10,
                       attack=AttackSpec(name="autoattack", norms=("L1",), run=run_autoattack),
                       options={"version": "custom", "attacks": ["apgd-ce"]})
    ctx.track = ctx.track.replace(norm="L1")
    out = compute_energy(ctx)
    values = column_values(columns(), out.arrays)
    assert values["energy_n_untargeted"] > 0 and values["energy_n_untargeted_pgd"] == 0
    assert math.isnan(values["energy_w1_rel_untargeted_pgd"])
    assert out.info["x_star_pgd"]["untargeted"].startswith("not run: the PGD protocol supports Linf, L2")
