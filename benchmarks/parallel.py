"""Units one after another vs two threads per unit vs units side by side, on the digits zoo track.

    python benchmarks/parallel.py                              # digits-linf, all 7 zoo models, 449 points
    python benchmarks/parallel.py --n-examples 50 --modes sequential,side --out /tmp/parallel.json

Each mode is one `benchbed run --force` of the whole track in a fresh results folder (a subprocess, as a
user runs it): ``sequential`` = --workers 1 --threads 1, ``threads2`` = --workers 1 --threads 2, ``side`` =
--workers W --threads 1 (W = --workers, default 2), ``default`` = neither option (what the quick start
does). It records each run's wall time, its CPU time (user + system of the run and its worker
processes), the machine's load average and sampled idle CPUs before it, and whether the side-by-side
and sequential records are equal field by field (they must be: same per-unit thread count). Writes
benchmarks/results/parallel.json. On a shared machine, read the load next to the times.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = {"sequential": ("1", "1"), "threads2": ("1", "2"), "side": (None, "1"), "default": (None, None)}
VOLATILE = {"finished_at", "run_id", "timings_s", "wall_time_s", "record_sha256"}  # when and how fast, not what


def records(root: Path, track: str) -> dict:
    """{file: record JSON without volatile fields} of every merged and unit record of ``track`` in ``root``."""
    from benchbed.results.store import ResultsStore

    folder = ResultsStore(root).track_dir(track)
    return {str(p.relative_to(folder)): {k: v for k, v in json.loads(p.read_text()).items() if k not in VOLATILE}
            for p in sorted(folder.rglob("*.json"))}


def machine() -> dict:
    from benchbed.engine.cpu import sample_cpus

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    sample = sample_cpus(0.5)
    return {"cpu": model, "usable_cpus": sample.usable, "idle_cpus": round(sample.idle, 2),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def run_mode(mode: str, out: Path, args) -> dict:
    workers, threads = MODES[mode]
    if mode == "side":
        workers = str(args.workers)
    cmd = [sys.executable, "-m", "benchbed", "run", "--track", args.track, "--force", "--out", str(out),
           "--no-leaderboard", "--compare", "none", "--no-progress"]
    cmd += ["--workers", workers] if workers else []
    cmd += ["--threads", threads] if threads else []
    cmd += ["--n-examples", str(args.n_examples)] if args.n_examples else []
    before = machine()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{mode}: `{' '.join(cmd)}` failed:\n{proc.stderr[-3000:]}")
    log = [json.loads(line) for line in (out / "runlog.jsonl").read_text().splitlines()]
    chosen = next((e.get("cpus") for e in log if e["event"] == "executor_started"), None)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    print(f"{mode:10s} wall {wall:7.1f} s  CPU {cpu:7.1f} s  (load before {before['load_average'][0]:.2f}, "
          f"{before['idle_cpus']} idle CPUs)", flush=True)
    return {"mode": mode, "workers": workers, "threads": threads, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "before": before, "load_after": [round(x, 2) for x in os.getloadavg()],
            "cpus_chosen": chosen,
            "command": " ".join(["benchbed", *cmd[3:]])}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--track", default="digits-linf")
    parser.add_argument("--n-examples", type=int, help="first N test points (default: the track's)")
    parser.add_argument("--modes", default="sequential,threads2,side", help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--workers", type=int, default=2, help="workers of the 'side' mode (default 2)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "parallel.json")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        parser.error(f"unknown mode(s) {', '.join(unknown)}: choose from {', '.join(MODES)}")
    import torch

    runs = []
    with tempfile.TemporaryDirectory(prefix="benchbed-parallel-") as tmp:
        for mode in modes:
            runs.append(run_mode(mode, Path(tmp) / mode, args))
        same = None
        if {"sequential", "side"} <= set(modes):
            same = records(Path(tmp) / "sequential", args.track) == records(Path(tmp) / "side", args.track)
    by = {r["mode"]: r for r in runs}
    ratios = {f"{m}_vs_sequential": {"wall": round(by["sequential"]["wall_s"] / by[m]["wall_s"], 2),
                                     "cpu": round(by[m]["cpu_s"] / by["sequential"]["cpu_s"], 2)}
              for m in by if m != "sequential" and "sequential" in by}
    result = {"what": "benchbed run --force of a track: wall and CPU time (run + workers) per mode; ratios: wall "
                      "speed-up over sequential and CPU used relative to sequential",
              "track": args.track, "n_examples": args.n_examples or "track's", "runs": runs, "ratios": ratios,
              "side_by_side_records_equal_sequential": same, "torch": torch.__version__,
              "python": platform.python_version(),
              "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(ratios), f"records equal: {same}", f"-> {args.out}")
    return 0 if same in (None, True) else 1


if __name__ == "__main__":
    sys.exit(main())
