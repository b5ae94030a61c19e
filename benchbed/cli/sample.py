"""``benchbed sample``: draw class-conditional samples from a model with a track's sampler, write PNGs.

Output folder layout::

    DIR/grid.png                     first 8 samples of each class, one row per class (first 10 classes)
    DIR/samples/<index>-<class>.png  every sample (8-bit; greyscale for 1-channel datasets)
    DIR/samples.json                 model, track, seed, sampler settings, labels, sampler stats

``DIR/samples`` is a plain image folder, so it can be handed to ``fidelity --input1 DIR/samples``.
"""
from __future__ import annotations

import json
from pathlib import Path

from benchbed.builtin.tracks import DEFAULT_TRACK
from benchbed.cli import model_and_track
from benchbed.contracts.errors import ConfigError


def cmd_sample(args) -> int:
    import dataclasses

    from benchbed.engine.devices import device_name, resolve_device
    from benchbed.generative.grid import grid_png, save_pngs
    from benchbed.generative.sampling import draw_samples
    from benchbed.results.store import atomic_write_bytes

    registry, model_spec, track = model_and_track(args.model, args.track)
    if track.generation is None:
        raise ConfigError(f"track {track.name!r} has no generation settings: pick a track that lists them")
    if args.n is not None and args.n <= 0:
        raise ConfigError(f"--n must be a positive number of samples, got {args.n}")
    dataset = registry.datasets.get(track.dataset)
    device = resolve_device(args.device)
    model = model_spec.load(device)
    samples, labels, stats = draw_samples(model, track, dataset, registry, device, n=args.n, seed=args.seed,
                                          data_dir=args.data_dir, progress=not args.quiet, model_spec=model_spec,
                                          sampler=args.sampler)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = save_pngs(samples, labels, out / "samples", dataset.class_names)
    atomic_write_bytes(out / "grid.png", grid_png(samples, labels, min(dataset.num_classes, 10), 8,
                                                      class_names=tuple(dataset.class_names)))
    meta = {"model": model_spec.name, "track": track.name, "dataset": track.dataset, "n_samples": len(samples),
            "device": device_name(device), "settings": dataclasses.asdict(track.generation),
            "files": [p.name for p in paths], "labels": labels.tolist(), **stats}
    atomic_write_bytes(out / "samples.json", (json.dumps(meta, indent=2) + "\n").encode())
    print(f"wrote {len(paths)} samples to {out / 'samples'} and the grid to {out / 'grid.png'}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("sample", help="draw class-conditional samples from a model (SGLD on its energy), write PNGs")
    p.add_argument("--model", required=True, help="the model to sample from (see `benchbed models`)")
    p.add_argument("--track", default=DEFAULT_TRACK, help=f"track whose generation settings to use (default: "
                                                          f"{DEFAULT_TRACK})")
    p.add_argument("--n", type=int, help="number of samples, balanced over classes (default: the track's n_samples)")
    p.add_argument("--out", type=Path, required=True, help="output folder (grid.png, samples/, samples.json)")
    p.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best available)")
    p.add_argument("--sampler", help="sampler to use instead of the track's (see `benchbed samplers`)")
    p.add_argument("--seed", type=int, help="random seed (default: the track's seed)")
    p.add_argument("--data-dir", type=Path, help="dataset folder (default: $BENCHBED_DATA or ~/.cache/benchbed/data)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sample)
