"""The targeted kind's target on a misclassified point: never the model's own wrong prediction (issue 18).

APGD-T attacks only correctly classified points, whose targets are sort(logits)[-k], k = 2, 3, ...;
benchbed's targeted kinds also run on misclassified points, where the best class other than the label
is the wrong prediction itself -- aiming there makes the model more sure of its error. The target is the
best class other than the label *and* the prediction."""
from __future__ import annotations

import torch

from benchbed.functional import study_attacks as sa
from benchbed.functional.pgd import runner_up, target_order


def test_a_misclassified_point_is_not_aimed_at_its_own_prediction():
    logits = torch.tensor([[0.0, 5.0, 3.0, 1.0]])  # label 0, predicted 1 (wrong)
    assert runner_up(logits, torch.tensor([0])).tolist() == [2]


def test_a_correct_point_gets_apgd_t_targets_in_order():
    torch.manual_seed(0)
    logits = torch.randn(50, 10)
    labels = logits.argmax(dim=1)  # every point correct
    order, valid = target_order(logits, labels)
    apgd_t = torch.stack([logits.sort(dim=1)[1][:, -k] for k in range(2, 11)], dim=1)  # pyautoattack's rule
    assert torch.equal(order[:, :9], apgd_t)
    assert valid[:, :9].all() and not valid[:, 9].any()
    assert torch.equal(runner_up(logits, labels), apgd_t[:, 0])


def test_misclassified_rows_skip_label_and_prediction():
    torch.manual_seed(1)
    logits = torch.randn(40, 6)
    labels = (logits.argmax(dim=1) + 1) % 6  # every point wrong
    order, valid = target_order(logits, labels)
    for i in range(40):  # a hand-written reference: the other classes by decreasing logit
        pred = int(logits[i].argmax())
        want = sorted((k for k in range(6) if k not in (pred, int(labels[i]))), key=lambda k: -float(logits[i, k]))
        assert order[i, :4].tolist() == want
        assert valid[i].tolist() == [True] * 4 + [False] * 2


def test_the_cw_study_attack_on_a_misclassified_point_moves_it_to_another_class():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 4, bias=False))
    with torch.no_grad():
        model[1].weight.copy_(torch.eye(4))  # logits = pixels
    x = torch.tensor([[0.0, 0.5, 0.3, 0.1]]).view(1, 1, 2, 2)
    y = torch.tensor([0])  # predicted 1: misclassified
    x_star, _ = sa.cw_margin_targeted(model, x, y, eps=0.3, steps=30)
    with torch.no_grad():
        assert int(model(x_star).argmax()) == 2  # aimed at class 2, not at the wrong prediction 1
