"""A board you can read (issue 15, item 5): the compact default view, column order by meaning, quick and
partial records marked where their numbers are, counts as integers, one x-range for every model's
energy histograms, flags that link to what they refer to, figures that say what they show."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from lb_pages import model_file, parse, row_cells, track_file
from lb_records import TRACK, ZOO, columns_meta, energy_metrics, make_arrays, make_record, write_zoo

from benchbed.builtin.attacks import AUTOATTACK_FLAGS_DOC
from benchbed.leaderboard import render_site
from benchbed.results.record import ColumnInfo

AA_RANDOM = 'it seems to be a randomized defense! Please use version="rand". See flags_doc.md for details.'
AA_ZERO = ("there are 3 points with zero gradient! This might lead to unreliable evaluation with gradient-based "
           "attacks. See flags_doc.md for details.")


def quick_and_partial(tmp_path: Path) -> Path:
    """The zoo, plus a quick run, a partial run (the generative metric failed) and a flagged model."""
    arrays = make_arrays(11, 100, -5, 1, -1, 0.5)
    quick = make_record("digits-quick-cnn", n_examples=100, recipe="TRADES", robust=83.0, clean=96.0,
                        energy=energy_metrics(arrays), generative={"digits_is": 7.7, "digits_fid": 30.1})
    full_arrays = make_arrays(12, 449, -5, 1, -1, 0.5, grid=False)
    partial = make_record("digits-partial-cnn", robust=80.0, clean=97.0, energy=energy_metrics(full_arrays))
    metrics = ("clean_accuracy", "robust_accuracy", "energy", "generative")
    partial = replace(partial, status="partial", metrics_run=metrics,
                      metric_errors={"generative": "no feature-extractor weights: run `benchbed fetch`"},
                      track_info={**partial.track_info, "metrics": list(metrics)})
    flagged = make_record("digits-random-cnn", recipe="standard", robust=40.0, clean=90.0,
                          generative={"digits_is": 5.0, "digits_fid": 60.0}, flags=(AA_RANDOM, AA_ZERO))
    store = write_zoo(tmp_path / "results", extra=[(quick, arrays), (partial, full_arrays), (flagged, {})])
    return render_site(store.root, tmp_path / "site")


@pytest.fixture
def site(zoo_results, tmp_path) -> Path:
    return render_site(zoo_results, tmp_path / "site")


@pytest.fixture
def mixed(tmp_path) -> Path:
    return quick_and_partial(tmp_path)


def heads(page: Path) -> list:
    table = next(t for t in parse(page).find_all("table") if "lb" in t.classes())
    return table.find_all("thead")[0].find_all("th")


def test_the_table_opens_compact_with_the_headline_columns_in_order_of_meaning(site):
    page = site / track_file(TRACK)
    shown = [h.attrs["data-col"] for h in heads(page) if "hidden" not in h.attrs]
    headline = [n for n, c in columns_meta().items() if c.headline or c.rank]
    # rank, name, recipe; clean, robust (the rank keys, in the track's order); the headline alignment
    # column; IS and FID; test points and flags
    assert shown == ["rank", "model", "recipe", *headline, "n_examples", "flags"]
    assert shown[3:8] == ["clean_accuracy", "robust_accuracy", "wasserstein_untargeted", "digits_is", "digits_fid"]
    hidden = [h for h in heads(page) if "hidden" in h.attrs]
    assert {h.attrs["data-col"] for h in hidden} >= {"paper", "venue", "energy_nat_mean", "digits_kid"}
    assert all("more" in h.classes() for h in hidden)  # what the group toggles show
    # every body cell follows its header
    table = next(t for t in parse(page).find_all("table") if "lb" in t.classes())
    names = [h.attrs["data-col"] for h in heads(page)]
    for row in table.find_all("tbody")[0].find_all("tr"):
        cells = [c for c in row.children if c.tag == "td"]
        assert [("hidden" in c.attrs) for c in cells] == [n not in shown for n in names]


def test_group_toggles_offer_the_rest_of_each_group(site):
    html = (site / track_file(TRACK)).read_text()
    root = parse(site / track_file(TRACK))
    boxes = {b.attrs["data-group"]: b.parent.text for b in root.find_all("input") if "data-group" in b.attrs}
    assert "all" in boxes and "0" in boxes  # model info, every group at once
    labels = " ".join(boxes.values())
    assert "energy +6" in labels and "generative +1" in labels  # 7 energy columns, 1 headline; KID
    assert not any("accuracy" in v for v in boxes.values())  # nothing more to show there
    assert all("checked" not in b.attrs for b in root.find_all("input") if "data-group" in b.attrs)
    assert "More columns" in html


def test_headers_are_whole_names_never_fragments(site):
    html = (site / track_file(TRACK)).read_text()
    assert "<wbr>" not in html
    for h in heads(site / track_file(TRACK)):
        names = h.find_all("span", "cname")
        if names and h.attrs["data-col"] not in ("n_examples",):
            assert names[0].text == h.attrs["data-col"]


def test_rank_note_names_the_first_key_first(site):
    html = (site / track_file(TRACK)).read_text()
    assert "Ranked by robust_accuracy, then clean_accuracy" in html


def test_quick_and_partial_records_are_marked_where_their_numbers_are(mixed):
    page = mixed / track_file(TRACK)
    quick, partial = row_cells(page, "digits-quick-cnn"), row_cells(page, "digits-partial-cnn")
    assert "quick 100/449" in quick["model"] and quick["rank"] == "–" and quick["n_examples"] == "100"
    assert "partial" in partial["model"] and partial["rank"] == "–"
    assert partial["digits_fid"] == "failed" and partial["robust_accuracy"] == "80.00"
    rows = {r.find_all("td", "model")[0].find_all("a")[0].text: r for r in parse(page).find_all("tr")
            if r.find_all("td", "model")}
    assert "is-quick" in rows["digits-quick-cnn"].classes() and "100 of the track's 449" in rows[
        "digits-quick-cnn"].attrs["title"]
    assert "is-partial" in rows["digits-partial-cnn"].classes()
    assert "no feature-extractor weights" in rows["digits-partial-cnn"].attrs["title"]
    assert not rows["digits-weat-cnn"].classes()
    # the index: the track's count and the models list
    index = (mixed / "index.html").read_text()
    assert "1 quick</a>" in index and "1 partial</a>" in index
    models = parse(mixed / "index.html").find_all("table", "overview")[1]
    quick_row = next(r for r in models.find_all("tr") if "digits-quick-cnn" in r.text)
    assert "quick 100/449" in quick_row.text
    # the model page: beside the track's name, a notice, and the numbers' cards
    model = parse(mixed / model_file("digits-quick-cnn"))
    h2 = model.find_all("section", "track-section")[0].find_all("h2")[0]
    assert "unranked" in h2.text and "quick 100/449" in h2.text
    assert "100 of the track's 449 test points" in model.find_all("p", "notice")[0].text
    assert "is-quick" in model.find_all("dl", "headline")[0].classes()
    partial_page = parse(mixed / model_file("digits-partial-cnn"))
    cards = {c.find_all("dt")[0].text: c.find_all("dd")[0].text for c in partial_page.find_all("dl", "headline")[0]
             .find_all("div")}
    assert "failed" in cards["digits_fid"] and "80.00" in cards["robust_accuracy"]


def test_a_track_with_only_quick_records_still_names_its_best_marked_quick(tmp_path):
    store = write_zoo(tmp_path / "results", n=449)
    for path in list(store.root.rglob("*.json")):  # keep only quick runs: replace the zoo
        path.unlink()
    for path in list(store.root.rglob("*.npz")):
        path.unlink()
    store.write(make_record("quick-a", n_examples=50, robust=70.0), None)
    store.write(make_record("quick-b", n_examples=50, robust=60.0), None)
    out = render_site(store.root, tmp_path / "site")
    overview = parse(out / "index.html").find_all("table", "overview")[0]
    best = overview.find_all("tbody")[0].find_all("td")[5].text
    assert "70.00 %" in best and "quick-a" in best and "quick 50/449" in best
    assert "no record of this track is ranked yet" in (out / "index.html").read_text()


def test_counts_are_integers_on_pages_and_downloads(tmp_path):
    columns = {**columns_meta(), "energy_n_untargeted": ColumnInfo("energy", "points with an untargeted x*", None,
                                                                    "points", group="energy", order=99)}
    rec = make_record("counted", energy={"energy_n_untargeted": 423.0, "wasserstein_untargeted": 0.5},
                      columns=columns)
    store = write_zoo(tmp_path / "results", extra=[(rec, {})])
    out = render_site(store.root, tmp_path / "site")
    assert row_cells(out / track_file(TRACK), "counted")["energy_n_untargeted"] == "423"
    csv = (out / track_file(TRACK, ".csv")).read_text()
    assert ",423," in csv and "423.0" not in csv
    frame = pd.read_csv(out / track_file(TRACK, ".csv"))
    assert frame["energy_n_untargeted"].dropna().eq(423).all()


def x_ticks(svg) -> list[str]:
    return [t.text for t in svg.find_all("g", "ticks")[0].find_all("text") if t.attrs.get("text-anchor") == "middle"]


def test_energy_histograms_share_one_x_range_on_the_track_and_model_pages(site):
    track = parse(site / track_file(TRACK))
    small = track.find_all("svg", "hist")
    assert len({tuple(x_ticks(s)) for s in small}) == 1  # one range for every model
    pages = [parse(site / model_file(name)) for name, *_ in ZOO]
    energy = {tuple(x_ticks(p.find_all("svg", "hist")[0])) for p in pages}
    delta = {tuple(x_ticks(p.find_all("svg", "hist")[1])) for p in pages}
    assert len(energy) == 1 and len(delta) == 1
    assert "same range in every panel" in " ".join((site / track_file(TRACK)).read_text().split())


def test_every_figure_says_what_it_shows_and_its_units(site):
    for page in (site / track_file(TRACK), site / model_file(ZOO[0][0])):
        root = parse(page)
        for svg in root.find_all("svg", "plot"):
            labels = [t.text for t in svg.find_all("text") if "axis-label" in t.classes()]
            assert len(labels) == 2, (page.name, labels)  # x and y
            assert svg.attrs.get("aria-label")
        for fig in root.find_all("figure"):
            if fig.find_all("svg"):
                assert fig.find_all("figcaption"), page.name
    scatter = parse(site / track_file(TRACK)).find_all("svg", "scatter")[0]
    assert any("(%)" in t.text for t in scatter.find_all("text"))
    hist = parse(site / model_file(ZOO[0][0])).find_all("svg", "hist")[0]
    labels = [t.text for t in hist.find_all("text") if "axis-label" in t.classes()]
    assert "energy units" in labels[0] and "fraction of points" in labels[1]


def test_flags_link_to_what_they_refer_to(mixed):
    track_html = (mixed / track_file(TRACK)).read_text()
    root = parse(mixed / track_file(TRACK))
    ids = {e.attrs["id"] for e in root.find_all() if "id" in e.attrs}
    badges = [a for a in root.find_all("a", "badge")]
    assert badges and all(a.attrs["href"].startswith("#flag-") and a.attrs["href"][1:] in ids for a in badges)
    # AutoAttack's warnings: to the section of its flags_doc.md that explains them
    assert f'href="{AUTOATTACK_FLAGS_DOC}#randomized-defenses"' in track_html
    assert f'href="{AUTOATTACK_FLAGS_DOC}#zero-gradient"' in track_html
    # ... and its words' "See flags_doc.md for details" (a file of its repository) become that page's address
    assert "See flags_doc.md for details" not in track_html
    assert f"flag documentation: {AUTOATTACK_FLAGS_DOC}#randomized-defenses" in track_html  # ' is escaped
    # benchbed's own markers: explained on the page, with where benchbed documents them
    legend = root.find_all("table", "flag-legend")[0].text
    assert "docs/guarantees.md" in legend and "Variants: quick runs and metric selections" in legend
    # the model page's badges lead to the track page's legend
    model = parse(mixed / model_file("digits-random-cnn"))
    hrefs = [a.attrs["href"] for a in model.find_all("a", "badge")]
    assert hrefs and all(re.fullmatch(re.escape("../" + track_file(TRACK)) + r"#flag-[a-z0-9-]+", h) for h in hrefs)
    assert AUTOATTACK_FLAGS_DOC in (mixed / model_file("digits-random-cnn")).read_text()


def test_model_page_descriptions_sit_in_their_own_wide_column(site):
    root = parse(site / model_file(ZOO[0][0]))
    table = root.find_all("table", "metrics-table")[0]
    head = [th.text for th in table.find_all("thead")[0].find_all("th")]
    assert head == ["Column", "Value", "Unit", "Direction", "What it measures"]
    descs = table.find_all("td", "desc")
    assert descs and all(d.text for d in descs)
