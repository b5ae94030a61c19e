"""``benchbed results``: a track's table, one row per model, in any registered format.

Built-in formats (``register_exporters``): ``table`` / ``csv`` / ``json`` (the table; headline
columns unless ``--all-columns``), ``latex`` (one booktabs table per track), ``model-info``
(RobustBench ``model_info`` JSON per model, printed, or written with ``--export-dir DIR`` as
``DIR/<dataset>/<threat_model>/<ModelId>.json``).
"""
from __future__ import annotations

import sys
from pathlib import Path

from benchbed import registry as plugin_registry
from benchbed.contracts.errors import BenchbedError
from benchbed.results.store import DEFAULT_RESULTS, ENV_RESULTS, PUBLISHED_RESULTS, ResultsStore
from benchbed.results.tables import shown_records


def cmd_results(args) -> int:
    registry = plugin_registry.registry()
    exporter = registry.exporters.get(args.format)
    store = ResultsStore(args.out)
    records = store.records(args.track)
    if not args.quick:  # one row per model: its full-protocol record where there is one
        records = shown_records(records)
    if not records:
        where = f" for track {args.track!r}" if args.track else ""
        raise BenchbedError(f"no results{where} in {store.root}: run `benchbed run` first or pass --out DIR "
                            f"(the published results: --out {PUBLISHED_RESULTS})")
    options = {"all_columns": args.all_columns, "provenance": args.provenance}
    if args.format == "model-info":
        for rec in records:
            if rec.value("robust_accuracy") is None:
                print(f"note: skipped {rec.model} on {rec.track}: no robust_accuracy in its record", file=sys.stderr)
            elif rec.quick:
                print(f"note: {rec.model} on {rec.track} used only {rec.n_examples} test points (a quick run); "
                      f"RobustBench expects the full test set", file=sys.stderr)
    if args.export_dir is not None:
        if exporter.write is None:
            writers = ", ".join(e.name for e in registry.exporters if e.write)
            raise BenchbedError(f"--export-dir is for formats that write files ({writers}); redirect the output of "
                                f"--format {args.format} to a file instead")
        for path in exporter.write(records, args.export_dir, options):
            print(path)
    else:
        print(exporter.render(records, options), end="")
    for failure in store.failures(args.track):
        print(f"note: last attempt of {failure.model} on {failure.track} failed: {failure.error}", file=sys.stderr)
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("results", help="print result tables (one row per model) or export them "
                                       "(CSV, JSON, LaTeX, RobustBench model_info)")
    p.add_argument("--track", help="only this track")
    p.add_argument("--format", default="table",
                   help="a registered format: table (default), csv, json, latex (booktabs, one table per track), "
                        "model-info (RobustBench model_info JSON per model)")
    p.add_argument("--all-columns", action="store_true", help="every metric column, not only the headline ones")
    p.add_argument("--quick", action="store_true", help="also list quick and partial runs (other variants) as rows")
    p.add_argument("--export-dir", type=Path, metavar="DIR",
                   help="with --format model-info: write DIR/<dataset>/<threat_model>/<ModelId>.json "
                        "(RobustBench's layout) instead of printing")
    p.add_argument("--provenance", action="store_true",
                   help="with --format model-info: add a 'benchbed' entry (track, points, seed, versions, "
                        "checksum)")
    p.add_argument("--out", type=Path, help=f"results folder (default: ${ENV_RESULTS} or ./{DEFAULT_RESULTS})")
    p.set_defaults(func=cmd_results)
