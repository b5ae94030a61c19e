"""What the energy metric costs on top of robust accuracy (target: at most 10% more time).

    python benchmarks/energy_overhead.py                      # digits zoo standard + TRADES, if installed
    python benchmarks/energy_overhead.py --model tiny --n 200 --repeats 3 --out /tmp/energy_overhead.json

For each model, on the same points, device and AutoAttack settings, in one process, interleaved
``--repeats`` times (medians reported), it times:

- ``direct``:     ``pyautoattack.AutoAttack(...).run_standard_evaluation`` called directly;
- ``plain``:      benchbed's robust accuracy with the APGD capture off (what robust accuracy alone
                  needs; ``run_autoattack(request, capture=False)``);
- ``captured``:   benchbed's robust accuracy as it runs now (capture on);
- ``with_energy``: ``captured`` + the ``energy`` metric on the same evaluation context.

and prints ``with_energy / plain`` (the overhead of adding the energy metric, target <= 1.10) and
``captured / direct`` (the overhead of the capture wrapping vs a plain pyautoattack call). Wall
time and process CPU time are both recorded: on a shared machine the CPU time is the steadier one.
It also checks that every variant gives the same robust flags.
"""
from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from benchbed.builtin.autoattack import run_autoattack
from benchbed.builtin.dataset_loaders import load_digits_split
from benchbed.builtin.energy import compute_energy
from benchbed.builtin.metrics import robust_accuracy
from benchbed.contracts.specs import AttackSpec, LabelledImages, ModelSpec, TrackSpec
from benchbed.engine.context import EvaluationContext
from benchbed.engine.devices import device_name, resolve_device

ZOO_MODELS = ("digits-cnn-standard", "digits-cnn-trades")


def tiny_model() -> torch.nn.Module:
    """A small CNN trained for a few seconds on the digits training split (standard training)."""
    from torch import nn

    torch.manual_seed(0)
    train = load_digits_split("train")
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(1024, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        opt.zero_grad()
        nn.functional.cross_entropy(model(train.images), train.labels).backward()
        opt.step()
    return model.eval()


def load_models(names: list[str], device) -> list[tuple[str, torch.nn.Module]]:
    out = []
    registry = None
    for name in names:
        if name == "tiny":
            out.append((name, tiny_model().to(device)))
            continue
        if registry is None:
            from benchbed import registry as plugin_registry
            registry = plugin_registry.registry()
        if name not in registry.items["models"]:
            print(f"skipping {name}: not installed (pip install -e plugins/benchbed-digits-zoo)", file=sys.stderr)
            continue
        out.append((name, registry.models.get(name).load(device)))
    return out


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def context(model, track: TrackSpec, points: LabelledImages, device, capture: bool) -> EvaluationContext:
    spec = ModelSpec(name="bench", dataset="digits", threat_models=(track.norm,), architecture="-",
                     recipe="-", loader=lambda d: model)
    attack = AttackSpec(name="autoattack", norms=(track.norm,),
                        run=lambda request: run_autoattack(request, capture=capture))
    return EvaluationContext(model=model, model_spec=spec, track=track, dataset=None, points=points,
                             indices=np.arange(len(points)), device=device, attack=attack)


def measure(model, track: TrackSpec, points: LabelledImages, device, repeats: int) -> dict:
    from pyautoattack import AutoAttack

    options = dict(track.attack_options)
    version = options.pop("version", "standard")

    def direct():
        adversary = AutoAttack(model, norm=track.norm, eps=track.eps, version=version, seed=track.seed,
                               device=device, **options)
        _, y_adv = adversary.run_standard_evaluation(points.images, points.labels, batch_size=track.batch_size)
        return (y_adv.cpu() == points.labels).numpy()

    def benchbed_run(capture: bool, energy: bool):
        ctx = context(model, track, points, device, capture)
        flags = robust_accuracy(ctx).arrays["robust"]
        if energy:
            compute_energy(ctx)
        return flags

    variants = {
        "direct": direct,
        "plain": lambda: benchbed_run(False, False),
        "captured": lambda: benchbed_run(True, False),
        "with_energy": lambda: benchbed_run(True, True),
    }
    times = {name: {"wall_s": [], "cpu_s": []} for name in variants}
    flags = {}
    for _ in range(repeats):
        for name, fn in variants.items():
            value, wall, cpu = timed(fn)
            times[name]["wall_s"].append(wall)
            times[name]["cpu_s"].append(cpu)
            flags[name] = value
    same = all(np.array_equal(flags["direct"], f) for f in flags.values())
    median = {name: {k: statistics.median(v) for k, v in t.items()} for name, t in times.items()}
    ratios = {}
    for clock in ("wall_s", "cpu_s"):
        ratios[f"with_energy_over_plain_{clock[:-2]}"] = median["with_energy"][clock] / median["plain"][clock]
        ratios[f"captured_over_direct_{clock[:-2]}"] = median["captured"][clock] / median["direct"][clock]
    return {"times": times, "median": median, "ratios": ratios, "same_robust_flags": same,
            "robust_accuracy": float(100 * flags["direct"].mean())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", help="zoo model name or 'tiny' (repeatable); "
                        f"default: {', '.join(ZOO_MODELS)} if installed, else tiny")
    parser.add_argument("--n", type=int, default=449, help="digits test points (default: all 449)")
    parser.add_argument("--eps", type=float, default=0.1)
    parser.add_argument("--version", default="standard")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: torch default)")
    parser.add_argument("--out", default="energy_overhead.json")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.getLogger("auto-attack").setLevel(logging.WARNING)
    device = resolve_device(args.device)
    names = args.model or list(ZOO_MODELS)
    models = load_models(names, device)
    if not models:
        models = load_models(["tiny"], device)
    test = load_digits_split("test")
    points = LabelledImages(test.images[: args.n], test.labels[: args.n])
    track = TrackSpec(name="digits-linf", dataset="digits", norm="Linf", eps=args.eps, n_examples=args.n,
                      attack_options={"version": args.version}, batch_size=500, block_size=500)
    report = {"device": device_name(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
              "n_examples": args.n, "eps": args.eps, "version": args.version, "repeats": args.repeats,
              "target_with_energy_over_plain": 1.10, "models": {}}
    for name, model in models:
        result = measure(model, track, points, device, args.repeats)
        report["models"][name] = result
        r, m = result["ratios"], result["median"]
        print(f"{name}: robust accuracy {result['robust_accuracy']:.1f}%  same flags: {result['same_robust_flags']}")
        for variant, t in m.items():
            print(f"  {variant:12s} wall {t['wall_s']:8.2f} s   cpu {t['cpu_s']:8.2f} s")
        print(f"  with_energy / plain   : wall {r['with_energy_over_plain_wall']:.3f}  "
              f"cpu {r['with_energy_over_plain_cpu']:.3f}  (target <= 1.10)")
        print(f"  captured / direct     : wall {r['captured_over_direct_wall']:.3f}  "
              f"cpu {r['captured_over_direct_cpu']:.3f}")
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
