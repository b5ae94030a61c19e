"""The digits zoo's JEM / DAT / WEAT maths against explicit reference computations on tiny tensors
(hand-written formulas, scikit-learn's ROC AUC, torch's own AveragedModel for DAT's EMA)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("benchbed_digits_zoo.plugin",
                    reason="plugin not installed: pip install -e plugins/benchbed-digits-zoo")

from benchbed_digits_zoo import data, joint, losses, maths, recipes  # noqa: E402

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


def _buffer(n: int = 50) -> torch.Tensor:
    buffer = torch.full((n, 1, 2, 2), 7.0)  # outside [0, 1]: fresh noise is told apart from buffer entries
    buffer[:, 0, 0, 0] = torch.arange(float(n))  # and each entry is told apart from the others
    return buffer


def _from_noise(starts: torch.Tensor) -> torch.Tensor:
    return (starts <= 1.0).flatten(1).all(1) & (starts >= 0.0).flatten(1).all(1)


def test_replay_buffer_draw_is_jems_per_sample_bernoulli_reinitialisation():
    """As JEM's sample_p_0: random indices, fresh U noise for the batch, a Bernoulli(p) choice per sample."""
    buffer = _buffer()
    starts, idx = maths.draw_from_buffer(buffer, 64, 0.3, torch.Generator().manual_seed(0))
    reference = torch.Generator().manual_seed(0)
    ref_idx = torch.randint(0, 50, (64,), generator=reference)
    ref_noise = torch.rand((64, 1, 2, 2), generator=reference)
    choose = (torch.rand(64, generator=reference) < 0.3).float()[:, None, None, None]
    assert torch.equal(idx, ref_idx)
    assert torch.equal(starts, choose * ref_noise + (1 - choose) * buffer[ref_idx])
    from_noise = _from_noise(starts)
    assert torch.equal(from_noise, choose.flatten().bool())
    assert torch.equal(starts[~from_noise], buffer[idx[~from_noise]])  # the others are the drawn entries


@pytest.mark.parametrize("probability", [0.0, 1.0])
def test_replay_buffer_draw_edge_probabilities(probability):
    starts, _ = maths.draw_from_buffer(_buffer(), 40, probability, torch.Generator().manual_seed(1))
    assert int(_from_noise(starts).sum()) == int(40 * probability)


def test_replay_buffer_reinitialisation_count_is_binomial_not_fixed():
    """The number restarted per batch of 64 varies (Binomial(64, 0.05): mean 3.2, sd 1.74), unlike a fixed 3."""
    generator = torch.Generator().manual_seed(2)
    counts = torch.tensor([int(_from_noise(maths.draw_from_buffer(_buffer(), 64, 0.05, generator)[0]).sum())
                           for _ in range(2000)], dtype=torch.float64)
    mean_sd = math.sqrt(64 * 0.05 * 0.95 / 2000)
    assert abs(counts.mean().item() - 3.2) < 4 * mean_sd
    assert counts.var().item() == pytest.approx(64 * 0.05 * 0.95, rel=0.15)
    assert len(set(counts.tolist())) > 4


def test_batches_stream_is_a_reshuffled_drop_last_cycle():
    images, labels = torch.arange(10.0).view(10, 1), torch.arange(10)
    stream = data.Batches(images, labels, 4, torch.Generator().manual_seed(3))
    got = [next(stream) for _ in range(6)]  # three passes of two full batches (2 of 10 images dropped per pass)
    reference = torch.Generator().manual_seed(3)
    for p in range(3):
        order = torch.randperm(10, generator=reference)
        for b in range(2):
            x, y = got[2 * p + b]
            assert torch.equal(y, order[4 * b:4 * b + 4]) and torch.equal(x.view(-1).long(), y)
        seen = torch.cat([got[2 * p][1], got[2 * p + 1][1]])
        assert len(set(seen.tolist())) == 8  # no image twice within a pass
    assert not torch.equal(torch.cat([g[1] for g in got[:2]]), torch.cat([g[1] for g in got[2:4]]))
    with pytest.raises(ValueError, match="cannot fill one batch"):
        data.Batches(images[:3], labels[:3], 4, torch.Generator())


