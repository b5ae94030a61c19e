"""Rendering the leaderboard site from fixture records: pages, columns, order, downloads, edge cases."""
from __future__ import annotations

import io
import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lb_pages import model_file, parse, row_cells, table_models, track_file
from lb_records import ENERGY_COLUMNS, GENERATIVE_COLUMNS, TRACK, ZOO, grid_png, make_arrays, make_record, write_zoo

from benchbed.contracts.errors import BenchbedError
from benchbed.leaderboard import DEFAULT_SITE, environment, render_site
from benchbed.results.record import Failure
from benchbed.results.store import ResultFileWarning, ResultsStore

ZOO_BY_ROBUST = [z[0] for z in sorted(ZOO, key=lambda z: -z[4])]


@pytest.fixture
def site(zoo_results, tmp_path) -> Path:
    return render_site(zoo_results, tmp_path / "site")


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_default_site_folder():
    assert DEFAULT_SITE == Path("leaderboards") / "local" / "site"


def test_every_page_and_download_is_written(site):
    names = set(tree(site))
    assert {"index.html", "records.json", ".nojekyll", ".benchbed-site", track_file(TRACK, ".html"),
            track_file(TRACK, ".csv"), track_file(TRACK, ".json"), track_file(TRACK, ".records.json")} <= names
    for model, *_ in ZOO:
        assert model_file(model, ".html") in names and model_file(model, ".records.json") in names
    manifest = read(site / ".benchbed-site").split()
    assert manifest == sorted(n for n in names if n != ".benchbed-site")


def test_index_lists_tracks_with_best_model_per_column_and_newest_date(site):
    html = read(site / "index.html")
    root = parse(site / "index.html")
    overview = root.find_all("table", "overview")[0]
    row = overview.find_all("tbody")[0].find_all("tr")[0]
    cells = [c.text.strip() for c in row.find_all("td")]
    assert cells[0] == TRACK and cells[1] == "digits" and "Linf" in cells[2] and cells[3] == "0.1"
    assert cells[4] == str(len(ZOO)) and "digits-weat-cnn" in cells[5] and cells[6] == "2025-03-05"
    best = {r.find_all("td")[0].text: r.find_all("td")[3].text
            for r in root.find_all("table", "best-table")[0].find_all("tbody")[0].find_all("tr")}
    assert best["robust_accuracy"] == "digits-weat-cnn"
    assert best["clean_accuracy"] == "digits-standard-cnn"
    assert best["digits_fid"] == "digits-jem-cnn"  # lower is better
    assert best["digits_is"] == "digits-jem-cnn"
    assert "energy_nat_mean" not in best  # informational: no direction, no "best"
    assert f'href="{track_file(TRACK)}"' in html and 'href="records.json"' in html


def test_track_table_default_order_is_robust_accuracy_descending(site):
    assert table_models(site / track_file(TRACK, ".html")) == ZOO_BY_ROBUST


def test_track_table_has_every_column_with_unit_direction_and_tooltip(site):
    root = parse(site / track_file(TRACK, ".html"))
    heads = {h.attrs["data-col"]: h for h in root.find_all("th") if h.attrs.get("data-type") == "num"
             and h.attrs["data-col"] not in ("rank", "n_examples", "flags")}
    expected = ["clean_accuracy", "robust_accuracy", *ENERGY_COLUMNS, *GENERATIVE_COLUMNS]
    assert set(heads) == set(expected)
    assert list(heads)[:2] == ["clean_accuracy", "robust_accuracy"]
    for name, (desc, higher, unit) in {**ENERGY_COLUMNS, **GENERATIVE_COLUMNS}.items():
        th = heads[name]
        assert desc in th.attrs["title"]
        unit_text = th.find_all("span", "unit")[0].text
        if unit:
            assert unit in unit_text and f"unit: {unit}" in th.attrs["title"]
        arrow = {True: "↑", False: "↓", None: ""}[higher]
        assert (arrow in unit_text) if arrow else ("↑" not in unit_text and "↓" not in unit_text)
        assert {True: "higher is better", False: "lower is better", None: "no direction"}[higher] in th.attrs["title"]
        assert th.attrs["data-first"] == ("ascending" if higher is False else "descending")
    assert "%" in heads["robust_accuracy"].text and heads["robust_accuracy"].attrs.get("aria-sort") == "descending"
    header_text = [h.text for h in root.find_all("th")]
    for label in ("Model", "Paper", "Venue", "Architecture", "Recipe", "Extra data", "Flags"):
        assert any(label in t for t in header_text), label


