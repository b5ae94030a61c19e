"""Across the zoo (issue 13, item 8): Spearman's rho between robust accuracy and each alignment column."""
from __future__ import annotations

import math

import numpy as np
import pytest
from lb_pages import parse, track_file
from scipy.stats import spearmanr

from benchbed.functional.correlation import spearman
from benchbed.leaderboard import render_site
from benchbed.results.store import ResultsStore
from benchbed.results.tables import shown_records


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spearman_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=9)
    y = np.round(x + rng.normal(size=9), 0 if seed == 2 else 6)  # seed 2: ties
    rho, n = spearman(list(x), list(y))
    assert n == 9 and rho == pytest.approx(spearmanr(x, y).statistic)


def test_spearman_drops_missing_pairs_and_needs_three():
    rho, n = spearman([1.0, None, 3.0, float("nan"), 5.0, 2.0], [2.0, 1.0, 6.0, 0.0, 7.0, 1.0])
    assert n == 4 and rho == pytest.approx(spearmanr([1, 3, 5, 2], [2, 6, 7, 1]).statistic)
    assert math.isnan(spearman([1, 2], [3, 4])[0]) and spearman([1, 2], [3, 4])[1] == 2
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3])[0])


def test_track_page_states_rho_with_n_and_draws_the_scatter(zoo_results, tmp_path):
    site = render_site(zoo_results, tmp_path / "site")
    page = parse(site / track_file("digits-linf"))
    section = next(s for s in page.find_all("section") if "Across the zoo" in s.text)
    records = shown_records(ResultsStore(zoo_results).records())
    robust = [r.metrics.get("robust_accuracy") for r in records]
    rows = {tr.find_all("td")[0].text.strip(): [td.text.strip() for td in tr.find_all("td")]
            for tr in section.find_all("tr") if tr.find_all("td")}
    for column in ("wasserstein_untargeted", "delta_energy_std_untargeted", "abs_delta_energy_mean_untargeted"):
        values = [r.metrics.get(column) for r in records]
        expected = spearmanr(values, robust).statistic
        assert rows[column][2] == f"{expected:+.2f}" and rows[column][3] == "5"
    assert "delta_energy_mean_untargeted" not in rows  # signed: not an alignment column
    caption = section.find_all("figcaption")[0].text
    assert "robust_accuracy against wasserstein_untargeted" in " ".join(caption.split())
    assert "(%" in caption and "energy units" in caption  # both axes say their units
    assert section.find_all("svg")
