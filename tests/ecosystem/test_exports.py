"""Exports of stored results: CSV / JSON tables, LaTeX, RobustBench ``model_info`` (API and CLI)."""
from __future__ import annotations

import copy
import io
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from benchbed.cli import main
from benchbed.results.exports import latex_table, model_info, write_model_info
from benchbed.results.store import ResultsStore

COMMITTED = Path(__file__).resolve().parents[2] / "leaderboards" / "results"
TRACK = "digits-linf"


@pytest.fixture()
def records():
    found = ResultsStore(COMMITTED).records(TRACK)
    if not found:
        pytest.skip("no committed digits results")
    return copy.deepcopy(found)


@pytest.fixture()
def results(tmp_path):
    out = tmp_path / "results"
    shutil.copytree(COMMITTED, out, ignore=shutil.ignore_patterns("units", "runlog.jsonl"))
    return out


def raw(records, model):
    return next(r for r in records if r.model == model)


def test_csv_and_json_tables_hold_the_stored_numbers(results, records, capsys):
    assert main(["results", "--out", str(results), "--track", TRACK, "--format", "csv", "--all-columns"]) == 0
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out))
    values = [c for c in frame.columns if not c.endswith(("_low", "_high"))]  # each interval follows its column
    assert values[:5] == ["model", "track", "n_examples", "clean_accuracy", "robust_accuracy"]
    assert list(frame.columns[3:6]) == ["clean_accuracy", "clean_accuracy_low", "clean_accuracy_high"]
    assert len(frame) == len(records)
    for rec in records:
        row = frame[frame["model"] == rec.model].iloc[0]
        for name, value in rec.metrics.items():
            assert row[name] == pytest.approx(value, rel=1e-12, abs=1e-12), (rec.model, name)
    assert list(frame["robust_accuracy"]) == sorted(frame["robust_accuracy"], reverse=True)
    assert main(["results", "--out", str(results), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["model"]: r["robust_accuracy"] for r in rows if r["track"] == TRACK} == \
        {r.model: r.metrics["robust_accuracy"] for r in records}


def test_latex_table_escapes_bolds_the_best_and_shows_reported(records):
    trades = raw(records, "digits-cnn-trades")
    trades.model_info["reported"] = {"robust_accuracy": 90.125}
    records = [r if r is not trades else replace(trades, model="digits_cnn&trades") for r in records]
    # (characters LaTeX must not see raw)
    text = latex_table(records, TRACK, columns=["clean_accuracy", "robust_accuracy", "energy_w1_untargeted"])
    assert r"\toprule" in text and r"\bottomrule" in text and r"\begin{tabular}{lrrrr}" in text
    assert r"digits\_cnn\&trades" in text and "digits_cnn&trades" not in text
    best_robust = max(r.metrics["robust_accuracy"] for r in records)
    best_w1 = min(r.metrics["energy_w1_untargeted"] for r in records)
    assert rf"\textbf{{{best_robust:.2f}}}" in text and rf"\textbf{{{best_w1:.2f}}}" in text
    assert r"Reported (\%)" in text and "90.12" in text  # 90.125 at two digits
    assert text.count("--") >= len(records) - 1  # the models without a reported number
    body = [line for line in text.splitlines() if line.endswith(r"\\")][1:]  # rows after the header
    assert len(body) == len(records)


def test_model_info_matches_robustbench_fields(records):
    rec = raw(records, "digits-cnn-pgdat")
    info = model_info(rec)
    assert list(info) == ["link", "name", "authors", "additional_data", "number_forward_passes", "dataset",
                          "venue", "architecture", "eps", "clean_acc", "reported", "autoattack_acc",
                          "footnote", "unreliable"]
    assert info["clean_acc"] == f"{rec.metrics['clean_accuracy']:.2f}"
    assert info["autoattack_acc"] == f"{rec.metrics['robust_accuracy']:.2f}"
    assert info["eps"] == "0.1" and info["dataset"] == "digits" and info["venue"] == "ICLR 2018"
    assert info["reported"] == "" and info["additional_data"] is False
    with_provenance = model_info(rec, provenance=True)["benchbed"]
    assert with_provenance["n_examples"] == 449 and with_provenance["checkpoint_sha256"] == rec.checkpoint_sha256


def test_model_info_files_in_robustbench_layout(results, records, tmp_path, capsys):
    paths = write_model_info(records, tmp_path / "api")
    assert sorted(p.relative_to(tmp_path / "api").as_posix() for p in paths) == \
        sorted(f"digits/Linf/{r.model}.json" for r in records)
    out = tmp_path / "cli"
    assert main(["results", "--out", str(results), "--format", "model-info", "--export-dir", str(out)]) == 0
    for rec in records:
        written = json.loads((out / "digits" / "Linf" / f"{rec.model}.json").read_text())
        assert written == model_info(rec)


def test_latex_and_export_dir_errors_are_one_line(results, capsys):
    assert main(["results", "--out", str(results), "--format", "csv", "--export-dir", "x"]) == 2
    err = capsys.readouterr().err
    assert "--export-dir is for formats that write files (model-info)" in err and err.count("\n") == 1
    assert main(["results", "--out", str(results), "--format", "latex"]) == 0
    assert r"\begin{table}" in capsys.readouterr().out