def test_track_row_shows_metadata_values_links_and_flags(site):
    page = site / track_file(TRACK, ".html")
    jem = row_cells(page, "digits-jem-cnn")
    assert jem["robust_accuracy"] == "12.47" and jem["clean_accuracy"] == "97.10"
    assert jem["sort:robust_accuracy"] == "12.47"
    assert jem["digits_fid"] == "22.80" and jem["n_examples"] == "449"
    assert "gradient masking" in jem["flags"]
    assert jem["recipe"] == "JEM" and jem["architecture"] == "WideSmallCNN" and jem["venue"] == "ICLR 2018"
    assert jem["extra_data"] == "no" and jem["rank"] == "4"
    assert row_cells(page, "digits-weat-cnn")["flags"] == ""
    root = parse(page)
    links = [a.attrs.get("href") for a in root.find_all("a")]
    assert "../" + model_file("digits-jem-cnn", ".html") in links and "https://arxiv.org/abs/1706.06083" in links
    best_cells = [td for td in root.find_all("td") if "is-best" in td.classes()]
    assert {td.text for td in best_cells} >= {"85.08", "98.44", "22.80"}


def test_track_page_has_plots_and_column_legend(site):
    root = parse(site / track_file(TRACK, ".html"))
    scatter = root.find_all("svg", "scatter")
    assert len(scatter) == 2  # vs FID, then vs the headline alignment column (test_alignment_section.py)
    assert len(scatter[0].find_all("circle")) == len(ZOO)
    labels = [t.text for t in scatter[0].find_all("text") if "axis-label" in t.classes()]
    assert any(label.startswith("digits_fid") and "lower is better" in label for label in labels)
    assert any(label.startswith("robust_accuracy (%)") for label in labels)
    hists = root.find_all("svg", "hist")
    assert len(hists) == len(ZOO)
    assert all(len(h.find_all("path")) == 3 for h in hists)  # natural, untargeted, targeted
    assert "Columns" in [h.text for h in root.find_all("h2")]


def test_model_page_has_metadata_metrics_provenance_energy_and_samples(site):
    page = site / model_file("digits-jem-cnn", ".html")
    html = read(page)
    root = parse(page)
    assert root.find_all("h1")[0].text == "digits-jem-cnn"
    for text in ("WideSmallCNN", "JEM", "ICLR 2018", "Towards Deep Learning Models", "ab" * 32, "ef" * 32,
                 "standard", "apgd-ce", "301", "apgd-t", "cpu (2 threads)", "12.5 s", "pyautoattack", "0.2.0",
                 "torch-fidelity", "2025-03-05T10:00:00+00:00", "rank 4 of 5", "gradient masking"):
        assert text in html, text
    prov_rows = root.find_all("table", "prov")[0].find_all("tr")
    prov = {r.find_all("th")[0].text: r.find_all("td")[0].text for r in prov_rows}
    assert prov["Test points"].strip() == "449" and prov["Seed"] == "0"
    metrics = root.find_all("table", "metrics-table")[0]
    rows = [r for r in metrics.find_all("tr") if "group-row" not in r.classes() and r.find_all("td")]
    assert len(rows) == 2 + len(ENERGY_COLUMNS) + len(GENERATIVE_COLUMNS)
    assert [r.text for r in metrics.find_all("tr", "group-row")] == ["accuracy", "energy", "generative"]
    # the headline numbers as cards: the compact board of this model
    cards = {c.find_all("dt")[0].text: c.find_all("dd")[0].text
             for c in root.find_all("dl", "headline")[0].find_all("div")}
    assert list(cards)[:2] == ["clean_accuracy", "robust_accuracy"]
    assert {"wasserstein_untargeted", "digits_is", "digits_fid", "test points", "flags"} <= set(cards)
    assert "12.47" in cards["robust_accuracy"] and "gradient masking" in cards["flags"]
    hists = root.find_all("svg", "hist")  # energies, the energy gap ΔE (both on the track's shared range) ...
    assert len(hists) in (2, 3)  # ... and, when that range is much wider than the model's own, a zoom
    imgs = root.find_all("img")
    assert len(imgs) == 1 and imgs[0].attrs["src"].startswith("data:image/png;base64,")
    assert f'href="../{track_file("digits-linf")}"' in html


