"""Exports of result records: RobustBench ``model_info`` JSON and LaTeX tables.

- :func:`model_info` turns one record into the JSON RobustBench keeps per model in
  ``model_info/<dataset>/<threat_model>/<ModelId>.json`` (the files its leaderboard is built from),
  so benchbed numbers can be submitted there. Its fields, as RobustBench writes them: ``link``,
  ``name`` (the paper title), ``authors``, ``additional_data``, ``number_forward_passes``,
  ``dataset``, ``venue``, ``architecture``, ``eps`` (text, e.g. "8/255"), ``clean_acc``,
  ``reported`` (the robust accuracy the paper reported) and ``autoattack_acc`` (percentages as text
  with two decimals), plus ``footnote`` and ``unreliable``.
- :func:`latex_table` is a booktabs table of one track (``\\usepackage{booktabs}``), best value of
  each column in bold, every plugin-provided string escaped.
"""
from __future__ import annotations

import json
import math
import numbers
import re
from pathlib import Path
from typing import Any

from benchbed.contracts.errors import BenchbedError
from benchbed.contracts.specs import eps_text
from benchbed.results.record import ColumnInfo, Record


# -- helpers ----------------------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    """A finite number, numpy's included (a table's integer column holds numpy integers); not a bool."""
    return (isinstance(value, numbers.Real) and not isinstance(value, bool) and type(value).__name__ != "bool_"
            and math.isfinite(value))


def _pct(value: Any) -> str:
    return f"{float(value):.2f}" if _is_number(value) else ""


def eps_label(record: Record) -> str:
    """How the track's eps is usually written ("8/255"), from the record's track info."""
    return eps_text(record.eps, str(record.track_info.get("eps_label") or ""))


def robustbench_fields(record: Record) -> dict[str, Any]:
    """RobustBench-only fields a plugin gives its models (``ModelSpec.extra["robustbench"]``)."""
    extra = record.model_info.get("extra")
    fields = extra.get("robustbench") if isinstance(extra, dict) else None
    return fields if isinstance(fields, dict) else {}


def robustbench_id(record: Record) -> str:
    """The model's RobustBench id: what its plugin declares, else a file-safe form of its name."""
    rb = robustbench_fields(record)
    if rb.get("id"):
        return str(rb["id"])
    return re.sub(r"[^A-Za-z0-9._-]", "_", record.model.replace("/", "__"))


# -- RobustBench model_info -------------------------------------------------------------------------
def model_info(record: Record, *, provenance: bool = False) -> dict[str, Any]:
    """One record as a RobustBench ``model_info`` JSON dict (field order as RobustBench writes it).

    ``reported`` is the robust accuracy published for the model: the paper's own number where the
    registration has it (the RobustBench adapter's ``reported_by_paper``), else
    ``ModelSpec.reported["robust_accuracy"]``, else "". Plugins may add RobustBench-only fields
    (``id``, ``authors``, ``number_forward_passes``, ``unreliable``, ``reported_by_paper``, ``footnote``)
    under ``ModelSpec.extra["robustbench"]``, as the RobustBench adapter does. With ``provenance``, a
    ``"benchbed"`` entry adds how the numbers were obtained (RobustBench's tools ignore extra keys).
    """
    metrics = record.metrics
    if not _is_number(metrics.get("robust_accuracy")):
        raise BenchbedError(f"record of {record.model!r} on {record.track!r} has no "
                            f"robust_accuracy: RobustBench's model_info needs clean and AutoAttack accuracy")
    from benchbed.results.tables import reported_numbers

    info = record.model_info
    extra = robustbench_fields(record)
    reported = extra.get("reported_by_paper")
    if not _is_number(reported):
        reported = reported_numbers(record).get("robust_accuracy")
    footnote = extra["footnote"] if "footnote" in extra else info.get("footnote", "")
    if record.quick:
        note = f"Evaluated by benchbed on the first {record.n_examples} test points only."
        footnote = f"{footnote} {note}".strip()
    out = {
        "link": info.get("link", ""),
        "name": info.get("paper", ""),
        "authors": extra.get("authors", ""),
        "additional_data": bool(info.get("extra_data", False)),
        "number_forward_passes": extra.get("number_forward_passes", 1),
        "dataset": record.dataset,
        "venue": info.get("venue", ""),
        "architecture": info.get("architecture", ""),
        "eps": eps_label(record),
        "clean_acc": _pct(metrics.get("clean_accuracy")),
        "reported": _pct(reported),
        "autoattack_acc": _pct(metrics["robust_accuracy"]),
        "footnote": footnote,
        "unreliable": bool(extra.get("unreliable", False)),
    }
    if provenance:
        attack = record.attack
        out["benchbed"] = {
            "model": record.model, "track": record.track, "n_examples": record.n_examples,
            "quick": record.quick, "norm": record.norm, "seed": record.seed,
            "attack": attack.name if attack else None, "attack_version": attack.version if attack else None,
            "checkpoint_sha256": record.checkpoint_sha256, "weights_sha256": record.weights_sha256,
            "device": record.device, "versions": dict(record.versions), "finished_at": record.finished_at,
        }
    return out


