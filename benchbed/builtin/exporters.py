"""Built-in formats of ``benchbed results --format``: table, csv, json, latex, model-info."""
from __future__ import annotations

import json

from benchbed.contracts.hookspecs import hookimpl
from benchbed.contracts.specs import ExporterSpec


def _frame_format(fmt: str):
    def render(records, options) -> str:
        from benchbed.results.tables import format_frame, records_frame

        return format_frame(records_frame(records, all_columns=options.get("all_columns", False), intervals=True),
                            fmt)

    return render


def _latex(records, options) -> str:
    from benchbed.results.exports import latex_tables

    return latex_tables(records, all_columns=options.get("all_columns", False))


def _model_info(records, options) -> str:
    from benchbed.results.exports import model_info

    usable = [r for r in records if r.value("robust_accuracy") is not None]
    several = len({r.track for r in usable}) > 1
    out = {f"{r.track}/{r.model}" if several else r.model: model_info(r, provenance=options.get("provenance", False))
           for r in usable}
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


def _write_model_info(records, folder, options):
    from benchbed.results.exports import write_model_info

    usable = [r for r in records if r.value("robust_accuracy") is not None]
    return write_model_info(usable, folder, provenance=options.get("provenance", False))


@hookimpl
def register_exporters(register):
    register(ExporterSpec(name="table", render=_frame_format("table"), description="a plain-text table"))
    register(ExporterSpec(name="csv", render=_frame_format("csv"), description="the table as CSV"))
    register(ExporterSpec(name="json", render=_frame_format("json"),
                          description="the table as JSON (numbers to the last digit)"))
    register(ExporterSpec(name="latex", render=_latex, description="a booktabs table per track"))
    register(ExporterSpec(name="model-info", render=_model_info, write=_write_model_info,
                          description="RobustBench model_info JSON per model (--export-dir DIR: one file each)"))
