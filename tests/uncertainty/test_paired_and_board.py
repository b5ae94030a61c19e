"""Paired comparisons of published digits records (McNemar against statsmodels, paired bootstrap against a
hand loop), the `benchbed compare` command, and the board's tie marks."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from benchbed.cli import main
from benchbed.leaderboard import tracks
from benchbed.results.paired import compare_records, plain_reduction, registry_resolver
from benchbed.results.store import PUBLISHED_RESULTS, ResultsStore

contingency = pytest.importorskip("statsmodels.stats.contingency_tables")
REPO = Path(__file__).resolve().parents[2]
TRACK, A, B = "digits-linf", "digits-cnn-pgdat", "digits-cnn-dat"


@pytest.fixture(scope="module")
def published():
    store = ResultsStore(REPO / PUBLISHED_RESULTS)
    a, b = store.record(TRACK, A), store.record(TRACK, B)
    if a is None or b is None:
        pytest.skip("no published digits records in this checkout")
    return store, a, store.arrays(a), b, store.arrays(b)


def mcnemar_p(x, y):
    table = [[int(np.sum(x & y)), int(np.sum(x & ~y))], [int(np.sum(~x & y)), int(np.sum(~x & ~y))]]
    return min(1.0, contingency.mcnemar(table, exact=True).pvalue)


def test_accuracy_columns_use_the_exact_mcnemar_test(published):
    _, a, xa, b, xb = published
    rows = compare_records(a, xa, b, xb, ["clean_accuracy", "robust_accuracy"], plain_reduction)
    for row, flags in zip(rows, ("clean_correct", "robust")):
        assert row.paired.p_value == pytest.approx(mcnemar_p(xa[flags], xb[flags]), abs=1e-12)
        assert row.paired.difference == pytest.approx(a.metrics[row.column] - b.metrics[row.column])
        assert row.paired.low < row.paired.difference < row.paired.high


def test_energy_columns_use_a_paired_bootstrap_with_the_registered_reduction(published):
    from benchbed import registry

    _, a, xa, b, xb = published
    resolve = registry_resolver(registry.registry())
    column = "energy_w1_rel_untargeted"
    [row] = compare_records(a, xa, b, xb, [column], resolve)
    reduction = resolve(a, column)
    assert reduction.describe() == a.columns[column].reduce
    draws = np.random.default_rng(0).integers(0, a.n_examples, size=(1000, a.n_examples))
    ins_a = [xa[k] for k in reduction.inputs]
    ins_b = [xb[k] for k in reduction.inputs]
    diffs = [reduction.fn(*(v[r] for v in ins_a)) - reduction.fn(*(v[r] for v in ins_b)) for r in draws]
    assert (row.paired.low, row.paired.high) == pytest.approx(tuple(np.quantile(diffs, [0.025, 0.975])))
    assert row.paired.difference == pytest.approx(a.metrics[column] - b.metrics[column])
    # unknown reductions are said, never guessed
    [unknown] = compare_records(a, xa, b, xb, [column], plain_reduction)
    assert unknown.paired is None and "reduction unknown" in unknown.why


def test_grouped_energy_columns_compare_exactly_as_one_bootstrap_each(published):
    """The energy columns of one attack kind share their group's resamples in compare_records: the same
    intervals and p-values (==) as a paired bootstrap of each column alone."""
    from benchbed import registry
    from benchbed.functional.uncertainty import paired_bootstrap

    _, a, xa, b, xb = published
    resolve = registry_resolver(registry.registry())
    columns = ["energy_w1_rel_untargeted", "energy_abs_gap_untargeted", "energy_gap_std_rel_untargeted"]
    assert len({resolve(a, c).group for c in columns}) == 1  # one group: resampled once for all three
    for row in compare_records(a, xa, b, xb, columns, resolve):
        reduction = resolve(a, row.column)
        alone = paired_bootstrap(reduction.fn, [xa[k] for k in reduction.inputs], [xb[k] for k in reduction.inputs])
        assert row.paired == alone, row.column


def test_board_marks_ranks_not_distinguishable_from_the_next(published):
    store, *_ = published
    records = [r for r in store.records(TRACK) if not r.variant]
    arrays = {r.model: store.arrays(r) for r in records}
    view = tracks.build_track(TRACK, records, arrays, resolve=plain_reduction)
    ranked = sorted((r for r in view.rows if r.rank is not None), key=lambda r: r.rank)
    for better, worse in zip(ranked, ranked[1:]):
        p = mcnemar_p(arrays[better.model]["robust"], arrays[worse.model]["robust"])
        assert bool(better.tie) == (p >= 0.05), (better.model, worse.model, p)
        assert bool(better.cells["robust_accuracy"].tie) == (p >= 0.05)
    assert any(r.tie for r in ranked) and not all(r.tie for r in ranked[:-1])  # the digits board has both


@pytest.mark.slow
def test_compare_command_on_the_published_results(published, tmp_path, capsys):
    shutil.copytree(REPO / PUBLISHED_RESULTS, tmp_path / "results")
    assert main(["compare", A, B, "--track", TRACK, "--results", str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("robust_accuracy"))
    assert "McNemar" in line and "tied at 95 %" in line
    assert next(ln for ln in out.splitlines() if ln.startswith("energy_w1_rel_untargeted ")).endswith(
        "(paired bootstrap)")


def test_compare_refuses_unknown_models_in_one_line(published, capsys):
    assert main(["compare", A, "no-such-model", "--results", str(REPO / PUBLISHED_RESULTS)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no record of 'no-such-model'" in err[0]
