"""benchbed's scale benchmarks: four ratios, each measured side by side in one run (same model, points, device).

    python benchmarks/run_benchmarks.py [--quick] [--repeats 2] [--threads 1] [--out FILE] [--skip NAME ...]

1. harness overhead: ``benchbed`` robust accuracy (run_track on a track with only the
   robust_accuracy metric: model load, logit check, blockwise seeded AutoAttack, store writes, run
   log) vs a direct ``pyautoattack`` call (AutoAttack(..., seed=track.seed).run_standard_evaluation)
   on the same model, points and device. Target <= 1.03.
2. shared work: robust accuracy + the ``energy`` metric vs robust accuracy alone (the energy metric
   reuses the attack's adversarial examples). Target <= 1.10. Not measured if no ``energy`` metric
   is registered.
3. scaling: the digits track on a local Ray instance with 2 workers vs 1 (one unit per model, torch
   limited to 1 thread per worker, workers warmed up first so Ray's start-up is not timed).
   Reported as the speedup t(1 worker) / t(2 workers). Target >= 1.6 on 2 cores.
4. second run: the digits track run again, unchanged, into the same results folder vs its first run
   (local executor; everything is skipped as stored). Target <= 0.05.

Timings are wall clock inside one Python process (start-up of the interpreter is not timed); each
side alternates with the other ``--repeats`` times and the minimum is used (least disturbed by other
work on the machine); the ratios of the medians of wall and of process CPU time are printed beside it
(CPU time is the steadier measure of work on a shared or virtual machine). Models: the digits zoo's if installed, else
the four closed-form models of ``benchmarks/bench_models.py``. ``--quick`` uses 100 test points.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGETS = {"harness_overhead": ("<=", 1.03), "shared_work": ("<=", 1.10), "scaling_speedup": (">=", 1.6),
           "second_run": ("<=", 0.05)}


def setup(threads: int):
    import torch

    from benchbed import registry as plugin_registry
    torch.set_num_threads(threads)
    host = plugin_registry.host()
    registry = host.registry
    track = registry.tracks.get("digits-linf")
    zoo = [m.name for m in registry.models_for(track)
           if getattr(host.infos.get(registry.sources[("models", m.name)]), "distribution", "")
           == "benchbed-digits-zoo"]
    files: list[str] = []
    if len(zoo) >= 2:
        models = zoo
    else:
        info = host.load_file(HERE / "bench_models.py")
        if not info.ok:
            raise SystemExit(f"cannot load benchmarks/bench_models.py: {info.error}")
        files = [str(HERE / "bench_models.py")]
        registry = host.registry
        models = [m for m in registry.names("models", "bench-features-*")]
    return registry, models, files


def timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


# Process CPU seconds of the last ``alternate`` call per side: on a shared or virtual machine the
# wall clock of identical work varies by +-10% between repeats; CPU time is the steadier measure of
# work done (both sides run in this process, torch's threads included).
CPU_SECONDS: dict[str, list[float]] = {}


def alternate(sides: dict, repeats: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in sides}
    CPU_SECONDS.clear()
    for _ in range(repeats):
        for name, fn in sides.items():
            cpu0 = time.process_time()
            seconds, _ = timed(fn)
            times[name].append(seconds)
            CPU_SECONDS.setdefault(name, []).append(time.process_time() - cpu0)
    return times


def summarise(name: str, numerator: str, denominator: str, times: dict[str, list[float]], **extra) -> dict:
    ratio = min(times[numerator]) / min(times[denominator])
    median_ratio = statistics.median(times[numerator]) / statistics.median(times[denominator])
    cpu = dict(CPU_SECONDS)
    cpu_ratio = statistics.median(cpu[numerator]) / statistics.median(cpu[denominator])
    return {"name": name, "ratio": ratio, "ratio_of_medians": median_ratio, "cpu_ratio_of_medians": cpu_ratio,
            "seconds": {k: [round(v, 3) for v in vs] for k, vs in times.items()},
            "cpu_seconds": {k: [round(v, 3) for v in vs] for k, vs in cpu.items()}, **extra}


def bench_harness(registry, model: str, n: int, repeats: int, threads: int, workdir: Path) -> dict:
    from pyautoattack import AutoAttack

    from benchbed.engine.runner import run_track, test_points

    track = registry.tracks.get("digits-linf").replace(name="bench-robust-only", metrics=("robust_accuracy",),
                                                  n_examples=n)
    points = test_points(track, registry, None)
    assert n <= track.block_size, "one attack block: the direct call sees the same points and seed"
    spec = registry.models.get(model)
    results: dict[str, float] = {}

    def direct():
        net = spec.load("cpu")
        adversary = AutoAttack(net, norm=track.norm, eps=track.eps, version="standard", seed=track.seed,
                               device="cpu")
        _, y_adv = adversary.run_standard_evaluation(points.images, points.labels, batch_size=track.batch_size)
        results["direct"] = 100.0 * float((y_adv.cpu() == points.labels).sum()) / len(points)

    def harness():
        out = workdir / "harness"
        shutil.rmtree(out, ignore_errors=True)
        summary = run_track(track, [model], device="cpu", results_dir=out, registry=registry,
                            show_progress=False, threads=threads)
        results["benchbed"] = summary.records[0]["metrics"]["robust_accuracy"]

    times = alternate({"benchbed": harness, "direct": direct}, repeats)
    return summarise("harness_overhead", "benchbed", "direct", times, model=model, n_examples=n,
                     robust_accuracy=results, same_number=results["benchbed"] == results["direct"])


def bench_shared(registry, model: str, n: int, repeats: int, threads: int, workdir: Path) -> dict:
    from benchbed.engine.runner import run_track

    if "energy" not in registry.items["metrics"]:
        return {"name": "shared_work", "ratio": None, "note": "not measured: no 'energy' metric is registered"}
    base = registry.tracks.get("digits-linf").replace(n_examples=n)
    alone = base.replace(name="bench-robust-only", metrics=("robust_accuracy",))
    shared = base.replace(name="bench-robust-energy", metrics=("robust_accuracy", "energy"))

    def side(track):
        def go():
            out = workdir / track.name
            shutil.rmtree(out, ignore_errors=True)
            summary = run_track(track, [model], device="cpu", results_dir=out, registry=registry,
                                show_progress=False, threads=threads)
            assert not summary.failed, summary.failed
        return go

    times = alternate({"robust+energy": side(shared), "robust": side(alone)}, repeats)
    return summarise("shared_work", "robust+energy", "robust", times, model=model, n_examples=n)


def bench_scaling(registry, models: list[str], n: int, files: list[str], workdir: Path) -> dict:
    try:
        import ray
    except ImportError:
        return {"name": "scaling_speedup", "ratio": None, "note": "not measured: pip install 'benchbed[ray]'"}
    from benchbed.engine.executors.ray_executor import RayExecutor
    from benchbed.engine.runner import run_track

    track = registry.tracks.get("digits-linf").replace(n_examples=n)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        def run(workers: int, out: Path, n_examples: int | None = None):
            shutil.rmtree(out, ignore_errors=True)
            summary = run_track(track if n_examples is None else track.replace(n_examples=n_examples), models,
                                results_dir=out, registry=registry, executor=RayExecutor(workers=workers, threads=1),
                                show_progress=False, plugin_files=files, device="cpu")
            assert not summary.failed, [o.error for o in summary.failed]
            return summary

        warm, _ = timed(lambda: run(2, workdir / "ray-warm", n_examples=10))  # start both workers, fill caches
        one, _ = timed(lambda: run(1, workdir / "ray-1"))
        two, _ = timed(lambda: run(2, workdir / "ray-2"))
    finally:
        ray.shutdown()
    return {"name": "scaling_speedup", "ratio": one / two, "seconds": {"1 worker": round(one, 3),
            "2 workers": round(two, 3), "warm-up": round(warm, 3)}, "models": models, "n_examples": n,
            "units": len(models), "torch_threads_per_worker": 1, "cpus": os.cpu_count()}


def bench_second_run(registry, models: list[str], n: int, threads: int, workdir: Path) -> dict:
    from benchbed.engine.runner import run_track

    track = registry.tracks.get("digits-linf").replace(n_examples=n)
    out = workdir / "second-run"
    shutil.rmtree(out, ignore_errors=True)

    def go():
        return run_track(track, models, device="cpu", results_dir=out, registry=registry, show_progress=False,
                         threads=threads)

    first, s1 = timed(go)
    second, s2 = timed(go)
    assert s2.counts()["done"] == 0 and [r["metrics"] for r in s1.records] == [r["metrics"] for r in s2.records]
    return {"name": "second_run", "ratio": second / first, "seconds": {"first": round(first, 3),
            "second": round(second, 3)}, "models": models, "n_examples": n, "units": s1.counts()["units"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 test points instead of all 449")
    parser.add_argument("--repeats", type=int, default=2, help="alternating repeats of the side-by-side ratios")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (local measurements)")
    parser.add_argument("--skip", action="append", default=[], choices=list(TARGETS))
    parser.add_argument("--out", type=Path, default=HERE / "results" / "scale.json")
    args = parser.parse_args(argv)
    registry, models, files = setup(args.threads)
    n = 100 if args.quick else registry.tracks.get("digits-linf").n_examples
    workdir = Path(tempfile.mkdtemp(prefix="benchbed-bench-"))
    rows = []
    try:
        steps = {
            "harness_overhead": lambda: bench_harness(registry, models[0], n, args.repeats, args.threads, workdir),
            "shared_work": lambda: bench_shared(registry, models[0], n, args.repeats, args.threads, workdir),
            "scaling_speedup": lambda: bench_scaling(registry, models, n, files, workdir),
            "second_run": lambda: bench_second_run(registry, models, n, args.threads, workdir),
        }
        for name, step in steps.items():
            if name in args.skip:
                continue
            print(f"measuring {name} ...", file=sys.stderr, flush=True)
            row = step()
            op, target = TARGETS[name]
            ratio = row.get("ratio")
            row["target"] = f"{op} {target}"
            row["meets_target"] = None if ratio is None else (ratio <= target if op == "<=" else ratio >= target)
            rows.append(row)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{'benchmark':<18} {'ratio':>8}  {'target':<8} {'ok':<5} {'wall med':>8} {'cpu med':>8}  "
          f"detail (wall seconds per repeat)")
    for row in rows:
        ratio = "n/a" if row.get("ratio") is None else f"{row['ratio']:.3f}"
        ok = {True: "yes", False: "NO", None: "-"}[row["meets_target"]]
        med = {k: "-" if row.get(k) is None else f"{row[k]:.3f}" for k in ("ratio_of_medians", "cpu_ratio_of_medians")}
        detail = row.get("note") or ", ".join(f"{k} {v}" for k, v in row.get("seconds", {}).items())
        print(f"{row['name']:<18} {ratio:>8}  {row['target']:<8} {ok:<5} {med['ratio_of_medians']:>8} "
              f"{med['cpu_ratio_of_medians']:>8}  {detail}")
    print("ratio: min over repeats (wall); wall med / cpu med: ratio of the medians of wall / process CPU time "
          "(the side-by-side ratios only)")
    report = {"benchmarks": rows, "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
              "processor": platform.processor() or platform.machine()}, "models": models, "n_examples": n,
              "threads": args.threads, "repeats": args.repeats}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
