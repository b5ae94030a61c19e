"""Fixtures for the leaderboard tests: the realistic digits zoo of ``lb_records`` in a results store,
and a headless Chromium driven by Selenium (Debian's ``chromium`` + ``chromium-driver``)."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # lb_records, lb_pages (any import mode)

from lb_records import write_zoo  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def zoo_results(tmp_path) -> Path:
    root = tmp_path / "results"
    write_zoo(root)
    return root


# -- browser -----------------------------------------------------------------------------------------

def browser_skip_reason() -> str | None:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        return ("headless Chromium not installed (need /usr/bin/chromium and /usr/bin/chromedriver): "
                "run scripts/install-browser.sh")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium not installed: pip install -e '.[test]'"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = browser_skip_reason()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # belt and braces: Selenium Manager never downloads

    profile = tempfile.mkdtemp(prefix="benchbed-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-extensions", "--window-size=1440,1000",
                "--allow-file-access-from-files", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # an explicit driver path: Selenium Manager never runs, nothing is downloaded
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