def model_info_path(record: Record, root: str | Path) -> Path:
    """RobustBench's layout: ``<root>/<dataset>/<threat_model>/<ModelId>.json``."""
    return Path(root) / record.dataset / record.norm / f"{robustbench_id(record)}.json"


def write_model_info(records: list[Record], root: str | Path, *, provenance: bool = False) -> list[Path]:
    """Write one ``model_info`` JSON per record under ``root`` (RobustBench's layout); returns the paths."""
    from benchbed.results.store import atomic_write_bytes

    paths = []
    for record in records:
        path = model_info_path(record, root)
        text = json.dumps(model_info(record, provenance=provenance), indent=2, ensure_ascii=False) + "\n"
        atomic_write_bytes(path, text.encode("utf-8"))
        paths.append(path)
    return paths


# -- LaTeX ------------------------------------------------------------------------------------------
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}


def latex_escape(text: Any) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


ACRONYMS = {"is": "IS", "fid": "FID", "kid": "KID", "w1": "W1"}


def _header(name: str, meta: ColumnInfo | None) -> str:
    label = " ".join(ACRONYMS.get(word, word) for word in name.split("_"))  # digits_fid -> "Digits FID"
    label = label[:1].upper() + label[1:]
    unit = meta.unit if meta else ""
    arrow = {True: r" $\uparrow$", False: r" $\downarrow$"}.get(meta.higher_is_better if meta else None, "")
    return latex_escape(label) + (f" ({latex_escape(unit)})" if unit else "") + arrow


def _latex_columns(frame, meta: dict[str, ColumnInfo], track: str, columns: list[str] | None,
                   all_columns: bool) -> list[str]:
    """The metric columns a LaTeX table shows: those asked for, or the headline ones anybody has."""
    metric_cols = [c for c in frame.columns if c in meta]
    if columns is not None:
        unknown = [c for c in columns if c not in metric_cols]
        if unknown:
            raise BenchbedError(f"unknown column(s) {', '.join(unknown)} for track {track!r}: "
                                f"choose from {', '.join(metric_cols)}")
        return list(columns)
    if not all_columns:
        metric_cols = [c for c in metric_cols if meta[c].rank or meta[c].headline]
    return [c for c in metric_cols if frame[c].notna().any()]  # no column nobody has


def _latex_caption(frame, first: Record, track: str, n_examples: list[int]) -> str:
    """The table's caption, built from escaped pieces, with the footnote marks the rows use."""
    attack = first.attack.name if first.attack else ""
    caption = (
        f"benchbed results on track {latex_escape(track)} ({latex_escape(first.dataset)}, "
        f"{latex_escape(first.norm)} $\\epsilon = {latex_escape(eps_label(first))}$, "
        + (f"{latex_escape(attack)}, " if attack else "")  # no attack ran: no attack named
        + f"{', '.join(str(n) for n in n_examples)} test points)."
    )
    if frame["quick"].any():
        caption += r" $^\dagger$: quick mode, fewer test points than the track's."
    if frame["partial"].any():
        caption += r" $^\ddagger$: partial record, some of the track's metrics missing."
    if frame["flags"].astype(bool).any():
        caption += r" $^\S$: flagged (the attack's warnings or benchbed's observations; see the leaderboard)."
    return caption