def test_jem_objective_is_ce_on_the_labelled_stream_plus_the_energy_term_and_writes_samples_back():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    x, y = torch.rand(5, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1])
    x_lab_all, y_lab_all = torch.rand(12, 1, 2, 2), torch.randint(0, 3, (12,))
    settings = recipes.JemSettings(sgld_steps=0, buffer_size=8, reinit_probability=0.0, data_noise=0.0)
    labelled = data.Batches(x_lab_all, y_lab_all, 5, torch.Generator().manual_seed(4))
    objective = joint.JemObjective(settings, (1, 2, 2), torch.Generator().manual_seed(1), labelled)
    x_lab, y_lab = next(data.Batches(x_lab_all, y_lab_all, 5, torch.Generator().manual_seed(4)))
    x_q, _ = maths.draw_from_buffer(objective.buffer.clone(), 5, 0.0, torch.Generator().manual_seed(2))
    loss = objective(model, x, y, torch.Generator().manual_seed(2))
    # the CE is on the labelled batch, the energy term on the loop's batch x (whose labels JEM ignores)
    expected = F.cross_entropy(model(x_lab), y_lab) + maths.jem_energy_loss(model(x), model(x_q))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert F.cross_entropy(model(x), y).item() != pytest.approx(F.cross_entropy(model(x_lab), y_lab).item())
    twin = joint.JemObjective(settings, (1, 2, 2), torch.Generator().manual_seed(1),
                              data.Batches(x_lab_all, y_lab_all, 5, torch.Generator().manual_seed(4)))
    assert twin(model, x, (y + 1) % 3, torch.Generator().manual_seed(2)).item() == loss.item()

    settings = recipes.JemSettings(sgld_steps=3, buffer_size=1000, reinit_probability=0.5)
    objective = joint.JemObjective(settings, (1, 2, 2), torch.Generator().manual_seed(1), labelled)
    samples = objective.sample(model, 4, torch.Generator().manual_seed(3))
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


def test_ema_decay_warms_up_to_dats_0999():
    assert [maths.ema_decay(n, 0.999) for n in (0, 1, 90)] == pytest.approx([1 / 10, 2 / 11, 91 / 100])
    assert maths.ema_decay(8989, 0.999) < 0.999 and maths.ema_decay(8990, 0.999) == pytest.approx(0.999)
    assert maths.ema_decay(10 ** 6, 0.999) == 0.999


def _bn_model() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 2))


