"""The compact default outside the pages (issue 15, item 5): ``benchbed results`` and the LaTeX export
print the headline columns (``--all-columns`` for the rest), counts as integers, flags as a column;
``benchbed metrics`` prints the real column names of each track, in order of meaning."""
from __future__ import annotations

import io
import json

import pandas as pd
from lb_records import ZOO, columns_meta, make_record, write_zoo

from benchbed.cli import main
from benchbed.results.exports import latex_table
from benchbed.results.record import ColumnInfo
from benchbed.results.store import ResultsStore
from benchbed.results.tables import records_frame

HEADLINE = [n for n, c in columns_meta().items() if c.headline or c.rank]
COUNTED = {**columns_meta(), "energy_n_untargeted": ColumnInfo("energy", "points with an untargeted x*", None,
                                                                "points", group="energy", order=99)}


def counted_zoo(tmp_path):
    rec = make_record("counted", energy={"energy_n_untargeted": 423.0, "wasserstein_untargeted": 0.5},
                      columns=COUNTED)
    return write_zoo(tmp_path / "results", extra=[(rec, {})]).root


def test_results_table_defaults_to_the_headline_columns(zoo_results, capsys):
    assert main(["results", "--out", str(zoo_results)]) == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header == ["model", "track", "n_examples", *HEADLINE, "flags"]  # one zoo model has a flag
    assert main(["results", "--out", str(zoo_results), "--all-columns"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert set(header) >= set(columns_meta()) and "energy_nat_mean" in header


def test_flags_are_a_column_and_counts_are_integers(tmp_path, capsys):
    root = counted_zoo(tmp_path)
    frame = records_frame(ResultsStore(root).records(), all_columns=True)
    assert str(frame["energy_n_untargeted"].dtype) == "Int64"
    jem = frame.set_index("model").loc["digits-jem-cnn"]
    assert jem["flags"] == "gradient masking"
    assert main(["results", "--out", str(root), "--all-columns"]) == 0
    text = capsys.readouterr().out
    assert " 423 " in text + " " and "423.00" not in text
    assert main(["results", "--out", str(root), "--all-columns", "--format", "json"]) == 0
    rows = {r["model"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["counted"]["energy_n_untargeted"] == 423 and isinstance(rows["counted"]["energy_n_untargeted"], int)
    assert main(["results", "--out", str(root), "--format", "csv"]) == 0
    csv = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(csv.columns[-3:]) == ["quick", "partial", "flags"]


def test_latex_defaults_to_the_headline_columns_and_names_the_points(zoo_results, capsys):
    records = ResultsStore(zoo_results).records()
    text = latex_table(records)
    header = next(line for line in text.splitlines() if line.startswith("Model &"))
    assert header.count("&") == len(HEADLINE)
    assert "Digits FID" in header and "Digits IS" in header and "Wasserstein untargeted" in header
    assert "449 test points" in text  # the caption says how many points
    assert r"digits-jem-cnn$^\S$" in text and r"$^\S$: flagged" in text
    wide = latex_table(records, all_columns=True)
    assert next(line for line in wide.splitlines() if line.startswith("Model &")).count("&") > len(HEADLINE)
    assert main(["results", "--out", str(zoo_results), "--format", "latex"]) == 0
    assert capsys.readouterr().out == text
    assert main(["results", "--out", str(zoo_results), "--format", "latex", "--all-columns"]) == 0
    assert capsys.readouterr().out == wide


def test_latex_prints_counts_as_integers(tmp_path):
    records = ResultsStore(counted_zoo(tmp_path)).records()
    text = latex_table(records, columns=["robust_accuracy", "energy_n_untargeted"])
    row = next(line for line in text.splitlines() if line.startswith("counted"))
    assert row.endswith("& 423 \\\\")


def test_metrics_lists_real_column_names_in_order_of_meaning(capsys):
    assert main(["metrics", "--track", "digits-linf"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "{prefix}" not in "\n".join(lines)
    columns = [line.split()[1] for line in lines[1:]]
    assert columns[:2] == ["clean_accuracy", "robust_accuracy"]
    assert {"digits_is", "digits_fid", "digits_kid"} <= set(columns)
    assert columns.index("energy_w1_untargeted") < columns.index("digits_fid")
    headline = {line.split()[1] for line in lines[1:] if line.split()[2] == "yes"}
    assert {"clean_accuracy", "robust_accuracy", "digits_is", "digits_fid"} <= headline
    assert "digits_kid" not in headline
    assert main(["metrics", "generative"]) == 0  # every track: CIFAR names and digits names
    names = {line.split()[1] for line in capsys.readouterr().out.splitlines()[1:]}
    assert {"is", "fid", "digits_is", "digits_fid"} <= names
    assert len(ZOO) == 5
