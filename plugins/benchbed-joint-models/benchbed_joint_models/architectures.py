"""The two papers' CIFAR-10 networks, with the parameter names of their released state dicts.

Re-written from reading the public code (wgrathwohl/JEM ``wideresnet.py``, ``eval_wrn_ebm.py``;
xuwangyin/DAT ``rebm/models/wide_resnet_innoutrobustness.py``); nothing is copied. Both take benchbed's
[0, 1] images and apply the input normalisation their training used inside ``forward``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# -- JEM: WideResNet-28-10 without normalisation layers, leaky ReLU 0.2, on [-1, 1] inputs ----------------


class _JemBlock(nn.Module):
    """Pre-activation block; JEM's default ``norm=None`` makes bn1/bn2 identities (no parameters)."""

    def __init__(self, cin: int, cout: int, stride: int, leak: float):
        super().__init__()
        self.bn1, self.bn2 = nn.Identity(), nn.Identity()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=stride, padding=1, bias=True)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=True))
        self.leak = leak

    def forward(self, x):
        out = self.conv1(F.leaky_relu(self.bn1(x), self.leak))
        out = self.conv2(F.leaky_relu(self.bn2(out), self.leak))
        return out + self.shortcut(x)


class _JemTrunk(nn.Module):
    def __init__(self, depth: int, width: int, num_classes: int, leak: float = 0.2):
        super().__init__()
        n = (depth - 4) // 6
        stages = [16, 16 * width, 32 * width, 64 * width]
        self.conv1 = nn.Conv2d(3, stages[0], 3, padding=1, bias=True)
        cin, layers = stages[0], []
        for planes, stride in zip(stages[1:], (1, 2, 2)):
            blocks = []
            for s in [stride] + [1] * (n - 1):
                blocks.append(_JemBlock(cin, planes, s, leak))
                cin = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.bn1 = nn.Identity()
        self.linear = nn.Linear(stages[3], num_classes)  # in JEM's state dict, unused by its classifier
        self.last_dim, self.leak = stages[3], leak

    def forward(self, x):
        out = self.layer3(self.layer2(self.layer1(self.conv1(x))))
        out = F.leaky_relu(self.bn1(out), self.leak)
        return F.adaptive_avg_pool2d(out, 1).flatten(1)  # == avg_pool2d(out, 8) on 32x32 inputs


class JemClassifier(nn.Module):
    """JEM's ``CCF``: logits = class_output(f(x')), x' = 2x - 1 (JEM trains on [-1, 1] images)."""

    def __init__(self, depth: int = 28, width: int = 10, num_classes: int = 10):
        super().__init__()
        self.f = _JemTrunk(depth, width, num_classes)
        self.energy_output = nn.Linear(self.f.last_dim, 1)
        self.class_output = nn.Linear(self.f.last_dim, num_classes)

    def forward(self, x):
        return self.class_output(self.f(2.0 * x - 1.0))


# -- DAT: WideResNet-34-10 (InNOutRobustness' variant), CIFAR-10 mean/std normalisation inside ------------
CIFAR10_MEAN = (0.4913997551666284, 0.48215855929893703, 0.4465309133731618)
CIFAR10_STD = (0.24703225141799082, 0.24348516474564, 0.26158783926049628)


class _DatBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.equal = cin == cout
        self.convShortcut = None if self.equal else nn.Conv2d(cin, cout, 1, stride=stride, bias=False)

    def forward(self, x):
        pre = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(pre))))
        return (x if self.equal else self.convShortcut(pre)) + out


class _DatGroup(nn.Module):
    def __init__(self, n: int, cin: int, cout: int, stride: int):
        super().__init__()
        self.layer = nn.Sequential(*[_DatBlock(cin if i == 0 else cout, cout, stride if i == 0 else 1)
                                     for i in range(n)])

    def forward(self, x):
        return self.layer(x)


class DatWideResNet(nn.Module):
    """DAT's classifier: (x - mean) / std, WRN trunk, BN-ReLU, global average pool, ``fc``."""

    def __init__(self, depth: int = 34, width: int = 10, num_classes: int = 10):
        super().__init__()
        n = (depth - 4) // 6
        stages = [16, 16 * width, 32 * width, 64 * width]
        self.register_buffer("mean", torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CIFAR10_STD).view(1, 3, 1, 1), persistent=False)
        self.conv1 = nn.Conv2d(3, stages[0], 3, padding=1, bias=False)
        self.block1 = _DatGroup(n, stages[0], stages[1], 1)
        self.block2 = _DatGroup(n, stages[1], stages[2], 2)
        self.block3 = _DatGroup(n, stages[2], stages[3], 2)
        self.bn1 = nn.BatchNorm2d(stages[3])
        self.fc = nn.Linear(stages[3], num_classes)

    def forward(self, x):
        out = self.conv1((x - self.mean) / self.std)
        out = F.relu(self.bn1(self.block3(self.block2(self.block1(out)))))
        return self.fc(F.adaptive_avg_pool2d(out, 1).flatten(1))


def clean_dat_state_dict(state: dict) -> dict:
    """DAT's checkpoints as saved: plain, ``module.``-prefixed (DataParallel), or an EMA average
    (``module.n_averaged`` plus ``module.module.``-prefixed weights); ``base_model.`` prefixes too."""
    state = dict(state)
    state.pop("module.n_averaged", None)
    state.pop("n_averaged", None)
    out = {}
    for key, value in state.items():
        for prefix in ("module.module.", "module.", "base_model."):
            if key.startswith(prefix):
                key = key[len(prefix):]
                break
        out[key] = value
    return out
