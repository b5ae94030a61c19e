"""The rendered site in real headless Chromium (Debian's chromium + chromium-driver, via Selenium).

Run ``scripts/install-browser.sh`` first; without /usr/bin/chromium and /usr/bin/chromedriver these
tests are skipped with that message. Screenshots land in ``test-artifacts/`` (gitignored).
"""
from __future__ import annotations

from pathlib import Path

import pytest
from lb_pages import model_file, track_file
from lb_records import TRACK, ZOO, make_record, write_zoo

from benchbed.leaderboard import render_site

pytestmark = pytest.mark.browser

BY_ROBUST = [z[0] for z in sorted(ZOO, key=lambda z: -z[4])]
BY_CLEAN = [z[0] for z in sorted(ZOO, key=lambda z: -z[3])]
BY_FID = [z[0] for z in sorted(ZOO, key=lambda z: z[8])]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    # a sixth model without robust accuracy or FID: it must sort last whichever the direction
    write_zoo(tmp / "results", extra=[(make_record("digits-unfinished", robust=None, clean=50.0), {})])
    return render_site(tmp / "results", tmp / "site")


def severe(browser) -> list[dict]:
    return [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def visible_models(browser) -> list[str]:
    from selenium.webdriver.common.by import By

    return [row.find_element(By.CSS_SELECTOR, "td.model a").text
            for row in browser.find_elements(By.CSS_SELECTOR, "#lb > tbody:not(.none) > tr") if row.is_displayed()]


def header(browser, col: str):
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, f'th[data-col="{col}"] button.sort')


def test_pages_load_without_console_errors(site, browser, artifacts):
    pages = sorted(str(p.relative_to(site)) for p in site.rglob("*.html"))
    assert len(pages) == 2 + len(ZOO) + 1
    for name in pages:
        browser.get((site / name).resolve().as_uri())
        assert browser.execute_script("return document.readyState") == "complete"
        assert browser.title.endswith("benchbed leaderboards")
        assert severe(browser) == [], name
    browser.get((site / track_file(TRACK, ".html")).resolve().as_uri())
    browser.save_screenshot(str(artifacts / "leaderboard-track.png"))
    browser.get((site / "index.html").resolve().as_uri())
    browser.save_screenshot(str(artifacts / "leaderboard-index.png"))
    browser.get((site / model_file("digits-weat-cnn", ".html")).resolve().as_uri())
    browser.save_screenshot(str(artifacts / "leaderboard-model.png"))
    assert (artifacts / "leaderboard-track.png").stat().st_size > 10_000
    assert severe(browser) == []


def test_clicking_a_header_resorts(site, browser):
    browser.get((site / track_file(TRACK, ".html")).resolve().as_uri())
    assert visible_models(browser) == BY_ROBUST + ["digits-unfinished"]
    header(browser, "clean_accuracy").click()  # higher is better: best first
    clean_order = visible_models(browser)
    assert clean_order == BY_CLEAN + ["digits-unfinished"]  # its clean accuracy, 50, is the lowest
    header(browser, "clean_accuracy").click()  # again: reversed
    assert visible_models(browser) == clean_order[::-1]
    header(browser, "digits_fid").click()  # lower is better: best first; missing values last
    assert visible_models(browser) == BY_FID + ["digits-unfinished"]
    header(browser, "digits_fid").click()
    assert visible_models(browser) == BY_FID[::-1] + ["digits-unfinished"]
    header(browser, "model").click()  # text: A to Z
    assert visible_models(browser) == sorted(BY_ROBUST + ["digits-unfinished"])
    th = browser.find_element("css selector", 'th[data-col="model"]')
    assert th.get_attribute("aria-sort") == "ascending"
    header(browser, "rank").click()
    assert visible_models(browser) == BY_ROBUST + ["digits-unfinished"]
    assert severe(browser) == []


