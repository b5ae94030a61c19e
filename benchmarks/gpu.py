"""Throughput on whatever device is here: images/s for clean logits, AutoAttack (standard), APGD-CE, the
energy metric's PGD, the SGLD sampler and feature extraction, written as JSON (one run on a lent GPU
gives the numbers).

    python benchmarks/gpu.py                                   # best device; default batch sizes for it
    python benchmarks/gpu.py --quick --out /tmp/gpu.json       # 1% of the images: a check, not a measurement
    python benchmarks/gpu.py --device cpu --threads 1 --scale 0.1 --out /tmp/gpu.json

Workloads (the models benchbed ships, so it runs offline):

- ``resnet18-cifar``: the AutoAttack example ResNet-18 (CIFAR-10 shape, 3x32x32; its checkpoint ships
  in the pyautoattack wheel) on random images labelled with the model's own predictions, so APGD-CE
  attacks every point (APGD only attacks points classified correctly);
- ``digits-cnn``: the digits zoo's standard CNN on the 449 digits test images (1x8x8).

AutoAttack runs through benchbed's own adapter (the built-in ``autoattack`` attack, version standard:
APGD-CE, APGD-T, FAB-T, Square), the energy PGD is the energy metric's final-iterate PGD (20 steps).
Per workload and stage it records the batch size, the number of images, the seconds (after one warm-up
batch, with the device synchronised) and images/s. Feature extraction runs torch-fidelity's IS on the
digits extractor (``digits-cnn``; Inception weights are not needed). ``--scale`` shrinks the image
counts for a quick CPU check. Batch sizes default to what fills the device: larger on CUDA.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from benchbed.engine.devices import device_name, resolve_device

# images per stage at scale 1, and batch sizes per device kind
COUNTS = {"logits": 10_000, "autoattack": 500, "apgd-ce": 1_000, "energy-pgd": 1_000, "sgld": 2_000,
          "features": 10_000}
BATCH = {"cuda": {"logits": 2_000, "autoattack": 500, "apgd-ce": 1_000, "energy-pgd": 1_000, "sgld": 1_000,
                  "features": 1_000},
         "cpu": {"logits": 500, "autoattack": 250, "apgd-ce": 250, "energy-pgd": 250, "sgld": 500, "features": 200}}
QUICK_SCALE = 0.01  # --quick: a check (counts never below 16, AutoAttack's at least 8)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device) -> float:
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def stage(name: str, n: int, batch: int, seconds: float) -> dict:
    return {"stage": name, "images": n, "batch_size": batch, "seconds": round(seconds, 6),
            "images_per_s": round(n / seconds, 2) if seconds > 0 else None}


def bench_logits(model, x, batch, device) -> dict:
    x = x.to(device)  # data moved once

    def run():
        with torch.no_grad():
            for i in range(0, len(x), batch):
                model(x[i:i + batch])

    with torch.no_grad():
        model(x[:batch])  # warm-up
    return stage("clean logits", len(x), batch, timed(run, device))


def bench_apgd(model, x, batch, device) -> dict:
    from pyautoattack.autopgd_base import APGDAttack

    x = x.to(device)
    with torch.no_grad():
        y = torch.cat([model(x[i:i + batch]).argmax(1) for i in range(0, len(x), batch)])
    attack = APGDAttack(model, n_iter=100, norm="Linf", eps=8 / 255, seed=0, loss="ce", device=device)
    attack.perturb(x[:min(batch, 16)], y[:min(batch, 16)])  # warm-up

    def run():
        for i in range(0, len(x), batch):
            attack.perturb(x[i:i + batch], y[i:i + batch])

    return stage("APGD-CE (100 steps, 1 restart)", len(x), batch, timed(run, device))


def own_labels(model, x, batch) -> torch.Tensor:
    """The model's predictions: every point starts correctly classified, so every attack works on all."""
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch]).argmax(1) for i in range(0, len(x), batch)])


def bench_autoattack(model, x, batch, device, norm: str, eps: float) -> dict:
    from benchbed.builtin.autoattack import run_autoattack
    from benchbed.contracts.specs import AttackRequest

    y = own_labels(model, x.to(device), batch).cpu()

    def request(n):
        return AttackRequest(model=model, images=x[:n].clone(), labels=y[:n].clone(), norm=norm, eps=eps, seed=0,
                             device=device, batch_size=batch, options={"version": "standard"})

    run_autoattack(request(min(4, len(x))))  # warm-up
    return stage("AutoAttack standard (benchbed's adapter)", len(x), batch,
                 timed(lambda: run_autoattack(request(len(x))), device))


def bench_energy_pgd(model, x, batch, device, norm: str, eps: float) -> dict:
    from benchbed.functional.pgd import PGD_STEPS, pgd_final_iterate

    y = own_labels(model, x.to(device), batch)

    def run(n):
        pgd_final_iterate(model, x[:n], y[:n], norm=norm, eps=eps, generator=torch.Generator().manual_seed(0),
                          device=device, batch_size=batch)

    run(min(batch, 16))  # warm-up
    return stage(f"energy PGD ({PGD_STEPS} steps, final iterate)", len(x), batch, timed(lambda: run(len(x)), device))


