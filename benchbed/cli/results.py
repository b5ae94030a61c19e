"""``benchbed results``: a track's table, one row per model, in several formats.

``table`` / ``csv`` / ``json``: the table. ``latex``: one booktabs table per track.
``model-info``: RobustBench ``model_info`` JSON per model, printed as one JSON object keyed by model
name, or with ``--export-dir DIR`` written as ``DIR/<dataset>/<threat_model>/<ModelId>.json``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import BenchbedError
from ..store import DEFAULT_RESULTS, ENV_RESULTS, ResultsStore
from ..tables import format_frame, records_frame

FORMATS = ("table", "csv", "json", "latex", "model-info")


def _model_info(records, args) -> None:
    from ..exports import model_info, write_model_info

    usable = [r for r in records if isinstance((r.get("metrics") or {}).get("robust_accuracy"), (int, float))]
    for rec in records:
        if rec not in usable:
            print(f"note: skipped {rec['model']} on {rec['track']}: no robust_accuracy in its record",
                  file=sys.stderr)
        elif rec.get("quick"):
            print(f"note: {rec['model']} on {rec['track']} used only {rec.get('n_examples')} test points "
                  f"(a quick run); RobustBench expects the full test set", file=sys.stderr)
    if args.export_dir is not None:
        for path in write_model_info(usable, args.export_dir, provenance=args.provenance):
            print(path)
        return
    out = {f"{r['track']}/{r['model']}" if len({x['track'] for x in usable}) > 1 else r["model"]:
           model_info(r, provenance=args.provenance) for r in usable}
    print(json.dumps(out, indent=2, ensure_ascii=False))


def cmd_results(args) -> int:
    store = ResultsStore(args.out)
    records = store.records(args.track)
    if not records:
        where = f" for track {args.track!r}" if args.track else ""
        raise BenchbedError(f"no results{where} in {store.root}: run `benchbed run` first or pass --out DIR")
    if args.export_dir is not None and args.format != "model-info":
        raise BenchbedError("--export-dir is for --format model-info (one JSON file per model); "
                            "redirect the output of other formats to a file instead")
    if args.format == "model-info":
        _model_info(records, args)
    elif args.format == "latex":
        from ..exports import latex_tables

        print(latex_tables(records), end="")
    else:
        print(format_frame(records_frame(records), args.format), end="")
    failures = store.failures(args.track)
    for rec in failures:
        print(f"note: last attempt of {rec['model']} on {rec['track']} failed: {rec.get('error')}", file=sys.stderr)
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("results", help="print result tables (one row per model) or export them "
                                       "(CSV, JSON, LaTeX, RobustBench model_info)")
    p.add_argument("--track", help="only this track")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="table (default), csv, json, latex (booktabs, one table per track) or model-info "
                        "(RobustBench model_info JSON per model)")
    p.add_argument("--export-dir", type=Path, metavar="DIR",
                   help="with --format model-info: write DIR/<dataset>/<threat_model>/<ModelId>.json "
                        "(RobustBench's layout) instead of printing")
    p.add_argument("--provenance", action="store_true",
                   help="with --format model-info: add a 'benchbed' entry (track, points, seed, versions, "
                        "checksum)")
    p.add_argument("--out", type=Path, help=f"results folder (default: ${ENV_RESULTS} or ./{DEFAULT_RESULTS})")
    p.set_defaults(func=cmd_results)
