"""The APGD component capture in run_autoattack: AutoAttack's numbers unchanged, x* well formed."""
from __future__ import annotations

import logging

import pytest
import torch
from pyautoattack import AutoAttack

from benchbed.builtin.autoattack import ComponentRecorder, run_autoattack
from benchbed.contracts.specs import AttackRequest

CUSTOM = {"version": "custom", "attacks": ["apgd-ce", "apgd-t"]}


def direct(model, x, y, *, eps, seed, batch_size, norm="Linf", **kwargs):
    logging.getLogger("auto-attack").setLevel(logging.WARNING)
    adversary = AutoAttack(model, norm=norm, eps=eps, seed=seed, device="cpu", **kwargs)
    return adversary.run_standard_evaluation(x, y, batch_size=batch_size)


def request(model, x, y, *, eps, seed, batch_size, options, norm="Linf"):
    return AttackRequest(model=model, images=x, labels=y, norm=norm, eps=eps, seed=seed,
                         device=torch.device("cpu"), batch_size=batch_size, options=options)


@pytest.fixture(scope="module")
def custom_run(tiny_digits_mlp, digits_test):
    """APGD-CE + APGD-T at an eps where APGD-CE leaves robust points for APGD-T (two batches)."""
    x, y = digits_test.images[:60], digits_test.labels[:60]
    kwargs = dict(eps=0.04, seed=7, batch_size=32)
    x_direct, y_direct = direct(tiny_digits_mlp, x, y, version="custom", attacks=CUSTOM["attacks"], **kwargs)
    result = run_autoattack(request(tiny_digits_mlp, x, y, options=CUSTOM, **kwargs))
    return x, y, x_direct, y_direct, result


def test_robust_accuracy_equals_direct_pyautoattack(custom_run):
    x, y, x_direct, y_direct, result = custom_run
    assert torch.equal(result.robust, y_direct == y)
    assert torch.equal(result.adversarial, x_direct)
    assert 0 < int(result.robust.sum()) < len(y)  # the eps leaves work for both components


def test_standard_version_equals_direct_pyautoattack(tiny_digits_mlp, digits_test):
    # a large eps: APGD-CE flips every point, so FAB-T and Square have nothing left (fast)
    x, y = digits_test.images[:40], digits_test.labels[:40]
    kwargs = dict(eps=0.3, seed=3, batch_size=500)
    x_direct, y_direct = direct(tiny_digits_mlp, x, y, version="standard", **kwargs)
    result = run_autoattack(request(tiny_digits_mlp, x, y, options={"version": "standard"}, **kwargs))
    assert torch.equal(result.robust, y_direct == y)
    assert torch.equal(result.adversarial, x_direct)
    assert set(result.iterates) == {"untargeted", "targeted"}
    assert {k: it.source for k, it in result.iterates.items()} == {"untargeted": "apgd-ce", "targeted": "apgd-t"}
    assert not result.iterates["targeted"].mask.any()  # nothing survived APGD-CE
    assert torch.equal(result.iterates["targeted"].images, x)  # unattacked points: the natural image


def test_masks_follow_autoattack(custom_run, tiny_digits_mlp):
    x, y, _, _, result = custom_run
    with torch.no_grad():
        clean_correct = tiny_digits_mlp(x).argmax(1) == y
    ce, t = result.iterates["untargeted"].mask, result.iterates["targeted"].mask
    assert torch.equal(ce, clean_correct)  # APGD-CE attacks every correctly classified point
    assert not (t & ~ce).any()  # APGD-T attacks only points APGD-CE did not flip
    assert int(t.sum()) == int(ce.sum()) - result.flipped_by["apgd-ce"]
    assert not (result.robust & ~t).any()  # every robust point went through APGD-T


def test_x_star_in_threat_model(custom_run):
    x, _, _, _, result = custom_run
    for iterate in result.iterates.values():
        x_star, mask = iterate.images, iterate.mask
        assert x_star.shape == x.shape and x_star.dtype == x.dtype
        distance = (x_star - x).abs().flatten(1).amax(1)
        assert float(distance[mask].max()) <= 0.04 + 1e-6
        assert float(distance[mask].max()) > 0.0
        assert torch.equal(x_star[~mask], x[~mask])
        assert float(x_star.min()) >= 0.0 and float(x_star.max()) <= 1.0


