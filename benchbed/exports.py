"""Exports of result records: RobustBench ``model_info`` JSON, CSV, and LaTeX tables.

- :func:`model_info` turns one record into the JSON RobustBench keeps per model in
  ``model_info/<dataset>/<threat_model>/<ModelId>.json`` (the files its leaderboard is built from),
  so benchbed numbers can be submitted there. Its fields, as RobustBench writes them: ``link``,
  ``name`` (the paper title), ``authors``, ``additional_data``, ``number_forward_passes``,
  ``dataset``, ``venue``, ``architecture``, ``eps`` (text, e.g. "8/255"), ``clean_acc``,
  ``reported`` (the robust accuracy the paper reported) and ``autoattack_acc`` (percentages as text
  with two decimals), plus ``footnote`` and ``unreliable``.
- :func:`csv_table` is the table ``benchbed results --format csv`` prints.
- :func:`latex_table` is a booktabs table of one track (``\\usepackage{booktabs}``), best value of
  each column in bold, every plugin-provided string escaped.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from .errors import BenchbedError

MODEL_INFO_FIELDS = (
    "link", "name", "authors", "additional_data", "number_forward_passes", "dataset", "venue",
    "architecture", "eps", "clean_acc", "reported", "autoattack_acc", "footnote", "unreliable",
)


# -- helpers ----------------------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _pct(value: Any) -> str:
    return f"{float(value):.2f}" if _is_number(value) else ""


def eps_label(record: dict[str, Any]) -> str:
    """How the track's eps is usually written ("8/255"), from the record's track info."""
    info = record.get("track_info") or {}
    if info.get("eps_label"):
        return str(info["eps_label"])
    eps = record.get("eps", info.get("eps"))
    if not _is_number(eps):
        return ""
    for denominator in (255,):
        numerator = eps * denominator
        if abs(numerator - round(numerator)) < 1e-9 and round(numerator) > 0:
            return f"{round(numerator)}/{denominator}"
    return f"{eps:g}"


def robustbench_id(record: dict[str, Any]) -> str:
    """The model's RobustBench id: the adapter's original id for ``rb/...`` models, else a file-safe name."""
    rb = (record.get("model_info") or {}).get("robustbench") or {}
    if rb.get("id"):
        return str(rb["id"])
    name = record["model"]
    if name.startswith("rb/"):
        return name.rsplit("/", 1)[-1]
    return re.sub(r"[^A-Za-z0-9._-]", "_", name.replace("/", "__"))


# -- RobustBench model_info -------------------------------------------------------------------------
def model_info(record: dict[str, Any], *, provenance: bool = False) -> dict[str, Any]:
    """One record as a RobustBench ``model_info`` JSON dict (field order as RobustBench writes it).

    ``reported`` is the robust accuracy published for the model: the paper's own number where the
    registration has it (the RobustBench adapter's ``reported_by_paper``), else
    ``ModelSpec.reported["robust_accuracy"]``, else "". Plugins may add RobustBench-only fields
    (``authors``, ``number_forward_passes``, ``unreliable``) under a ``"robustbench"`` key of their
    spec's ``info()``, as the RobustBench adapter does. With ``provenance``, a
    ``"benchbed"`` entry adds how the numbers were obtained (RobustBench's tools ignore extra keys).
    """
    metrics = record.get("metrics") or {}
    if not _is_number(metrics.get("robust_accuracy")):
        raise BenchbedError(f"record of {record.get('model')!r} on {record.get('track')!r} has no "
                            f"robust_accuracy: RobustBench's model_info needs clean and AutoAttack accuracy")
    from .tables import reported_numbers

    info = record.get("model_info") or {}
    extra = info.get("robustbench") or {}
    reported = extra.get("reported_by_paper")
    if not _is_number(reported):
        reported = reported_numbers(record).get("robust_accuracy")
    footnote = extra["footnote"] if "footnote" in extra else info.get("footnote", "")
    if record.get("quick"):
        note = f"Evaluated by benchbed on the first {record.get('n_examples')} test points only."
        footnote = f"{footnote} {note}".strip()
    out = {
        "link": info.get("link", ""),
        "name": info.get("paper", ""),
        "authors": extra.get("authors", ""),
        "additional_data": bool(info.get("extra_data", False)),
        "number_forward_passes": extra.get("number_forward_passes", 1),
        "dataset": record.get("dataset", info.get("dataset", "")),
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
        attack = record.get("attack") or {}
        out["benchbed"] = {
            "model": record["model"], "track": record["track"], "n_examples": record.get("n_examples"),
            "quick": bool(record.get("quick", False)), "norm": record.get("norm"), "seed": record.get("seed"),
            "attack": attack.get("name"), "attack_version": attack.get("version"),
            "checkpoint_sha256": record.get("checkpoint_sha256", ""), "device": record.get("device", ""),
            "versions": record.get("versions", {}), "finished_at": record.get("finished_at", ""),
        }
    return out


def model_info_path(record: dict[str, Any], root: str | Path) -> Path:
    """RobustBench's layout: ``<root>/<dataset>/<threat_model>/<ModelId>.json``."""
    return Path(root) / str(record.get("dataset", "unknown")) / str(record.get("norm", "unknown")) / \
        f"{robustbench_id(record)}.json"


def write_model_info(records: list[dict[str, Any]], root: str | Path, *, provenance: bool = False) -> list[Path]:
    """Write one ``model_info`` JSON per record under ``root`` (RobustBench's layout); returns the paths."""
    from .store import atomic_write_bytes

    paths = []
    for record in records:
        path = model_info_path(record, root)
        text = json.dumps(model_info(record, provenance=provenance), indent=2, ensure_ascii=False) + "\n"
        atomic_write_bytes(path, text.encode("utf-8"))
        paths.append(path)
    return paths


# -- CSV --------------------------------------------------------------------------------------------
def csv_table(records: list[dict[str, Any]]) -> str:
    """The one-row-per-model table as CSV (the columns of ``benchbed results``)."""
    from .tables import format_frame, records_frame

    return format_frame(records_frame(records), "csv")


# -- LaTeX ------------------------------------------------------------------------------------------
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}


def latex_escape(text: Any) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def _header(name: str, meta: dict[str, Any]) -> str:
    label = name.replace("_", " ")
    label = label[:1].upper() + label[1:]
    unit = meta.get("unit") or ""
    arrow = {True: r" $\uparrow$", False: r" $\downarrow$"}.get(meta.get("higher_is_better"), "")
    return latex_escape(label) + (f" ({latex_escape(unit)})" if unit else "") + arrow


def latex_table(records: list[dict[str, Any]], track: str | None = None, *, columns: list[str] | None = None,
                reported: bool = True, caption: str | None = None, label: str | None = None,
                digits: int = 2) -> str:
    """A LaTeX ``table`` (booktabs) of one track: one row per model, best value per column in bold.

    ``columns``: metric columns to show (default: all, in ``benchbed results`` order). With
    ``reported``, a column of the robust accuracy published elsewhere (``ModelSpec.reported``) follows
    benchbed's, where any model has one. Without ``track``, the records must all be of one track.
    """
    from .tables import column_meta, records_frame, reported_numbers

    tracks = sorted({r["track"] for r in records})
    if track is None:
        if len(tracks) != 1:
            raise BenchbedError(f"latex_table needs one track, the records hold {len(tracks)} "
                                f"({', '.join(tracks) or 'none'}): pass track=...")
        track = tracks[0]
    records = [r for r in records if r["track"] == track]
    if not records:
        raise BenchbedError(f"no results for track {track!r} to put in a LaTeX table")
    frame = records_frame(records)
    meta = column_meta(records)
    metric_cols = [c for c in frame.columns if c not in ("model", "track", "n_examples")]
    if columns is not None:
        unknown = [c for c in columns if c not in metric_cols]
        if unknown:
            raise BenchbedError(f"unknown column(s) {', '.join(unknown)} for track {track!r}: "
                                f"choose from {', '.join(metric_cols)}")
        metric_cols = list(columns)
    if columns is None:  # leave out columns no model has a value for
        metric_cols = [c for c in metric_cols if frame[c].notna().any()]
    by_model = {r["model"]: r for r in records}
    reported_values = {}
    if reported:
        for name, rec in by_model.items():
            value = reported_numbers(rec).get("robust_accuracy")
            if value is not None:
                reported_values[name] = value
    show_reported = bool(reported_values) and "robust_accuracy" in metric_cols

    best: dict[str, float] = {}
    for col in metric_cols:
        direction = (meta.get(col) or {}).get("higher_is_better")
        values = [float(v) for v in frame[col] if _is_number(v)]
        if direction is not None and len(values) > 1:
            best[col] = max(values) if direction else min(values)

    def cell(col: str, value: Any) -> str:
        if not _is_number(value):
            return "--"
        text = f"{float(value):.{digits}f}"
        if col in best and round(float(value), digits) == round(best[col], digits):
            return rf"\textbf{{{text}}}"
        return text

    headers = ["Model"]
    for col in metric_cols:
        headers.append(_header(col, meta.get(col) or {}))
        if col == "robust_accuracy" and show_reported:
            headers.append(r"Reported (\%)")
    n_examples = sorted({int(v) for v in frame["n_examples"] if _is_number(v)})
    rows = []
    for _, row in frame.iterrows():
        cells = [latex_escape(row["model"])]
        for col in metric_cols:
            cells.append(cell(col, row[col]))
            if col == "robust_accuracy" and show_reported:
                value = reported_values.get(row["model"])
                cells.append(f"{value:.{digits}f}" if value is not None else "--")
        rows.append(" & ".join(cells) + r" \\")
    first = records[0]
    if caption is None:  # built from escaped pieces; a caption passed in is the caller's own LaTeX
        attack = (first.get("attack") or {}).get("name", "")
        caption = (
            f"benchbed results on track {latex_escape(track)} ({latex_escape(first.get('dataset', ''))}, "
            f"{latex_escape(first.get('norm', ''))} $\\epsilon = {latex_escape(eps_label(first))}$, "
            f"{latex_escape(attack)}, {', '.join(str(n) for n in n_examples)} test points)."
        )
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


def latex_tables(records: list[dict[str, Any]], **options: Any) -> str:
    """One :func:`latex_table` per track in ``records``, separated by a blank line."""
    tracks = sorted({r["track"] for r in records})
    return "\n".join(latex_table(records, t, **options) for t in tracks)