def test_model_ema_matches_torch_averaged_model_with_dats_decay_and_batchnorm_statistics():
    from torch.optim.swa_utils import AveragedModel

    torch.manual_seed(0)
    model = _bn_model()
    ours = joint.ModelEma(model, 0.999)
    decay = lambda n: min(0.999, (1 + int(n)) / (10 + int(n)))  # noqa: E731
    reference = AveragedModel(model, avg_fn=lambda a, p, n: decay(n) * a + (1 - decay(n)) * p, use_buffers=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(25):  # each step moves the weights and the batch-norm running statistics
        loss = model(torch.randn(8, 3)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        ours.update(model)
        reference.update_parameters(model)
    ours_bn, ref_bn, model_bn = ours.model[1], reference.module[1], model[1]
    for name in ("0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"):
        assert torch.allclose(ours.model.state_dict()[name], reference.module.state_dict()[name], atol=1e-6), name
    for stat in ("running_mean", "running_var"):
        assert torch.allclose(getattr(ours_bn, stat), getattr(ref_bn, stat), atol=1e-6), stat
        assert not torch.allclose(getattr(ours_bn, stat), getattr(model_bn, stat)), stat  # averaged, not copied
    assert ours.updates == 25


def test_model_ema_first_update_copies_and_leaves_other_buffers_alone():
    torch.manual_seed(0)
    model = _bn_model()
    model.register_buffer("constant", torch.tensor([0.3]))
    ema = joint.ModelEma(model, 0.999)
    with torch.no_grad():
        model[0].weight.add_(1.0)
        model.constant.fill_(5.0)
    ema.update(model)
    assert torch.equal(ema.model[0].weight, model[0].weight) and ema.model.constant.item() == pytest.approx(0.3)
    with torch.no_grad():
        model[0].weight.add_(1.0)
    ema.update(model)  # decay 2/11: one step of 1.0 moves the average by 9/11
    assert torch.allclose(ema.model[0].weight, model[0].weight - 2 / 11)


def _classifier_stream() -> data.Batches:
    """DAT's classification batches for the tests: 12 fixed images in batches of 4 (the adversary below is
    the identity, so x_adv is the batch itself)."""
    fixed = torch.Generator().manual_seed(8)
    images, labels = torch.rand(12, 1, 2, 2, generator=fixed), torch.randint(0, 3, (12,), generator=fixed)
    return data.Batches(images, labels, 4, torch.Generator().manual_seed(9))


def _dat(settings: recipes.DatSettings, model):
    return joint.DatObjective(settings, model, lambda m, x, y, g: x, _classifier_stream())


def test_dat_curriculum_lengthens_generation_once_the_windowed_auc_reaches_the_threshold():
    model = torch.nn.Linear(2, 2)
    dat = _dat(recipes.DatSettings(auc_window=3, auc_threshold=0.8, max_steps=2), model)
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


def test_dat_curriculum_reads_the_auc_of_the_class_logit_not_of_logsumexp():
    """DAT's metrics.py scores real and generated images by model(x, y) = f(x)[y]."""
    from sklearn.metrics import roc_auc_score

    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    dat = _dat(recipes.DatSettings(start_steps=0), model)
    x, y = torch.rand(16, 1, 2, 2), torch.randint(0, 3, (16,))
    dat(model, x, y, torch.Generator().manual_seed(5))
    seeds = maths.ood_seeds(x, torch.Generator().manual_seed(5), 3)  # 0 steps: the generated images are the seeds
    with torch.no_grad():
        real, generated = model(x), model(seeds)
    labels = [1] * 16 + [0] * 16
    on_class_logit = roc_auc_score(labels, torch.cat([maths.joint_logit(real, y), maths.joint_logit(generated, y)]))
    on_logsumexp = roc_auc_score(labels, torch.cat([real.logsumexp(1), generated.logsumexp(1)]))
    assert dat.last["auc"] == pytest.approx(on_class_logit) and on_class_logit != pytest.approx(on_logsumexp)


def test_dat_classifier_term_uses_its_own_batch_stream():
    torch.manual_seed(4)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    dat = _dat(recipes.DatSettings(start_steps=0), model)
    x_clf, y_clf = next(_classifier_stream())
    x, y = torch.rand(4, 1, 2, 2), torch.randint(0, 3, (4,))
    loss = dat(model, x, y, torch.Generator().manual_seed(6))
    seeds = maths.ood_seeds(x, torch.Generator().manual_seed(6), 3)
    expected = maths.bce_energy_loss(model(x), model(seeds)) + F.cross_entropy(model(x_clf), y_clf)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_dat_generation_ascends_the_joint_logit_and_the_final_model_is_the_ema():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    dat = _dat(recipes.DatSettings(gen_step_size=0.05), model)
    dat.steps = 4
    seeds, y = torch.full((3, 1, 2, 2), 0.5), torch.tensor([0, 1, 2])
    generated = dat.generate(model, seeds, y)
    with torch.no_grad():
        before, after = model(seeds).gather(1, y[:, None]), model(generated).gather(1, y[:, None])
    assert (after > before).all()
    assert ((generated - seeds).flatten(1).norm(dim=1) <= 4 * 0.05 + 1e-6).all()
    for _ in range(2):
        with torch.no_grad():
            model[1].weight.add_(1.0)
        dat.after_step(model)
    final = dat.final_model(model)
    assert final is dat.ema.model and final is not model and not torch.equal(final[1].weight, model[1].weight)


# -- WEAT --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["nat", "adv"])
def test_weat_losses_match_the_hand_written_formula(monkeypatch, variant):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    x, y = torch.rand(4, 1, 2, 2), torch.tensor([0, 1, 2, 1])
    x_star = (x + 0.1).clamp(0, 1)
    monkeypatch.setattr(losses, "trades_inner", lambda *args, **kwargs: x_star)
    loss = (losses.weat_nat_loss if variant == "nat" else losses.weat_loss)(model, x, y, None)
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
        total += weight * (ce + recipes.BETA * kl)
    assert loss.item() == pytest.approx(total / 4, rel=1e-5)


# -- schedules ----------------------------------------------------------------------------------------
def test_piecewise_lr_factor_and_the_series_lr():
    factor = lambda step: maths.piecewise_lr_factor(step, 10, (2, 3), 0.1)  # noqa: E731
    assert [factor(s) for s in (0, 19, 20, 29, 30, 99)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])
    assert maths.piecewise_lr_factor(0, 10, (), 0.1, warmup_steps=4) == pytest.approx(0.25)
    assert maths.piecewise_lr_factor(3, 10, (), 0.1, warmup_steps=4) == pytest.approx(1.0)
    steps_per_epoch = 22
    for epoch in (1, 100, 101, 150, 151, 200):
        expected = recipes.SERIES_LR * maths.piecewise_lr_factor((epoch - 1) * steps_per_epoch, steps_per_epoch,
                                                                 recipes.SERIES_MILESTONES, recipes.SERIES_GAMMA)
        assert recipes.series_lr_at(epoch) == pytest.approx(expected)
