"""``benchbed generation-study``: sweep seed kind x steps (x sampler) for one model, store the curves."""
from __future__ import annotations

from pathlib import Path

from benchbed.builtin.tracks import DEFAULT_TRACK
from benchbed.cli import model_and_track
from benchbed.contracts.errors import ConfigError


def _list(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def cmd_generation_study(args) -> int:
    from benchbed.engine.devices import resolve_device
    from benchbed.generative.study import run_generation_study
    from benchbed.results.store import ResultsStore

    registry, model_spec, track = model_and_track(args.model, args.track)
    try:
        steps = [int(k) for k in _list(args.steps)] if args.steps else None
    except ValueError:
        raise ConfigError(f"--steps must be comma-separated integers, got {args.steps!r}") from None
    if args.n is not None and args.n < 10:
        raise ConfigError(f"--n must be at least 10 (the Inception Score's 10 splits), got {args.n}")
    study = run_generation_study(model_spec, track, registry, samplers=_list(args.samplers),
                                 seed_kinds=_list(args.seed_kinds), steps=steps, n=args.n,
                                 device=resolve_device(args.device), data_dir=args.data_dir,
                                 report=None if args.quiet else (lambda message: print(message, flush=True)))
    store = ResultsStore(args.out)
    store.write_study(study)
    prefix = track.generation.column_prefix
    print(f"{'sampler':<10} {'seeds':<9} {'steps':>5} {prefix + 'is':>10} {prefix + 'fid':>11} {'energy':>9}")
    for r in study.rows:
        print(f"{r['sampler']:<10} {r['seed_kind']:<9} {r['steps']:>5} {r[prefix + 'is']:>10.3f} "
              f"{r[prefix + 'fid']:>11.3f} {r['mean_joint_energy']:>9.3f}")
    print(f"stored in {store.study_path(study.track, study.model, study.kind)}; "
          f"`benchbed leaderboard` draws it on the model's page")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("generation-study", help="sweep seed kind x steps (x sampler) for a model: IS/FID and mean "
                                                "energy per step, drawn as curves on its page")
    p.add_argument("--model", required=True, help="the model (see `benchbed models`)")
    p.add_argument("--track", default=DEFAULT_TRACK, help=f"track whose generation settings to start from (default: "
                                                          f"{DEFAULT_TRACK})")
    p.add_argument("--samplers", help="comma-separated samplers (default: the track's and the model's own)")
    p.add_argument("--seed-kinds", help="comma-separated seed kinds (default: pca,gaussian,uniform)")
    p.add_argument("--steps", help="comma-separated step counts (default: 0,5,10,20,35,50)")
    p.add_argument("--n", type=int, help="samples per cell (default: the track's n_samples)")
    p.add_argument("--out", type=Path, help="results folder (default: as `benchbed run`)")
    p.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best available)")
    p.add_argument("--data-dir", type=Path, help="dataset folder (default: $BENCHBED_DATA or ~/.cache/benchbed/data)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_generation_study)
