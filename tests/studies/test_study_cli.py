"""The study commands end to end on a tiny model: stored results, progress-free output, one-line refusals,
and the model page's figures."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from benchbed.cli import main
from benchbed.results.store import ResultsStore

PLUGIN = str(Path(__file__).with_name("tiny_study_plugin.py"))
COMMON = ["--track", "tiny-digits", "--no-progress", "--no-leaderboard", "--threads", "1"]


@pytest.fixture
def cli(fresh_plugins, tmp_path, capsys):
    def run(*args):
        code = main(["--plugin", PLUGIN, *args])
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


def test_study_attacks_stores_one_row_and_energies_per_attack(cli, tmp_path):
    code, out, err = cli("study", "attacks", "--model", "tiny-series", "--attacks", "pgd,cw-margin-t,trades-kl",
                         "--out", str(tmp_path), *COMMON)
    assert code == 0, err
    study = ResultsStore(tmp_path).study("tiny-digits", "tiny-series", "attacks")
    assert [r["attack"] for r in study.rows] == ["pgd", "cw-margin-t", "trades-kl"]
    arrays = ResultsStore(tmp_path).study_arrays(study)
    for row in study.rows:
        marginal = arrays[f"{row['attack']}.marginal"]
        assert marginal.shape == (40,) and row["points"] == 40
        gap = arrays["natural.marginal"] - marginal
        assert row["ΔE mean"] == pytest.approx(float(np.mean(gap)))
        assert float(arrays[f"{row['attack']}.perturbation"].max()) <= 0.1 + 1e-6
    assert "pgd" in out and "stored in" in out


def test_study_eps_covers_the_grid_and_eps_zero_changes_nothing(cli, tmp_path):
    code, out, err = cli("study", "eps", "--model", "tiny-series", "--multipliers", "0,1,4", "--out", str(tmp_path),
                         *COMMON)
    assert code == 0, err
    rows = ResultsStore(tmp_path).study("tiny-digits", "tiny-series", "eps").rows
    assert [r["eps"] for r in rows] == pytest.approx([0.0, 0.1, 0.4])
    assert rows[0]["ΔE mean"] == 0 and rows[0]["flipped"] == 0
    assert rows[2]["robust_accuracy"] <= rows[1]["robust_accuracy"] <= rows[0]["robust_accuracy"]


def test_dynamics_evaluates_every_checkpoint(cli, tmp_path):
    code, out, err = cli("study", "dynamics", "--model", "tiny-series", "--out", str(tmp_path), *COMMON)
    assert code == 0, err
    study = ResultsStore(tmp_path).study("tiny-digits", "tiny-series", "dynamics")
    assert [r["step"] for r in study.rows] == [1, 2, 3]
    assert study.rows[-1]["clean_accuracy"] > study.rows[0]["clean_accuracy"]
    for r in study.rows:
        assert r["ΔE mean"] == pytest.approx(r["E(x) mean"] - r["E(x*) mean"])


@pytest.mark.parametrize("args, message", [
    (["study", "attacks", "--model", "no-such-model"], "unknown model 'no-such-model'"),
    (["study", "attacks", "--model", "tiny-plain", "--attacks", "pgd,nope"], "unknown attack 'nope'"),
    (["study", "eps", "--model", "tiny-plain", "--multipliers", "1,x"], "--multipliers must be"),
    (["study", "attacks", "--model", "tiny-plain", "--n-examples", "0"], "--n-examples must be a positive"),
    (["study", "dynamics", "--model", "tiny-plain"], "publishes no training series"),
    (["study", "dynamics", "--model", "tiny-series", "--every", "0"], "--every must be >= 1"),
    (["study", "dynamics", "--model", "tiny-series", "--every", "two"], "--every must be an integer"),
    (["study", "eps", "--model", "tiny-plain", "--multipliers", "1,-2"], "--multipliers must be non-negative"),
])
def test_bad_input_is_refused_in_one_line(cli, tmp_path, args, message):
    code, out, err = cli(*args, "--out", str(tmp_path), *COMMON)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("benchbed: error:") and message in lines[0]


def test_the_model_page_draws_the_studies(cli, tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "leaderboard"))
    from lb_pages import model_file
    from lb_records import make_record

    from benchbed.leaderboard import render_site

    store = ResultsStore(tmp_path / "results")
    store.write(make_record("tiny-series", track="tiny-digits"))
    for args in (["study", "attacks", "--attacks", "pgd,cw-margin-t"], ["study", "eps", "--multipliers", "0,1,2"],
                 ["study", "dynamics"]):
        assert cli(*args, "--model", "tiny-series", "--out", str(store.root), *COMMON)[0] == 0
    html = (render_site(store.root, tmp_path / "site") / model_file("tiny-series")).read_text()
    for title in ("Study: energies per attack", "Study: energy response over eps", "Study: training dynamics"):
        assert title in html
    assert html.count('<svg class="plot hist"') == 4  # marginal and joint panels, one per attack
    assert html.count('<svg class="plot lines"') == 4  # eps: gap + accuracy; dynamics: accuracy + energy
    assert "energy (logit units)" in html and "adversarial top logit" in html


def test_the_old_commands_are_aliases_with_one_deprecation_line(cli, tmp_path):
    code, out, err = cli("dynamics", "--model", "tiny-series", "--every", "2", "--out", str(tmp_path), *COMMON)
    assert code == 0, err
    assert err.strip().splitlines() == ["benchbed: warning: `benchbed dynamics` is deprecated and goes in 0.4: use "
                                        "`benchbed study dynamics`"]
    study = ResultsStore(tmp_path).study("tiny-digits", "tiny-series", "dynamics")
    assert [r["step"] for r in study.rows] == [1, 3]  # every 2nd checkpoint and the last
