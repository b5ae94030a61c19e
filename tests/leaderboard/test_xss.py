"""Plugin-provided strings are escaped everywhere; a ``javascript:`` link renders as inert text.

The static checks parse the written HTML; the browser checks (``-m browser``) load the pages in headless
Chromium and inspect the live DOM after every script on the page has run.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from lb_pages import parse, track_file
from lb_records import TRACK, make_arrays, make_record, write_zoo

from benchbed.leaderboard import render_site
from benchbed.leaderboard.safety import safe_url
from benchbed.leaderboard.views import model_page, track_page
from benchbed.results.record import ColumnInfo, Record

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'
EVIL_NAME = f"evil{SCRIPT}"
EVIL_LINK = "javascript:alert(1)"
EVIL_TRACK = f"track{SCRIPT}"


def evil_records() -> list[tuple[Record, dict]]:
    evil = make_record(
        EVIL_NAME, recipe=f"PGD-AT{IMG}", architecture=f"</td></tr></table>{SCRIPT}",
        paper=f"Paper {SCRIPT} title", link=EVIL_LINK, venue='"><svg onload=alert(3)>',
        footnote=f"footnote {SCRIPT} {IMG} &amp; <a href='javascript:alert(4)'>click</a>",
        flags=(f"warning {SCRIPT}",), robust=99.0, generative={"digits_fid": 10.0},
    )
    evil.columns["digits_fid"] = ColumnInfo(f"m{SCRIPT}", '"><script>alert(5)</script>', False, f"u{IMG}",
                                            plot="x", group=f"g{SCRIPT}")
    evil = replace(evil, device=f"cpu{SCRIPT}")
    evil.versions[f"lib{SCRIPT}"] = IMG
    evil.attack.flipped_by[f"apgd{SCRIPT}"] = 3
    evil.track_info["description"] = f"track {SCRIPT}"
    evil.model_info["reported"] = {f"clean{SCRIPT}": 1.0}
    other = make_record("data-link", link="data:text/html,<script>alert(6)</script>", robust=50.0)
    spaced = make_record("spaced-link", link=" JaVaScRiPt:alert(7)", robust=40.0)
    on_evil_track = make_record("on-evil-track", track=EVIL_TRACK, robust=30.0)
    on_evil_track.track_info["eps_label"] = SCRIPT
    return [(evil, make_arrays(0, 40, -5, 1, -1, 0.5)), (other, {}), (spaced, {}), (on_evil_track, {})]


@pytest.fixture(scope="module")
def evil_site(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("xss")
    write_zoo(tmp / "results", extra=evil_records())
    return render_site(tmp / "results", tmp / "site")


@pytest.mark.parametrize("url", ["javascript:alert(1)", " javascript:alert(1)", "JAVASCRIPT:alert(1)",
                                 "java\tscript:alert(1)", "data:text/html,x", "vbscript:x", "//evil.example/x",
                                 "/etc/passwd", "file:///etc/passwd", "https://a.b/\"onmouseover=alert(1)",
                                 "http://", "", None, 42, "https://a.b/x y"])
def test_unsafe_urls_are_refused(url):
    assert safe_url(url) is None


@pytest.mark.parametrize("url", ["https://arxiv.org/abs/1706.06083", "http://example.org/a?b=1&c=2#d"])
def test_http_urls_are_kept(url):
    assert safe_url(url) == url


def test_no_injected_element_in_the_written_html(evil_site):
    for page in sorted(evil_site.rglob("*.html")):
        html = page.read_text(encoding="utf-8")
        assert SCRIPT not in html and "<img src=x" not in html and "<svg onload" not in html, page.name
        root = parse(page)
        scripts = root.find_all("script")
        assert len(scripts) == 1 and not scripts[0].attrs, page.name  # only the page's own inline script
        assert all(img.attrs.get("src", "").startswith("data:image/png;base64,") for img in root.find_all("img"))
        for el in root.find_all():
            assert not [a for a in el.attrs if a.lower().startswith("on")], (page.name, el.tag, el.attrs)
            href = (el.attrs.get("href") or "").strip().lower()
            assert not href.startswith(("javascript:", "data:text", "vbscript:")), (page.name, href)


def test_evil_strings_are_shown_as_text(evil_site):
    page = evil_site / model_page(EVIL_NAME)
    root = parse(page)
    assert root.find_all("h1")[0].text == EVIL_NAME
    text = root.text
    assert f"Paper {SCRIPT} title" in text and EVIL_LINK in text  # the link shown inert, as text
    assert not [a for a in root.find_all("a") if "Paper" in a.text]  # paper title not linked
    track = parse(evil_site / track_file(TRACK, ".html")).text
    assert EVIL_NAME in track and f"footnote {SCRIPT}" in track
    other = parse(evil_site / track_page(EVIL_TRACK))
    assert other.find_all("h1")[0].text == EVIL_TRACK and SCRIPT in other.text


def test_downloads_keep_the_raw_strings(evil_site):
    import json

    rows = json.loads((evil_site / track_file(TRACK, ".json")).read_text())["rows"]
    evil = next(r for r in rows if r["model"] == EVIL_NAME)
    assert evil["link"] == ""  # only http(s) links are exported as links
    assert evil["paper"] == f"Paper {SCRIPT} title"


@pytest.mark.browser
def test_browser_dom_has_no_injected_element_or_javascript_href(evil_site, browser):
    pages = ["index.html", track_file(TRACK, ".html"), model_page(EVIL_NAME), model_page("data-link"),
             model_page("spaced-link"), track_page(EVIL_TRACK), model_page("on-evil-track")]
    for name in pages:
        browser.get((evil_site / name).resolve().as_uri())  # an alert() would raise UnexpectedAlertPresent
        found = browser.execute_script("""
            const all = Array.from(document.querySelectorAll('*'));
            return {
              scripts: document.scripts.length,
              scriptSrc: Array.from(document.scripts).filter(s => s.src).length,
              imgs: Array.from(document.images).map(i => i.getAttribute('src').slice(0, 22)),
              svgOnload: document.querySelectorAll('svg[onload]').length,
              onAttrs: all.filter(e => Array.from(e.attributes).some(a => a.name.startsWith('on'))).length,
              badHrefs: Array.from(document.querySelectorAll('[href]:not(link[rel=icon])'))
                          .map(e => e.getAttribute('href'))
                          .filter(h => /^\\s*(javascript|data|vbscript):/i.test(h)),
              text: document.body.innerText,
            };""")
        assert found["scripts"] == 1 and found["scriptSrc"] == 0, name
        assert all(src == "data:image/png;base64," for src in found["imgs"]), name
        assert found["svgOnload"] == 0 and found["onAttrs"] == 0, name
        assert found["badHrefs"] == [], name
        if name == model_page(EVIL_NAME):
            assert EVIL_NAME in found["text"] and EVIL_LINK in found["text"]
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], (name, errors)


@pytest.mark.browser
def test_browser_filter_with_markup_does_not_inject(evil_site, browser):
    from selenium.webdriver.common.by import By

    browser.get((evil_site / track_file(TRACK, ".html")).resolve().as_uri())
    box = browser.find_element(By.CSS_SELECTOR, "input.filter")
    box.send_keys("<script>")
    visible = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "table.lb tbody:not(.none) tr")
               if r.is_displayed()]
    assert len(visible) == 1 and EVIL_NAME in visible[0]
    assert browser.execute_script("return document.scripts.length") == 1
