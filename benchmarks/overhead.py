"""Harness overhead: CPU time of ``benchbed run`` vs direct library calls doing the same work.

    python benchmarks/overhead.py                                  # digits-cnn-standard, digits-linf, 1 thread
    python benchmarks/overhead.py --model digits-cnn-trades --repeats 2 --out /tmp/overhead.json

In one process, with torch at 1 thread, alternately:

- ``benchbed``: ``run_track("digits-linf", [model], force=True)`` -- everything ``benchbed run --force
  --no-leaderboard`` does for the model: planning (loading and fingerprinting the weights), clean
  accuracy, AutoAttack standard, the energy metric, SGLD samples from PCA seeds and IS/FID/KID, storing
  the unit and the record (the reference features are computed afresh: an empty cache folder);
- ``direct``: the same work as bare calls: the model's loader, its logits, ``pyautoattack.AutoAttack(...,
  version='standard', seed=0).run_standard_evaluation`` on the same points and batch size, energies
  (-logsumexp of the logits) of the natural and adversarial points, PGD-20's final iterates (untargeted
  and targeted, ``benchbed.functional.pgd``'s pure function, as the energy metric's second protocol), per-class PCA
  seeds and the SGLD loop written out in torch with the track's settings, and
  ``torch_fidelity.calculate_metrics`` (IS, FID, KID, the digits extractor) of the samples against the training split.

An untimed benchbed run first pays the one-time costs (lazy imports, first calls); then the two
sides alternate ``--repeats`` times and medians are reported. It reports the process CPU time
(``time.process_time``: the steadier measure on a shared machine) and the wall time of each, and the
ratio benchbed / direct (target <= 1.03).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchbed import registry as plugin_registry


def direct(model_spec, track, registry) -> dict:
    import torch_fidelity
    from pyautoattack import AutoAttack

    from benchbed.functional.pgd import pgd_final_iterate, runner_up
    from benchbed.generative.fidelity import ensure_extractor, to_uint8

    gen = track.generation
    model = model_spec.load("cpu")
    test = registry.datasets.get(track.dataset).load("test").slice(0, track.n_examples)
    train = registry.datasets.get(track.dataset).load("train")
    x, y = test.images, test.labels
    with torch.no_grad():
        clean = model(x)
    adversary = AutoAttack(model, norm=track.norm, eps=track.eps, version="standard", seed=track.seed, device="cpu")
    x_adv, y_adv = adversary.run_standard_evaluation(x.clone(), y.clone(), batch_size=track.batch_size)
    # the energy metric's second protocol: PGD-20's final iterate on all points, untargeted and targeted
    # (one attack block here: 449 points < block_size), through the same pure function the metric calls
    finals = [pgd_final_iterate(model, x, y, norm=track.norm, eps=track.eps,
                                generator=torch.Generator().manual_seed(track.seed), targets=targets,
                                batch_size=track.batch_size)
              for targets in (None, runner_up(clean, y))]
    with torch.no_grad():
        energies = (-torch.logsumexp(clean, 1), -torch.logsumexp(model(x_adv), 1),
                    *(-torch.logsumexp(model(f), 1) for f in finals))
    # PCA seeds per class (95% of the variance), then SGLD on E(x, y) = -f(x)[y]
    seed_gen = torch.Generator().manual_seed(track.seed)
    noise_gen = torch.Generator().manual_seed(track.seed + 1)
    labels = torch.arange(gen.n_samples) % 10
    bases = []
    for c in range(10):
        flat = train.images[train.labels == c].flatten(1).double()
        mean = flat.mean(0)
        _, s, vh = torch.linalg.svd(flat - mean, full_matrices=False)
        k = int(torch.searchsorted(torch.cumsum(s ** 2, 0) / (s ** 2).sum(), torch.tensor([gen.retained_variance],
                                                                                           dtype=torch.float64))) + 1
        bases.append((mean.float(), s[:k].float(), vh[:k].float()))
    samples = torch.empty((gen.n_samples, *train.images.shape[1:]))
    for start in range(0, gen.n_samples, gen.batch_size):
        lab = labels[start:start + gen.batch_size]
        x0 = torch.empty((len(lab), train.images[0].numel()))
        for c in range(10):
            where = torch.nonzero(lab == c).flatten()
            mean, s, vh = bases[c]
            z = torch.randn((len(where), len(s)), generator=seed_gen) * gen.seed_scale
            x0[where] = mean + (z * s) @ vh
        xs = x0.view(len(lab), *train.images.shape[1:]).clamp(0, 1)
        noise_std = (2 * gen.step_size) ** 0.5 * gen.noise
        for _ in range(gen.steps):
            xs.requires_grad_(True)
            energy = -model(xs).gather(1, lab.view(-1, 1)).sum()
            (grad,) = torch.autograd.grad(energy, xs)
            with torch.no_grad():
                xs = (xs.detach() - 0.5 * gen.step_size * grad
                      + noise_std * torch.randn(xs.shape, generator=noise_gen)).clamp_(0, 1)
        samples[start:start + len(lab)] = xs.detach()
    ensure_extractor(gen.feature_extractor)

    class U8(torch.utils.data.Dataset):
        def __init__(self, images):
            u = to_uint8(images)
            self.u = u.expand(-1, 3, -1, -1).contiguous() if u.shape[1] == 1 else u

        def __len__(self):
            return len(self.u)

        def __getitem__(self, i):
            return self.u[i]

    scores = torch_fidelity.calculate_metrics(
        input1=U8(samples), input2=U8(train.images), cuda=False, isc=True, fid=True, kid=True,
        feature_extractor=gen.feature_extractor, batch_size=gen.batch_size, rng_seed=track.seed, verbose=False,
        save_cpu_ram=True, cache=False, kid_subset_size=min(1000, gen.n_samples, len(train)))
    return {"robust_accuracy": 100.0 * float((y_adv == y).float().mean()),
            "fid": float(scores["frechet_inception_distance"]),
            "energy_nat_mean": float(energies[0].mean())}


def with_benchbed(model_name, registry, out: Path) -> dict:
    from benchbed.engine.runner import run_track

    cache = Path(tempfile.mkdtemp(prefix="bb-overhead-cache-"))
    # the metrics the direct side reproduces (the detection metric is left out of both)
    summary = run_track("digits-linf", [model_name], device="cpu", results_dir=out, registry=registry,
                        show_progress=False, threads=1, force=True, cache_dir=cache,
                        metrics=("clean_accuracy", "robust_accuracy", "energy", "generative"))
    (record,) = summary.records
    return {"robust_accuracy": record.metrics["robust_accuracy"], "fid": record.metrics.get("digits_fid"),
            "energy_nat_mean": record.metrics.get("energy_nat_mean")}


def measure(fn) -> tuple[float, float, dict]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.process_time() - cpu, time.perf_counter() - wall, result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="digits-cnn-standard")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-warmup", action="store_true", help="skip the untimed first run (lazy imports, "
                        "first-call set-up), which would otherwise be charged to whichever side runs first")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "overhead.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    logging.getLogger("auto-attack").setLevel(logging.ERROR)
    registry = plugin_registry.registry()
    track = registry.tracks.get("digits-linf")
    spec = registry.models.get(args.model)
    runs = {"benchbed": [], "direct": []}
    results = {}
    with tempfile.TemporaryDirectory(prefix="bb-overhead-") as tmp:
        if not args.no_warmup:
            with_benchbed(args.model, registry, Path(tmp) / "warmup")
        for i in range(args.repeats):
            for name, fn in (("benchbed", lambda i=i: with_benchbed(args.model, registry, Path(tmp) / f"r{i}")),
                             ("direct", lambda: direct(spec, track, registry))):
                cpu, wall, result = measure(fn)
                runs[name].append({"cpu_s": round(cpu, 3), "wall_s": round(wall, 3), "load": os.getloadavg()})
                results[name] = result
                print(f"{name:9s} CPU {cpu:7.1f} s  wall {wall:7.1f} s  {result}", flush=True)
    cpu = {k: statistics.median(r["cpu_s"] for r in v) for k, v in runs.items()}
    wall = {k: statistics.median(r["wall_s"] for r in v) for k, v in runs.items()}
    out = {"benchmark": "harness overhead: benchbed run vs direct calls, same work", "model": args.model,
           "track": track.name, "n_examples": track.n_examples, "threads": 1, "torch": torch.__version__,
           "runs": runs, "results": results, "cpu_ratio": round(cpu["benchbed"] / cpu["direct"], 4),
           "wall_ratio": round(wall["benchbed"] / wall["direct"], 4), "target_cpu_ratio": 1.03}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"CPU time ratio benchbed/direct {out['cpu_ratio']:.3f} (wall {out['wall_ratio']:.3f}) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