def _latex_body(frame, meta: dict[str, ColumnInfo], metric_cols: list[str], reported: dict[str, float] | None,
                digits: int) -> tuple[list[str], list[str]]:
    """The header cells and the rows of a LaTeX table (best value per column in bold; ``reported``: the
    published robust accuracies, in a column after benchbed's)."""
    best: dict[str, float] = {}
    for col in metric_cols:
        direction = meta[col].higher_is_better
        values = [float(v) for v in frame[col] if _is_number(v)]
        if direction is not None and len(values) > 1:
            best[col] = max(values) if direction else min(values)

    def cell(col: str, value: Any) -> str:
        if not _is_number(value):
            return "--"
        if meta[col].unit in ("points", "count") and float(value).is_integer():
            return str(int(value))  # a count is an integer
        text = f"{float(value):.{digits}f}"
        if col in best and round(float(value), digits) == round(best[col], digits):
            return rf"\textbf{{{text}}}"
        return text

    headers = ["Model"]
    for col in metric_cols:
        headers.append(_header(col, meta.get(col)))
        if col == "robust_accuracy" and reported is not None:
            headers.append(r"Reported (\%)")
    rows = []
    for _, row in frame.iterrows():
        marks = "".join(m for m, on in ((r"$^\dagger$", row["quick"]), (r"$^\ddagger$", row["partial"]),
                                        (r"$^\S$", bool(row["flags"]))) if on)
        cells = [latex_escape(row["model"]) + marks]
        for col in metric_cols:
            cells.append(cell(col, row[col]))
            if col == "robust_accuracy" and reported is not None:
                value = reported.get(row["model"])
                cells.append(f"{value:.{digits}f}" if value is not None else "--")
        rows.append(" & ".join(cells) + r" \\")
    return headers, rows


def latex_table(records: list[Record], track: str | None = None, *, columns: list[str] | None = None,
                all_columns: bool = False, reported: bool = True, caption: str | None = None,
                label: str | None = None, digits: int = 2) -> str:
    """A LaTeX ``table`` (booktabs) of one track: one row per model, best value per column in bold.

    ``columns``: metric columns to show (default: the headline columns, as ``benchbed results``
    prints them; every column with ``all_columns``). With ``reported``, a column of the robust
    accuracy published elsewhere (``ModelSpec.reported``) follows benchbed's, where any model has one.
    Without ``track``, the records must all be of one track.
    """
    from benchbed.results.tables import column_catalogue, records_frame, reported_numbers

    tracks = sorted({r.track for r in records})
    if track is None:
        if len(tracks) != 1:
            raise BenchbedError(f"latex_table needs one track, the records hold {len(tracks)} "
                                f"({', '.join(tracks) or 'none'}): pass track=...")
        track = tracks[0]
    records = [r for r in records if r.track == track]
    if not records:
        raise BenchbedError(f"no results for track {track!r} to put in a LaTeX table")
    frame = records_frame(records, all_columns=True)
    meta = column_catalogue(records)
    metric_cols = _latex_columns(frame, meta, track, columns, all_columns)
    by_model = {r.model: r for r in records}
    reported_values = {}
    if reported:
        for name, rec in by_model.items():
            value = reported_numbers(rec).get("robust_accuracy")
            if value is not None:
                reported_values[name] = value
    show_reported = bool(reported_values) and "robust_accuracy" in metric_cols

    headers, rows = _latex_body(frame, meta, metric_cols, reported_values if show_reported else None, digits)
    n_examples = sorted({int(v) for v in frame["n_examples"] if _is_number(v)})
    first = records[0]
    if caption is None:  # built from escaped pieces; a caption passed in is the caller's own LaTeX
        caption = _latex_caption(frame, first, track, n_examples)
    label = re.sub(r"[^A-Za-z0-9:.-]", "-", label or f"tab:benchbed-{track}")
    align = "l" + "r" * (len(headers) - 1)
    lines = [
        f"% benchbed results, track {latex_escape(track)}; needs \\usepackage{{booktabs}}",
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{caption}}}",
        rf"\label{{{label}}}",
        rf"\begin{{tabular}}{{{align}}}",
        r"\toprule",
        " & ".join(headers) + r" \\",
        r"\midrule",
        *rows,
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def latex_tables(records: list[Record], **options: Any) -> str:
    """One :func:`latex_table` per track in ``records``, separated by a blank line."""
    tracks = sorted({r.track for r in records})
    return "\n".join(latex_table(records, t, **options) for t in tracks)
