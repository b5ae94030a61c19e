"""``benchbed compare A B``: two models on one track, paired column by column.

Reads the two stored records and their per-point arrays (from the same folder as ``benchbed results``)
and prints, per column, each model's value, the difference A - B with its interval and the p-value
of "no difference": the exact McNemar test for accuracies, a paired bootstrap for the other columns;
columns over each model's own generated samples (IS/FID/KID, the independent classifier's accuracy)
are compared unpaired (see docs/science.md, "Uncertainty").
"""
from __future__ import annotations

import math
from pathlib import Path

from benchbed import registry as plugin_registry
from benchbed.contracts.errors import BenchbedError, ConfigError
from benchbed.functional.uncertainty import LEVEL
from benchbed.results.paired import ColumnComparison, compare_records, registry_resolver
from benchbed.results.record import Record
from benchbed.results.store import DEFAULT_RESULTS, ENV_RESULTS, PUBLISHED_RESULTS, ResultsStore
from benchbed.results.tables import column_catalogue, shown_records


def _common_tracks(store: ResultsStore, a: str, b: str, track: str | None) -> list[tuple[Record, Record]]:
    shown = shown_records(store.records(track))  # read (and checked) once for both models
    ra, rb = ({r.track: r for r in shown if r.model == model} for model in (a, b))
    for name, found in ((a, ra), (b, rb)):
        if not found:
            where = f" on track {track!r}" if track else ""
            raise BenchbedError(f"no record of {name!r}{where} in {store.root}: run `benchbed run` first or pass "
                                f"--out DIR (the published results: --out {PUBLISHED_RESULTS})")
    common = sorted(set(ra) & set(rb))
    if not common:
        raise BenchbedError(f"{a!r} and {b!r} have no track in common in {store.root} ({a}: {', '.join(sorted(ra))}; "
                            f"{b}: {', '.join(sorted(rb))}): pass --track")
    return [(ra[t], rb[t]) for t in common]


def _num(v: float | None) -> str:
    if v is None or not math.isfinite(v):
        return "–"
    return f"{v:.3g}" if abs(v) >= 1e4 else f"{v:.3f}"


def _p(p: float) -> str:
    return f"{p:.3f}" if p >= 0.001 else "<0.001"


def _line(c: ColumnComparison) -> list[str]:
    diff = None if c.a is None or c.b is None else c.a - c.b
    if c.paired is None:
        return [c.column, c.unit, _num(c.a), _num(c.b), _num(diff), "", "", c.why]
    p = c.paired
    test = ("McNemar" if "McNemar" in p.method else "Fisher exact, unpaired" if "Fisher" in p.method
            else "unpaired bootstrap" if "independent" in p.method else "paired bootstrap")
    verdict = "differ" if c.significant else f"tied at {round(100 * p.level)} %"
    return [c.column, c.unit, _num(c.a), _num(c.b), _num(p.difference), f"[{_num(p.low)}, {_num(p.high)}]",
            _p(p.p_value), f"{verdict} ({test})"]


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows) + "\n"


def cmd_compare(args) -> int:
    if args.model_a == args.model_b:
        raise ConfigError("compare needs two different models")
    store = ResultsStore(args.out)
    registry = plugin_registry.registry()
    resolve = registry_resolver(registry)
    for rec_a, rec_b in _common_tracks(store, args.model_a, args.model_b, args.track):
        arrays_a, arrays_b = store.arrays(rec_a), store.arrays(rec_b)
        catalogue = column_catalogue([rec_a, rec_b])
        names = [n for n, c in catalogue.items() if args.all_columns or c.rank or c.headline
                 or c.higher_is_better is not None]
        results = compare_records(rec_a, arrays_a, rec_b, arrays_b, names, resolve)
        level = round(100 * LEVEL)
        print(f"{rec_a.track}: A = {rec_a.model}, B = {rec_b.model}; {rec_a.n_examples} and {rec_b.n_examples} "
              f"test points, paired")
        header = ["column", "unit", "A", "B", "A - B", f"{level} % interval", "p", "verdict"]
        print(_table([header] + [_line(c) for c in results]), end="")
        if not args.all_columns and len(names) < len(catalogue):
            print(f"({len(catalogue) - len(names)} more column(s) without a direction: --all-columns)")
        print(f"verdict: 'differ' when p < {1 - LEVEL:.2f}; accuracies: exact McNemar test, Newcombe's paired "
              f"interval; IS/FID/KID (each model's own samples): unpaired bootstrap over the generated samples; "
              f"others: paired percentile bootstrap over the test points (docs/science.md)\n")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="compare two models on a track, paired over the same test points "
                                       "(difference, interval and p-value per column)")
    p.add_argument("model_a", metavar="A", help="a model name")
    p.add_argument("model_b", metavar="B", help="another model name")
    p.add_argument("--track", help="only this track (default: every track both models have results on)")
    p.add_argument("--all-columns", action="store_true",
                   help="every column, not only the headline ones and those with a direction")
    p.add_argument("--out", "--results", dest="out", type=Path, metavar="DIR",
                   help=f"results folder, as for `benchbed results` (default: ${ENV_RESULTS} or ./{DEFAULT_RESULTS})")
    p.set_defaults(func=cmd_compare)