def test_filter_box_and_recipe_filter_hide_rows(site, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get((site / track_file(TRACK, ".html")).resolve().as_uri())
    box = browser.find_element(By.CSS_SELECTOR, "input.filter")
    count = browser.find_element(By.CSS_SELECTOR, ".controls .count")
    box.send_keys("trades")
    assert visible_models(browser) == ["digits-trades-cnn"]
    assert count.text == "1 of 6 models"
    box.clear()
    box.send_keys("widesmallcnn")  # architecture is searched too
    assert visible_models(browser) == ["digits-jem-cnn"]
    box.clear()
    box.send_keys("no-such-model")
    assert visible_models(browser) == []
    assert browser.find_element(By.CSS_SELECTOR, "tbody.none").is_displayed()
    box.clear()
    box.send_keys("x")
    box.clear()
    browser.execute_script("arguments[0].dispatchEvent(new Event('input'))", box)
    assert len(visible_models(browser)) == 6
    Select(browser.find_element(By.CSS_SELECTOR, "select.recipe")).select_by_visible_text("WEAT")
    assert visible_models(browser) == ["digits-weat-cnn"]
    box.send_keys("trades")  # both filters apply
    assert visible_models(browser) == []
    assert severe(browser) == []


def test_column_group_toggles_show_the_rest_of_a_group(site, browser):
    from selenium.webdriver.common.by import By

    browser.get((site / track_file(TRACK, ".html")).resolve().as_uri())

    def shown(col: str) -> bool:
        return browser.find_element(By.CSS_SELECTOR, f'th[data-col="{col}"]').is_displayed()

    assert shown("digits_fid") and shown("robust_accuracy") and not shown("digits_kid")  # compact
    assert not shown("energy_nat_mean") and not shown("paper")
    group = browser.find_element(By.CSS_SELECTOR, 'th[data-col="digits_kid"]').get_attribute("class").split("g-")[1]
    box = browser.find_element(By.CSS_SELECTOR, f'input[data-group="{group.split()[0]}"]')
    box.click()
    assert shown("digits_kid") and shown("digits_fid") and not shown("energy_nat_mean")
    cells = browser.find_elements(By.CSS_SELECTOR, 'td.g-' + group.split()[0] + '.more')
    assert cells and all(c.is_displayed() for c in cells)
    box.click()
    assert not shown("digits_kid")
    everything = browser.find_element(By.CSS_SELECTOR, 'input[data-group="all"]')
    everything.click()
    assert all(th.is_displayed() for th in browser.find_elements(By.CSS_SELECTOR, "#lb thead th"))
    everything.click()
    assert not shown("digits_kid") and not shown("paper") and shown("digits_fid")
    assert severe(browser) == []


def _viewport(browser, width: int, height: int) -> None:
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def test_compact_board_fits_1400px_without_scrolling(site, browser, artifacts):
    """Issue 15: at 1400 px wide, clean, robust, the headline alignment column, IS/FID and flags are
    visible without scrolling, on the track page and on the model page."""
    from selenium.webdriver.common.by import By

    _viewport(browser, 1400, 900)
    try:
        browser.get((site / track_file(TRACK, ".html")).resolve().as_uri())
        wrap = browser.execute_script("var w = document.querySelector('#lb').parentElement;"
                                      "return [w.clientWidth, w.scrollWidth];")
        assert wrap[1] <= wrap[0], "the compact table scrolls sideways at 1400 px"
        for col in ("clean_accuracy", "robust_accuracy", "wasserstein_untargeted", "digits_is", "digits_fid",
                    "flags"):
            box = browser.execute_script("var r = arguments[0].getBoundingClientRect(); return [r.right, r.bottom];",
                                         browser.find_element(By.CSS_SELECTOR, f'th[data-col="{col}"]'))
            assert box[0] <= 1400 and box[1] <= 900, col
        last_row = browser.find_elements(By.CSS_SELECTOR, "#lb > tbody:not(.none) > tr")[-1]
        assert browser.execute_script("return arguments[0].getBoundingClientRect().bottom", last_row) <= 900
        browser.save_screenshot(str(artifacts / "board-track-1400.png"))
        browser.get((site / model_file("digits-jem-cnn", ".html")).resolve().as_uri())
        cards = browser.find_elements(By.CSS_SELECTOR, "dl.headline > div")
        names = [c.find_element(By.TAG_NAME, "dt").text for c in cards]
        assert names[:2] == ["clean_accuracy", "robust_accuracy"] and "flags" in names and "digits_fid" in names
        for card in cards:
            r = browser.execute_script("var r = arguments[0].getBoundingClientRect(); return [r.right, r.bottom];",
                                       card)
            assert r[0] <= 1400 and r[1] <= 900, card.text
        browser.save_screenshot(str(artifacts / "board-model-1400.png"))
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert severe(browser) == []


def test_the_committed_board_fits_1400px_without_scrolling(browser, artifacts):
    """The same on the published digits site, with the real zoo's columns (the synthetic one above cannot
    notice a new headline column that pushes IS/FID or the flags out of view)."""
    from selenium.webdriver.common.by import By

    committed = Path(__file__).resolve().parents[2] / "leaderboards" / "site"
    page = committed / "tracks" / "digits-linf.html"
    _viewport(browser, 1400, 900)
    try:
        browser.get(page.as_uri())
        wrap = browser.execute_script("var w = document.querySelector('#lb').parentElement;"
                                      "return [w.clientWidth, w.scrollWidth];")
        assert wrap[1] <= wrap[0], "the committed compact table scrolls sideways at 1400 px"
        for col in ("clean_accuracy", "robust_accuracy", "energy_w1_rel_untargeted", "digits_is", "digits_fid",
                    "flags"):
            box = browser.execute_script("var r = arguments[0].getBoundingClientRect(); return [r.right, r.bottom];",
                                         browser.find_element(By.CSS_SELECTOR, f'th[data-col="{col}"]'))
            assert box[0] <= 1400 and box[1] <= 900, col
        browser.save_screenshot(str(artifacts / "committed-track-1400.png"))
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_flag_badges_scroll_to_their_explanation(site, browser):
    from selenium.webdriver.common.by import By

    browser.get((site / track_file(TRACK, ".html")).resolve().as_uri())
    badge = browser.find_element(By.CSS_SELECTOR, "#lb td.flags a.badge")
    target = badge.get_dom_attribute("href")
    badge.click()
    assert browser.current_url.endswith(target)
    row = browser.find_element(By.ID, target[1:])
    assert row.is_displayed() and "flags_doc.md" in row.text
    assert severe(browser) == []


def test_model_link_opens_the_model_page(site, browser, artifacts):
    from selenium.webdriver.common.by import By

    browser.get((site / track_file(TRACK, ".html")).resolve().as_uri())
    browser.find_element(By.LINK_TEXT, "digits-trades-cnn").click()
    assert browser.current_url.endswith("/" + model_file("digits-trades-cnn"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "digits-trades-cnn"
    assert browser.find_element(By.CSS_SELECTOR, "figure.samples img").get_attribute("naturalWidth") != "0"
    browser.find_element(By.CSS_SELECTOR, f'h2 a[href="../{track_file(TRACK)}"]').click()  # back to the track
    assert browser.current_url.endswith("/" + track_file(TRACK))
    browser.find_element(By.LINK_TEXT, "All tracks").click()
    assert browser.current_url.endswith("/index.html")
    assert severe(browser) == []


def test_scatter_point_links_to_the_model_page(site, browser):
    from selenium.webdriver.common.by import By

    browser.get((site / track_file(TRACK, ".html")).resolve().as_uri())
    first = browser.find_elements(By.CSS_SELECTOR, "svg.scatter")[0]  # the second: vs energy alignment
    links = first.find_elements(By.CSS_SELECTOR, "a")
    assert len(links) == len(ZOO)
    href = links[0].get_dom_attribute("href")
    assert href.startswith("../models/") and href.endswith(".html")
    browser.find_elements(By.CSS_SELECTOR, "svg.scatter circle")[0].click()
    assert browser.current_url.endswith("/" + href.removeprefix("../"))
