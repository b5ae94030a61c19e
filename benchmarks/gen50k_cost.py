"""Per-sample CPU cost of the 50,000-sample joint track (cifar10-l2-joint50k) on CIFAR-sized models.

    python benchmarks/gen50k_cost.py [--threads 1] [--batch 8]

Times one sampler step (forward + backward to the input) of a WideResNet-28-10 (JEM's CIFAR-10 network;
DAT's WRN-34-10 costs ~1.2x more: 34 vs 28 layers of the same widths) on 32x32 images, and one
Inception-v3 forward at 299x299 (torchvision's architecture, random weights: the same operations as
torch-fidelity's), per image. Prints JSON with the projected CPU hours for 50,000 samples.
"""
from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout), nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.short = None if cin == cout and stride == 1 else nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x):
        o = torch.relu(self.bn1(x))
        y = self.conv2(torch.relu(self.bn2(self.conv1(o))))
        return y + (x if self.short is None else self.short(o))


def wide_resnet(depth: int = 28, width: int = 10, num_classes: int = 10) -> nn.Module:
    n = (depth - 4) // 6
    widths = [16, 16 * width, 32 * width, 64 * width]
    layers: list[nn.Module] = [nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)]
    cin = widths[0]
    for i, stride in zip(range(1, 4), (1, 2, 2)):
        for j in range(n):
            layers.append(_Block(cin, widths[i], stride if j == 0 else 1))
            cin = widths[i]
    layers += [nn.BatchNorm2d(cin), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers)


def per_image(fn, batch: int, repeats: int = 2) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / (repeats * batch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    wrn = wide_resnet().eval()
    x = torch.rand(args.batch, 3, 32, 32)

    def step():
        xi = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(wrn(xi)[:, 0].sum(), xi)
        return g

    t_step = per_image(step, args.batch)
    from torchvision.models import inception_v3

    inc = inception_v3(weights=None, aux_logits=True, init_weights=False).eval()
    xi = torch.rand(args.batch, 3, 299, 299)
    with torch.no_grad():
        t_inc = per_image(lambda: inc(xi), args.batch)
    n = 50_000
    out = {"threads": args.threads, "wrn28_10_step_s_per_image": round(t_step, 4),
           "inception_forward_s_per_image": round(t_inc, 4)}
    for name, steps in (("dat-pgd (33 steps)", 33), ("jem-sgld-conditional (5 passes x 20 steps)", 100),
                        ("jem-sgld (6.4 visits x 40 steps)", 256)):
        per_sample = steps * t_step + t_inc  # + Inception features of the sample (reference stats are cached)
        out[name] = {"s_per_sample": round(per_sample, 3), "cpu_hours_50k": round(per_sample * n / 3600, 1)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