def test_downloads_csv_json_and_raw_records(site, zoo_results):
    frame = pd.read_csv(site / track_file(TRACK, ".csv"))
    assert list(frame["model"]) == ZOO_BY_ROBUST
    assert list(frame["rank"]) == [1, 2, 3, 4, 5]
    assert {"paper", "venue", "architecture", "recipe", "extra_data", "n_examples", "flags", *GENERATIVE_COLUMNS,
            *ENERGY_COLUMNS} <= set(frame.columns)
    table = json.loads(read(site / track_file(TRACK, ".json")))
    assert [r["model"] for r in table["rows"]] == ZOO_BY_ROBUST
    assert table["columns"]["digits_fid"]["higher_is_better"] is False
    raw = json.loads(read(site / "records.json"))
    assert raw == json.loads(json.dumps([r.to_dict() for r in ResultsStore(zoo_results).records()]))
    assert len(json.loads(read(site / model_file("digits-jem-cnn", ".records.json")))) == 1


def _file_mode() -> int:
    """rw-rw-rw- less the umask: what a plain ``open()`` gives."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def test_pages_get_ordinary_file_permissions(site):
    assert _file_mode() & 0o600 == 0o600
    for path in (p for p in site.rglob("*") if p.is_file()):  # not a temporary file's 0600 mode: web servers
        assert path.stat().st_mode & 0o777 == _file_mode(), path.name  # read them


def test_rendering_is_deterministic(zoo_results, tmp_path):
    a = tree(render_site(zoo_results, tmp_path / "a"))
    b = tree(render_site(zoo_results, tmp_path / "b"))
    assert a == b
    again = tree(render_site(zoo_results, tmp_path / "a"))  # re-render in place: nothing changes
    assert again == a


def test_missing_values_render_as_a_dash_never_zero(tmp_path):
    store = ResultsStore(tmp_path / "results")
    full = make_record("full-model", energy={"wasserstein_untargeted": 0.0}, robust=50.0)
    partial = replace(make_record("partial-model", robust=None, clean=91.0, energy=None), status="partial",
                      metric_errors={"robust_accuracy": "the attack failed"})
    store.write(full, make_arrays(0, 20, -5, 1, -1, 0.5))
    store.write(partial)
    out = render_site(store.root, tmp_path / "site")
    page = out / track_file(TRACK, ".html")
    row = row_cells(page, "partial-model")
    # no number, and why: the metric failed / was not part of this run (never 0, never a guess)
    assert row["robust_accuracy"] == "failed" and row["sort:robust_accuracy"] == ""
    assert row["wasserstein_untargeted"] == "not run" and row["rank"] == "–"
    assert row_cells(page, "full-model")["wasserstein_untargeted"] == "0"  # a real zero stays a zero
    assert table_models(page) == ["full-model", "partial-model"]  # no value: listed last
    assert "partial" in row["model"] and row["flags"] == ""  # marked beside its name, where its numbers are
    model_html = read(out / model_file("partial-model", ".html"))
    assert "the attack failed" in model_html
    assert '<svg class="plot hist"' not in model_html  # no figure drawn from arrays that were never stored
    frame = pd.read_csv(out / track_file(TRACK, ".csv"))
    assert frame.set_index("model").loc["partial-model", "robust_accuracy"] != frame.set_index(
        "model").loc["partial-model", "robust_accuracy"]  # NaN in the CSV, not 0


def test_records_of_another_schema_are_refused_not_guessed(tmp_path):
    """Records from an older tool, or hand-written ones: never rendered as if they were valid."""
    store = ResultsStore(tmp_path / "results")
    store.write(make_record("valid"))
    folder = store.track_dir(TRACK)
    (folder / "bare.json").write_text(json.dumps({"model": "bare", "track": TRACK,
                                                  "metrics": {"robust_accuracy": 10, "clean_accuracy": "n/a"}}))
    (folder / "odd.json").write_text(json.dumps({"model": "odd", "track": TRACK, "metrics": "nope", "attack": [1]}))
    with pytest.warns(ResultFileWarning):
        out = render_site(store.root, tmp_path / "site")
    assert table_models(out / track_file(TRACK)) == ["valid"]
    assert not list(out.rglob("bare*")) and not list(out.rglob("odd*"))


def test_one_model(tmp_path):
    store = ResultsStore(tmp_path / "results")
    store.write(make_record("only-model", energy=None, generative=None), make_arrays(1, 30, -4, 1, -1, 0.3,
                                                                                     grid=False))
    out = render_site(store.root, tmp_path / "site")
    page = out / track_file(TRACK, ".html")
    assert table_models(page) == ["only-model"]
    html = read(page)
    assert "No scatter plot on this track: it does not measure the two numbers" in html  # no guessed axis
    assert "Column.plot" not in html  # a reader's words, not the plugin API's
    assert not parse(page).find_all("svg", "scatter")
    assert "This track generates" not in read(out / model_file("only-model", ".html"))


@pytest.mark.slow
def test_a_hundred_models(tmp_path):
    store = ResultsStore(tmp_path / "results")
    rng = np.random.default_rng(0)
    for i in range(100):
        clean = float(rng.uniform(80, 99))
        rec = make_record(f"zoo/model-{i:03d}", recipe=["PGD-AT", "TRADES", "WEAT", "JEM", "standard"][i % 5],
                          clean=clean, robust=float(rng.uniform(0, clean)),
                          generative={"digits_fid": float(rng.uniform(10, 150))}, energy=None)
        store.write(rec, make_arrays(i, 50, -5, 1, -1, 0.5, grid=False) if i % 2 else None)
    out = render_site(store.root, tmp_path / "site")
    page = out / track_file(TRACK, ".html")
    models = table_models(page)
    assert len(models) == 100 and len(set(models)) == 100
    root = parse(page)
    assert len(root.find_all("svg", "scatter")[0].find_all("circle")) == 100
    assert len(root.find_all("svg", "hist")) == 50
    assert len(list((out / "models" / "zoo").glob("model-*.html"))) == 100  # zoo/model-000 ...
    robust = [float(row_cells(page, m)["sort:robust_accuracy"]) for m in models[:10]]
    assert robust == sorted(robust, reverse=True)


def test_several_tracks_and_a_model_on_two_of_them(tmp_path):
    store = write_zoo(tmp_path / "results")
    store.write(make_record("digits-weat-cnn", track="digits-l2", robust=70.0, energy=None, generative=None))
    out = render_site(store.root, tmp_path / "site")
    assert (out / track_file("digits-l2", ".html")).is_file()
    html = read(out / model_file("digits-weat-cnn", ".html"))
    assert f'href="../{track_file("digits-l2")}"' in html and f'href="../{track_file("digits-linf")}"' in html
    assert track_file("digits-l2") == "tracks/digits-l2.html"
    assert [t.text for t in parse(out / "index.html").find_all("table", "overview")[0].find_all("a")
            if t.attrs["href"].startswith("tracks/")] == ["digits-l2", "digits-linf"]


def test_quick_mode_is_flagged(tmp_path):
    store = ResultsStore(tmp_path / "results")
    store.write(make_record("quick-model", n_examples=50))
    out = render_site(store.root, tmp_path / "site")
    assert "quick 50/449" in row_cells(out / track_file(TRACK, ".html"), "quick-model")["model"]
    assert "quick mode" in read(out / model_file("quick-model", ".html"))


def test_the_sample_grid_comes_from_the_records_arrays_only(tmp_path):
    """The grid is the PNG the generative metric keeps in the record's checksummed arrays; a PNG lying
    next to the record is not guessed to be it."""
    store = ResultsStore(tmp_path / "results")
    png = grid_png(3)
    store.write(make_record("grid-model", generative={"digits_fid": 30.0}),
                {"generative_grid_png": np.frombuffer(png, np.uint8)})
    store.write(make_record("file-model", generative={"digits_fid": 30.0}))
    store.record_path(TRACK, "file-model", suffix=".png").write_bytes(grid_png(4))
    out = render_site(store.root, tmp_path / "site")
    import base64

    assert "data:image/png;base64," + base64.b64encode(png).decode() in read(out / model_file("grid-model"))
    assert "<img" not in read(out / model_file("file-model"))


def test_a_grid_that_is_not_a_png_is_ignored(tmp_path):
    store = ResultsStore(tmp_path / "results")
    not_png = np.frombuffer(b"<svg onload=alert(1)>", np.uint8)
    store.write(make_record("bad-grid", generative={"digits_fid": 30.0}), {"generative_grid_png": not_png})
    out = render_site(store.root, tmp_path / "site")
    html = read(out / model_file("bad-grid", ".html"))
    assert "<img" not in html and "Nothing to draw for “class-conditional samples" in html


def test_stale_pages_are_removed_and_foreign_files_kept(tmp_path):
    store = write_zoo(tmp_path / "results")
    out = render_site(store.root, tmp_path / "site")
    (out / "CNAME").write_text("leaderboard.example.org\n")
    store.record_path(TRACK, "digits-jem-cnn").unlink()
    store.record_path(TRACK, "digits-jem-cnn", suffix=".npz").unlink()
    render_site(store.root, out)
    assert not (out / model_file("digits-jem-cnn", ".html")).exists()
    assert not (out / model_file("digits-jem-cnn", ".records.json")).exists()
    assert (out / "CNAME").read_text() == "leaderboard.example.org\n"
    assert tree(out) == {**tree(render_site(store.root, tmp_path / "fresh")),
                         "CNAME": b"leaderboard.example.org\n"}


@pytest.mark.parametrize("make", ["missing", "empty", "only-failures"])
def test_an_empty_results_folder_is_a_clear_error(tmp_path, make):
    root = tmp_path / "results"
    if make != "missing":
        root.mkdir()
    if make == "only-failures":
        ResultsStore(root).write_failure(Failure("m", TRACK, "", "boom", "all", "r", {}, "2025-01-01"))
    with pytest.raises(BenchbedError, match=r"no valid result records in .*benchbed run"):
        render_site(root, tmp_path / "site")
    assert not (tmp_path / "site" / "index.html").exists()


def test_cli_renders_and_reports_errors(zoo_results, tmp_path, capsys):
    from benchbed.cli import main

    assert main(["leaderboard", "--results", str(zoo_results), "--out", str(tmp_path / "site")]) == 0
    out = capsys.readouterr().out
    assert "1 track page(s) and 5 model page(s)" in out and "index.html" in out
    (tmp_path / "empty").mkdir()
    assert main(["leaderboard", "--results", str(tmp_path / "empty"), "--out", str(tmp_path / "s2")]) == 2
    assert "no valid result records" in capsys.readouterr().err


def test_cli_default_out_folder_is_beside_the_results(zoo_results, tmp_path, monkeypatch):
    from benchbed.cli import main

    monkeypatch.chdir(tmp_path)
    assert zoo_results.name == "results"
    assert main(["leaderboard", "--results", str(zoo_results)]) == 0
    assert (zoo_results.parent / "site" / "index.html").is_file()  # X/results -> X/site
    other = tmp_path / "runs-2026"
    shutil.copytree(zoo_results, other)
    assert main(["leaderboard", "--results", str(other)]) == 0
    assert (tmp_path / "runs-2026-site" / "index.html").is_file()  # never inside the results folder
    assert not list(other.rglob("*.html"))


def test_every_link_is_relative_or_http(site):
    for page in site.rglob("*.html"):
        root = parse(page)
        for el in root.find_all():
            for attr in ("href", "src"):
                value = el.attrs.get(attr)
                if value is None:
                    continue
                assert (value.startswith(("https://", "http://", "data:image/png;base64,", "data:,"))
                        or ("://" not in value and not value.startswith(("/", "javascript", "data")))), (page, value)
                if not value.startswith(("http", "data", "#")):
                    target = (page.parent / value.split("#")[0]).resolve()
                    assert target.is_file() and target.is_relative_to(site.resolve()), (page.name, value)


def test_pages_are_self_contained(site):
    for page in site.rglob("*.html"):
        root = parse(page)
        scripts = root.find_all("script")
        assert len(scripts) == 1 and "src" not in scripts[0].attrs
        assert not [link for link in root.find_all("link") if link.attrs.get("rel") == "stylesheet"]
        csp = [m for m in root.find_all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
        assert csp and "default-src 'none'" in csp[0].attrs["content"]


def test_autoescape_is_on_for_file_and_string_templates():
    env = environment()
    assert env.autoescape is True
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"
    for name in env.list_templates(extensions=["j2"]):
        assert env.get_template(name).environment.autoescape is True


def test_png_grid_fixture_is_a_png():
    assert grid_png(0).startswith(b"\x89PNG") and io.BytesIO(grid_png(0)).getbuffer().nbytes > 100


def test_reported_numbers_are_shown_beside_benchbeds_own(tmp_path):
    """A model whose source published numbers (ModelSpec.reported, e.g. RobustBench's) gets them in
    their own columns next to the measured ones; models without show a dash, never 0."""
    rec = make_record("rb-like", clean=90.0, robust=50.0)
    rec.model_info["reported"] = {"clean_accuracy": 91.25, "robust_accuracy": 55.5}
    store = write_zoo(tmp_path / "results", extra=[(rec, {})])
    out = render_site(store.root, tmp_path / "site")
    page = out / track_file(TRACK, ".html")
    cells = row_cells(page, "rb-like")
    assert cells["reported_clean_accuracy"] == "91.25" and cells["reported_robust_accuracy"] == "55.50"
    assert cells["robust_accuracy"] == "50.00"
    other = row_cells(page, ZOO[0][0])
    assert other["reported_robust_accuracy"] in ("–", "-", "—")
    heads = [h.attrs["data-col"] for h in parse(page).find_all("th") if "data-col" in h.attrs]
    assert heads.index("reported_robust_accuracy") > heads.index("robust_accuracy")
    frame = pd.read_csv(out / track_file(TRACK, ".csv"))
    assert frame.loc[frame["model"] == "rb-like", "reported_robust_accuracy"].item() == 55.5
