"""Overhead of benchbed's SGLD sampler against a bare PyTorch loop with the same forward/backward passes.

    python benchmarks/sampler_overhead.py [--n 1000] [--repeats 5] [--device cpu] [--out FILE]

benchbed side: ``benchbed.generative.sgld.sample_sgld`` exactly as the ``generative`` metric calls it on
``digits-linf`` (per-class PCA seeds fitted on the training split, then 50 SGLD steps in chunks of 500,
seeded generators, the energy trace, one extra no-grad forward pass per chunk for the final energy).
Bare side: the same chunks, 50 x (forward, autograd.grad to the input, update with Gaussian noise, clip)
from uniform noise, nothing else. The model is a small digits CNN (the digits zoo's architecture).
Runs alternate between the two sides; the ratio of the medians (and of the minima, less sensitive
to a busy machine) is printed and written to JSON. Target: <= 1.2.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, 10)).eval()


def bare_loop(model, n, chunk, steps, eta, sigma, device):
    gen = torch.Generator(device=device).manual_seed(0)
    out = []
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        y = (torch.arange(start, start + m) % 10).to(device)
        x = torch.rand((m, 1, 8, 8), generator=gen, device=device)
        for _ in range(steps):
            x.requires_grad_(True)
            energy = -model(x).gather(1, y[:, None]).sum()
            (grad,) = torch.autograd.grad(energy, x)
            noise = torch.randn(x.shape, generator=gen, device=device)
            x = (x.detach() - 0.5 * eta * grad + math.sqrt(2 * eta) * sigma * noise).clamp(0, 1)
        out.append(x.cpu())
    return torch.cat(out)


def benchbed_sampler(model, n, settings, train, device):
    from benchbed.generative.sampling import SampleRequest, class_labels
    from benchbed.generative.sgld import sample_sgld

    request = SampleRequest(model=model, labels=class_labels(n, 10), settings=settings, train=train, num_classes=10,
                            image_shape=(1, 8, 8), device=torch.device(device), seed=0, progress=False)
    return sample_sgld(request)


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def main(argv=None) -> int:
    from benchbed.builtin.dataset_loaders import load_digits_split
    from benchbed.registry import PluginHost

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "sampler_overhead.json")
    args = p.parse_args(argv)

    settings = PluginHost(load_external=False).registry.tracks.get("digits-linf").generation
    train = load_digits_split("train")
    model = small_cnn().to(args.device)
    runs = {
        "bare": lambda: bare_loop(model, args.n, settings.batch_size, settings.steps, settings.step_size,
                                  settings.noise, args.device),
        "benchbed": lambda: benchbed_sampler(model, args.n, settings, train, args.device),
    }
    for fn in runs.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(args.repeats):
        for name, fn in runs.items():
            _sync(args.device)
            t0 = time.perf_counter()
            fn()
            _sync(args.device)
            times[name].append(time.perf_counter() - t0)
    median = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    result = {
        "benchmark": "sampler_overhead", "n_samples": args.n, "steps": settings.steps, "chunk": settings.batch_size,
        "forward_backward_passes": math.ceil(args.n / settings.batch_size) * settings.steps,
        "device": args.device, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(), "seconds": times,
        "median_s": median, "min_s": best,
        "ratio_median": median["benchbed"] / median["bare"], "ratio_min": best["benchbed"] / best["bare"],
        "target": 1.2,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"sampling {args.n} images ({result['forward_backward_passes']} forward/backward passes of chunks of "
          f"{settings.batch_size}) on {args.device}: benchbed {median['benchbed']:.3f}s, bare loop "
          f"{median['bare']:.3f}s (medians of {args.repeats}); ratio {result['ratio_median']:.3f} "
          f"(of minima {result['ratio_min']:.3f}), target <= 1.2\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
