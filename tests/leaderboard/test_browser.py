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
    pages = sorted(p.name for p in site.glob("*.html"))
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


def test_column_group_toggle_hides_columns(site, browser):
    from selenium.webdriver.common.by import By

    browser.get((site / track_file(TRACK, ".html")).resolve().as_uri())
    fid = browser.find_element(By.CSS_SELECTOR, 'th[data-col="digits_fid"]')
    assert fid.is_displayed()
    group = fid.get_attribute("class").split("g-")[1].split()[0]
    browser.find_element(By.CSS_SELECTOR, f'input[data-group="{group}"]').click()
    assert not fid.is_displayed()
    assert browser.find_element(By.CSS_SELECTOR, 'th[data-col="robust_accuracy"]').is_displayed()


def test_model_link_opens_the_model_page(site, browser, artifacts):
    from selenium.webdriver.common.by import By

    browser.get((site / track_file(TRACK, ".html")).resolve().as_uri())
    browser.find_element(By.LINK_TEXT, "digits-trades-cnn").click()
    assert browser.current_url.endswith("/" + model_file("digits-trades-cnn"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "digits-trades-cnn"
    assert browser.find_element(By.CSS_SELECTOR, "figure.samples img").get_attribute("naturalWidth") != "0"
    browser.find_element(By.CSS_SELECTOR, f'h2 a[href="{track_file(TRACK)}"]').click()  # back to the track
    assert browser.current_url.endswith("/" + track_file(TRACK))
    browser.find_element(By.LINK_TEXT, "All tracks").click()
    assert browser.current_url.endswith("/index.html")
    assert severe(browser) == []


def test_scatter_point_links_to_the_model_page(site, browser):
    from selenium.webdriver.common.by import By

    browser.get((site / track_file(TRACK, ".html")).resolve().as_uri())
    links = browser.find_elements(By.CSS_SELECTOR, "svg.scatter a")
    assert len(links) == len(ZOO)
    href = links[0].get_dom_attribute("href")
    assert href.startswith("model-") and href.endswith(".html")
    browser.find_elements(By.CSS_SELECTOR, "svg.scatter circle")[0].click()
    assert browser.current_url.endswith("/" + href)