def test_untargeted_x_star_is_the_max_loss_iterate(custom_run, tiny_digits_mlp):
    """For points APGD-CE flipped, AutoAttack returns an iterate of the same run; x* is that run's
    highest-cross-entropy iterate, so its loss is at least as high."""
    x, y, _, _, result = custom_run
    flipped_by_ce = result.iterates["untargeted"].mask & ~result.iterates["targeted"].mask
    assert flipped_by_ce.any()
    with torch.no_grad():
        ce_star = torch.nn.functional.cross_entropy(
            tiny_digits_mlp(result.iterates["untargeted"].images[flipped_by_ce]), y[flipped_by_ce], reduction="none")
        ce_adv = torch.nn.functional.cross_entropy(
            tiny_digits_mlp(result.adversarial[flipped_by_ce]), y[flipped_by_ce], reduction="none")
    assert bool((ce_star >= ce_adv - 1e-4).all())


def test_capture_off_gives_no_components(tiny_digits_mlp, digits_test):
    x, y = digits_test.images[:10], digits_test.labels[:10]
    result = run_autoattack(request(tiny_digits_mlp, x, y, eps=0.3, seed=0, batch_size=500,
                                    options={"version": "custom", "attacks": ["apgd-ce"]}), capture=False)
    assert result.iterates == {}


def test_l1_schedule_records_only_the_final_eps(tiny_digits_mlp, digits_test):
    """L1 'standard' runs APGD with the decreasing-eps schedule (3, 2, 1 x eps) and 5 restarts; x*
    must come from the final run, inside the eps ball, and AutoAttack's output must not change."""
    x, y = digits_test.images[:12], digits_test.labels[:12]
    eps = 2.0
    logging.getLogger("auto-attack").setLevel(logging.WARNING)

    def adversary():
        aa = AutoAttack(tiny_digits_mlp, norm="L1", eps=eps, seed=5, device="cpu", version="standard")
        aa.attacks_to_run = ["apgd-ce"]
        aa.apgd.n_iter = aa.apgd.n_iter_orig = 20
        return aa

    x_direct, y_direct = adversary().run_standard_evaluation(x, y, batch_size=500)
    wrapped = adversary()
    recorder = ComponentRecorder(x, y)
    recorder.attach(wrapped)
    x_wrapped, y_wrapped = wrapped.run_standard_evaluation(x, y, batch_size=500)
    assert torch.equal(x_wrapped, x_direct) and torch.equal(y_wrapped, y_direct)
    iterate = recorder.iterate("apgd-ce")
    mask = iterate.mask
    assert mask.any()
    l1 = (iterate.images - x).abs().flatten(1).sum(1)
    assert float(l1[mask].max()) <= eps * (1 + 1e-4)


def test_duplicate_points_are_matched(tiny_digits_mlp, digits_test):
    """Identical (image, label) rows each get an x*; the capture never mixes up distinct points."""
    x = torch.cat([digits_test.images[:8], digits_test.images[:4]])
    y = torch.cat([digits_test.labels[:8], digits_test.labels[:4]])
    kwargs = dict(eps=0.04, seed=1, batch_size=500)
    x_direct, y_direct = direct(tiny_digits_mlp, x, y, version="custom", attacks=["apgd-ce"], **kwargs)
    result = run_autoattack(request(tiny_digits_mlp, x, y, options={"version": "custom", "attacks": ["apgd-ce"]},
                                    **kwargs))
    assert torch.equal(result.robust, y_direct == y)
    mask = result.iterates["untargeted"].mask
    with torch.no_grad():
        assert torch.equal(mask, tiny_digits_mlp(x).argmax(1) == y)
    distance = (result.iterates["untargeted"].images - x).abs().flatten(1).amax(1)
    assert float(distance[mask].max()) <= 0.04 + 1e-6
