"""The digits zoo's JEM / DAT / WEAT maths against explicit reference computations on tiny tensors."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("benchbed_digits_zoo.plugin",
                    reason="plugin not installed: pip install -e plugins/benchbed-digits-zoo")

from benchbed_digits_zoo import joint, maths, series, train  # noqa: E402

LOGITS_A = torch.tensor([[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]])
LOGITS_B = torch.tensor([[0.2, 0.1, -0.3], [2.0, 2.0, 2.0], [0.0, -4.0, 1.0]])


def lse(row) -> float:
    return math.log(sum(math.exp(v) for v in row))


def sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


# -- JEM ----------------------------------------------------------------------------------------------
def test_jem_energy_loss_is_mean_data_energy_minus_mean_sample_energy():
    e_data = [-lse(r) for r in LOGITS_A.tolist()]
    e_sample = [-lse(r) for r in LOGITS_B.tolist()]
    expected = sum(e_data) / 2 - sum(e_sample) / 3
    assert maths.jem_energy_loss(LOGITS_A, LOGITS_B).item() == pytest.approx(expected, rel=1e-6)
    expected_penalty = sum(e * e for e in e_data) / 2 + sum(e * e for e in e_sample) / 3
    assert maths.energy_magnitude_penalty(LOGITS_A, LOGITS_B).item() == pytest.approx(expected_penalty, rel=1e-6)


def test_jem_energy_loss_gradient_lowers_data_energy_and_raises_sample_energy():
    data, sample = LOGITS_A.clone().requires_grad_(True), LOGITS_B.clone().requires_grad_(True)
    maths.jem_energy_loss(data, sample).backward()
    # d/dlogits of -lse/n is -softmax/n: descending the loss raises the data logits, lowers the samples'
    assert torch.allclose(data.grad, -F.softmax(LOGITS_A, 1) / 2)
    assert torch.allclose(sample.grad, F.softmax(LOGITS_B, 1) / 3)


def test_sgld_step_adds_the_scaled_gradient_and_noise_then_clips():
    x = torch.tensor([[0.5, 0.99, 0.01]])
    grad = torch.tensor([[0.4, 1.0, -1.0]])
    noise = torch.tensor([[0.01, 0.0, 0.0]])
    out = maths.sgld_step(x, grad, 0.25, noise)
    assert torch.allclose(out, torch.tensor([[0.5 + 0.1 + 0.01, 1.0, 0.0]]))


@pytest.mark.parametrize("batch, fraction, fresh", [(64, 0.05, 3), (100, 0.05, 5), (20, 0.05, 1), (10, 0.0, 0)])
def test_replay_buffer_reinitialises_the_stated_fraction(batch, fraction, fresh):
    assert maths.reinit_count(batch, fraction) == fresh
    buffer = torch.full((50, 1, 2, 2), 7.0)  # outside [0, 1]: fresh noise is told apart from buffer entries
    buffer[:, 0, 0, 0] = torch.arange(50.0)  # and each entry is told apart from the others
    starts, idx = maths.draw_from_buffer(buffer, batch, fraction, torch.Generator().manual_seed(0))
    from_noise = (starts <= 1.0).flatten(1).all(1) & (starts >= 0.0).flatten(1).all(1)
    assert int(from_noise.sum()) == fresh
    assert torch.equal(starts[~from_noise], buffer[idx[~from_noise]])  # the others are the drawn entries


def test_jem_objective_is_ce_plus_the_energy_term_and_writes_samples_back():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    x, y = torch.rand(5, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1])
    settings = joint.JemSettings(sgld_steps=0, buffer_size=8, reinit_fraction=0.0, data_noise=0.0)
    objective = joint.JemObjective(settings, (1, 2, 2), torch.Generator().manual_seed(1))
    replay = torch.Generator().manual_seed(2)
    x_q, _ = maths.draw_from_buffer(objective.buffer.clone(), 5, 0.0, torch.Generator().manual_seed(2))
    loss = objective(model, x, y, replay)
    expected = F.cross_entropy(model(x), y) + maths.jem_energy_loss(model(x), model(x_q))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)

    settings = joint.JemSettings(sgld_steps=3, buffer_size=1000, reinit_fraction=0.5)
    objective = joint.JemObjective(settings, (1, 2, 2), torch.Generator().manual_seed(1))
    generator = torch.Generator().manual_seed(3)
    samples = objective.sample(model, 4, generator)
    _, idx = maths.draw_from_buffer(torch.zeros(1000, 1, 2, 2), 4, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(objective.buffer[idx], samples) and samples.min() >= 0 and samples.max() <= 1


# -- DAT ----------------------------------------------------------------------------------------------
def test_bce_energy_loss_equals_the_hand_written_formula():
    real = [lse(r) for r in LOGITS_A.tolist()]  # logit = logsumexp f(x) = -E(x)
    generated = [lse(r) for r in LOGITS_B.tolist()]
    terms = [-math.log(sigmoid(s)) for s in real] + [-math.log(1.0 - sigmoid(s)) for s in generated]
    assert maths.bce_energy_loss(LOGITS_A, LOGITS_B).item() == pytest.approx(sum(terms) / len(terms), rel=1e-6)


def test_auc_is_the_mann_whitney_statistic():
    from sklearn.metrics import roc_auc_score

    pos, neg = torch.tensor([0.9, 0.4, 0.7, 0.4]), torch.tensor([0.1, 0.4, 0.8])
    pairs = [(p > n) + 0.5 * (p == n) for p in pos.tolist() for n in neg.tolist()]
    assert maths.auc(pos, neg) == pytest.approx(sum(pairs) / len(pairs))
    assert maths.auc(pos, neg) == pytest.approx(roc_auc_score([1] * 4 + [0] * 3, torch.cat([pos, neg]).numpy()))
    assert maths.auc(torch.tensor([2.0, 3.0]), torch.tensor([0.0, 1.0])) == 1.0
    assert maths.auc(torch.tensor([0.0]), torch.tensor([1.0])) == 0.0


def test_l2_ascent_step_moves_each_sample_by_the_step_length():
    x = torch.full((2, 1, 3, 3), 0.5)
    grad = torch.randn(2, 1, 3, 3, generator=torch.Generator().manual_seed(0))
    moved = maths.l2_ascent_step(x, grad, 0.1)
    assert torch.allclose((moved - x).flatten(1).norm(dim=1), torch.tensor([0.1, 0.1]), atol=1e-6)
    assert torch.allclose((moved - x).flatten(1), 0.1 * F.normalize(grad.flatten(1), dim=1), atol=1e-6)
    assert maths.l2_ascent_step(x, grad, 100.0).min() == 0.0  # clipped to the box


def test_ood_seeds_are_noise_shuffled_or_blurred_digits():
    digits = torch.rand(60, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    seeds = maths.ood_seeds(digits, torch.Generator().manual_seed(1))
    again = maths.ood_seeds(digits, torch.Generator().manual_seed(1))
    assert torch.equal(seeds, again) and seeds.shape == digits.shape
    assert seeds.min() >= 0 and seeds.max() <= 1
    blurred = maths.box_blur(digits, 3)
    kinds = {"shuffled": 0, "blurred": 0, "noise": 0}
    for seed, digit, blur in zip(seeds, digits, blurred):
        if torch.allclose(seed, blur):
            kinds["blurred"] += 1
        elif torch.equal(seed.flatten().sort().values, digit.flatten().sort().values):
            kinds["shuffled"] += 1
            assert not torch.equal(seed, digit)
        else:
            kinds["noise"] += 1
    assert all(count > 5 for count in kinds.values()), kinds


def test_box_blur_is_a_replicate_padded_mean_filter():
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 1, 1] = 9.0
    assert torch.allclose(maths.box_blur(x, 1), torch.ones(1, 1, 3, 3))
    assert torch.allclose(maths.box_blur(torch.full((1, 1, 4, 4), 0.3), 2), torch.full((1, 1, 4, 4), 0.3))


def test_ema_update():
    average, current = [torch.tensor([1.0, 2.0])], [torch.tensor([3.0, 0.0])]
    maths.ema_update(average, current, 0.9)
    assert torch.allclose(average[0], torch.tensor([0.9 * 1 + 0.1 * 3, 0.9 * 2]))


def test_dat_curriculum_lengthens_generation_once_the_windowed_auc_reaches_the_threshold():
    model = torch.nn.Linear(2, 2)
    settings = joint.DatSettings(auc_window=3, auc_threshold=0.8, max_steps=2)
    dat = joint.DatObjective(settings, model, adversary=None)
    for value in (0.9, 0.9):  # window not full yet
        dat._advance_curriculum(value)
    assert dat.steps == 0
    dat._advance_curriculum(0.7)  # full, mean 0.83 >= 0.8 -> lengthen, and restart the window
    assert dat.steps == 1 and len(dat.window) == 0
    for value in (0.9, 0.5, 0.7):  # mean 0.7 < 0.8
        dat._advance_curriculum(value)
    assert dat.steps == 1
    for value in (1.0, 1.0, 1.0, 1.0, 1.0, 1.0):
        dat._advance_curriculum(value)
    assert dat.steps == 2  # capped at max_steps


def test_dat_generation_ascends_the_joint_logit_and_the_final_model_is_the_ema():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    dat = joint.DatObjective(joint.DatSettings(gen_step_size=0.05), model, adversary=None)
    dat.steps = 4
    seeds, y = torch.full((3, 1, 2, 2), 0.5), torch.tensor([0, 1, 2])
    generated = dat.generate(model, seeds, y)
    with torch.no_grad():
        before, after = model(seeds).gather(1, y[:, None]), model(generated).gather(1, y[:, None])
    assert (after > before).all()
    assert ((generated - seeds).flatten(1).norm(dim=1) <= 4 * 0.05 + 1e-6).all()
    with torch.no_grad():
        model[1].weight.add_(1.0)
    dat.after_step(model)
    assert dat.final_model(model) is dat.ema and not torch.equal(dat.ema[1].weight, model[1].weight)


# -- WEAT --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["nat", "adv"])
def test_weat_losses_match_the_hand_written_formula(monkeypatch, variant):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    x, y = torch.rand(4, 1, 2, 2), torch.tensor([0, 1, 2, 1])
    x_star = (x + 0.1).clamp(0, 1)
    monkeypatch.setattr(train, "trades_inner", lambda *args, **kwargs: x_star)
    loss = (train.weat_nat_loss if variant == "nat" else train.weat_loss)(model, x, y, None)
    with torch.no_grad():
        nat, adv = model(x).tolist(), model(x_star).tolist()
    total = 0.0
    for i, label in enumerate(y.tolist()):
        weight = 1.0 / math.log(1.0 + math.exp(abs(-lse(nat[i]))))
        ce_row = nat[i] if variant == "nat" else adv[i]
        ce = lse(ce_row) - ce_row[label]
        p = [math.exp(v - lse(nat[i])) for v in nat[i]]
        q = [math.exp(v - lse(adv[i])) for v in adv[i]]
        kl = sum(pk * math.log(pk / qk) for pk, qk in zip(p, q))
        total += weight * (ce + train.BETA * kl)
    assert loss.item() == pytest.approx(total / 4, rel=1e-5)


# -- schedules ----------------------------------------------------------------------------------------
def test_piecewise_lr_factor_and_the_series_lr():
    factor = lambda step: maths.piecewise_lr_factor(step, 10, (2, 3), 0.1)  # noqa: E731
    assert [factor(s) for s in (0, 19, 20, 29, 30, 99)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])
    assert maths.piecewise_lr_factor(0, 10, (), 0.1, warmup_steps=4) == pytest.approx(0.25)
    assert maths.piecewise_lr_factor(3, 10, (), 0.1, warmup_steps=4) == pytest.approx(1.0)
    steps_per_epoch = 22
    for epoch in (1, 100, 101, 150, 151, 200):
        expected = series.SERIES_LR * maths.piecewise_lr_factor((epoch - 1) * steps_per_epoch, steps_per_epoch,
                                                                series.SERIES_MILESTONES, series.SERIES_GAMMA)
        assert series.lr_at(epoch) == pytest.approx(expected)