def bench_sgld(model, shape, n, batch, num_classes, device) -> dict:
    from benchbed.generative.sgld import sgld

    gen = torch.Generator(device=device if device.type == "cuda" else "cpu").manual_seed(0)
    labels = torch.arange(n, device=device) % num_classes
    x0 = torch.rand((n, *shape), device=device)
    steps = 20
    sgld(model, x0[:min(batch, 16)], labels[:min(batch, 16)], steps=1, step_size=0.8, noise=0.001, momentum=0.0,
         generator=gen)

    def run():
        for i in range(0, n, batch):
            sgld(model, x0[i:i + batch], labels[i:i + batch], steps=steps, step_size=0.8, noise=0.001, momentum=0.0,
                 generator=gen)

    out = stage(f"SGLD ({steps} steps)", n, batch, timed(run, device))
    out["image_steps_per_s"] = round(out["images_per_s"] * steps, 2) if out["images_per_s"] else None
    return out


def bench_features(images, batch, device) -> dict:
    import torch_fidelity

    from benchbed.generative.fidelity import UInt8Images, compute_fidelity, ensure_extractor  # noqa: F401 -- registers extractor

    ensure_extractor("digits-cnn")
    kwargs = dict(cuda=device.type == "cuda", isc=True, fid=False, kid=False, feature_extractor="digits-cnn",
                  batch_size=batch, verbose=False, save_cpu_ram=True, cache=False)
    torch_fidelity.calculate_metrics(input1=UInt8Images(images[:batch * 2]), **kwargs)  # warm-up
    seconds = timed(lambda: torch_fidelity.calculate_metrics(input1=UInt8Images(images), **kwargs), device)
    return stage("feature extraction (torch-fidelity IS, digits-cnn)", len(images), batch, seconds)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", help="cpu, cuda, cuda:N (default: the best available)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--scale", type=float, default=None, help="multiply the image counts (e.g. 0.1 on a CPU)")
    parser.add_argument("--quick", action="store_true", help=f"a quick check: --scale {QUICK_SCALE}")
    parser.add_argument("--workloads", default="resnet18-cifar,digits-cnn",
                        help="comma-separated workloads to run (default: both)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "gpu.json")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    kind = "cuda" if device.type == "cuda" else "cpu"
    scale = args.scale if args.scale is not None else (QUICK_SCALE if args.quick else 1.0)
    count = {k: max(16, int(v * scale)) for k, v in COUNTS.items()}
    if args.quick:
        count["autoattack"] = max(8, int(COUNTS["autoattack"] * scale))
    batch = {k: min(v, count[k]) for k, v in BATCH[kind].items()}
    torch.manual_seed(0)
    from benchbed import registry as plugin_registry
    registry = plugin_registry.registry()
    results = []
    workloads = []
    if "aa-example-resnet18" in registry.models:
        workloads.append(("resnet18-cifar", registry.models.get("aa-example-resnet18").load(device), (3, 32, 32), 10,
                          8 / 255))
    workloads.append(("digits-cnn", registry.models.get("digits-cnn-standard").load(device), (1, 8, 8), 10, 0.1))
    chosen = set(args.workloads.split(","))
    for name, model, shape, classes, eps in (w for w in workloads if w[0] in chosen):
        model.eval()
        x = torch.rand((count["logits"], *shape))
        rows = [bench_logits(model, x, batch["logits"], device),
                bench_autoattack(model, x[:count["autoattack"]], batch["autoattack"], device, "Linf", eps),
                bench_apgd(model, x[:count["apgd-ce"]], batch["apgd-ce"], device),
                bench_energy_pgd(model, x[:count["energy-pgd"]], batch["energy-pgd"], device, "Linf", eps),
                bench_sgld(model, shape, count["sgld"], batch["sgld"], classes, device)]
        for row in rows:
            print(f"{name:15s} {row['stage']:52s} batch {row['batch_size']:5d}  {row['images_per_s']:>12} images/s",
                  flush=True)
        results.append({"workload": name, "image_shape": list(shape), "stages": rows})
    images = torch.rand((count["features"], 1, 8, 8))
    feat = bench_features(images, batch["features"], device)
    print(f"{'digits-cnn':15s} {feat['stage']:52s} batch {feat['batch_size']:5d}  {feat['images_per_s']:>12} images/s")
    results.append({"workload": "digits-extractor", "image_shape": [1, 8, 8], "stages": [feat]})
    out = {"benchmark": "throughput per stage (images/s)", "device": str(device), "device_name": device_name(device),
           "torch": torch.__version__, "threads": torch.get_num_threads(), "scale": scale,
           "machine": platform.processor() or platform.machine(), "load": os.getloadavg(), "results": results}
    if device.type == "cuda":
        out["cuda_memory_peak_bytes"] = torch.cuda.max_memory_allocated(device)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
