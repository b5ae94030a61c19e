"""Fast attack mode vs standard AutoAttack on the digits zoo: robust accuracy difference and time ratio.

    python benchmarks/fast_mode.py --threads 1                     # every digits zoo model, all 449 test points
    python benchmarks/fast_mode.py --model digits-cnn-trades --n 200 --out /tmp/fast.json

For each model, on the digits-linf track's points, eps, seed (block 0: seed 0) and batch size, it calls
pyautoattack directly twice -- ``version='standard'`` (APGD-CE, APGD-T, FAB-T, Square) and what
``benchbed run --attack-mode fast`` runs, ``version='custom', attacks=['apgd-ce', 'apgd-t']`` (benchbed's
numbers equal these calls: tests/core/test_attack_mode.py) -- and records robust accuracy (%), wall time
and process CPU time of each. Goal of the fast mode: within 0.1 point of standard at <= 40% of its time.
CPU time is the steadier measure on a shared machine; both are written, with the load average.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

import torch

from benchbed import registry as plugin_registry
from benchbed.builtin.autoattack import FAST_ATTACK_OPTIONS

# "fast" is --attack-mode fast; "ce+dlr" (APGD-CE + untargeted APGD-DLR) is measured as a cheaper candidate
MODES = {"standard": {"version": "standard"}, "fast": FAST_ATTACK_OPTIONS,
         "ce+dlr": {"version": "custom", "attacks": ["apgd-ce", "apgd-dlr"]}}


def attack(model, x, y, *, eps: float, seed: int, batch_size: int, options: dict) -> dict:
    from pyautoattack import AutoAttack

    kwargs = {"attacks": list(options["attacks"])} if "attacks" in options else {}
    adversary = AutoAttack(model, norm="Linf", eps=eps, version=options["version"], seed=seed, device="cpu", **kwargs)
    wall, cpu = time.perf_counter(), time.process_time()
    _, y_adv = adversary.run_standard_evaluation(x, y, batch_size=batch_size)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    robust = int((y_adv == y).sum())
    return {"robust": robust, "robust_accuracy": 100.0 * robust / len(y), "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", help="zoo model (default: every digits-linf model)")
    parser.add_argument("--n", type=int, help="first N test points (default: the track's 449)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "fast_mode.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    logging.getLogger("auto-attack").setLevel(logging.WARNING)
    registry = plugin_registry.registry()
    track = registry.tracks.get("digits-linf")
    names = args.model or [m.name for m in registry.models_for(track)]
    test = registry.datasets.get(track.dataset).load("test")
    n = args.n or track.n_examples
    x, y = test.images[:n], test.labels[:n]
    rows = []
    for name in names:
        model = registry.models.get(name).load("cpu")
        row = {"model": name, "load_before": os.getloadavg()}
        for mode, options in MODES.items():
            row[mode] = attack(model, x, y, eps=track.eps, seed=track.seed, batch_size=track.batch_size,
                               options=options)
        for mode in MODES:
            if mode != "standard":
                row[mode].update(
                    difference_points=round(row[mode]["robust_accuracy"] - row["standard"]["robust_accuracy"], 4),
                    wall_ratio=round(row[mode]["wall_s"] / row["standard"]["wall_s"], 4),
                    cpu_ratio=round(row[mode]["cpu_s"] / row["standard"]["cpu_s"], 4))
        row["load_after"] = os.getloadavg()
        rows.append(row)
        print(f"{name:22s} standard {row['standard']['robust_accuracy']:6.2f}% ({row['standard']['cpu_s']:.1f} s CPU)"
              + "".join(f" | {m} {row[m]['robust_accuracy']:6.2f}% diff {row[m]['difference_points']:+.2f} pt, "
                        f"time/standard cpu {row[m]['cpu_ratio']:.2f} wall {row[m]['wall_ratio']:.2f}"
                        for m in MODES if m != "standard"), flush=True)
    total = {m: sum(r[m]["cpu_s"] for r in rows) for m in MODES}
    out = {"benchmark": "fast attack mode (APGD-CE + APGD-T) vs AutoAttack standard", "track": track.name,
           "n_examples": n, "eps": track.eps, "seed": track.seed, "batch_size": track.batch_size,
           "threads": args.threads, "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
           "cpus": os.cpu_count(), "models": rows,
           "summary": {m: {"max_abs_difference_points": max(abs(r[m]["difference_points"]) for r in rows),
                           "cpu_ratio_total": round(total[m] / total["standard"], 4)}
                       for m in MODES if m != "standard"},
           "goal": "within 0.1 point at <= 40% of the time"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    for m, v in out["summary"].items():
        print(f"{m}: max |difference| {v['max_abs_difference_points']:.2f} pt; total CPU time ratio "
              f"{v['cpu_ratio_total']:.2f}")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
