"""The HTML report in a browser: Debian's Chromium, headless, driven by selenium over
``file://``. Every fill of the run is on the page (``window.BTCH_REPORT``), the summary table
is there, zooming swaps in the finer levels, and the page asks nothing of the network.

Skipped (saying why) where selenium, Chromium or chromedriver is missing. Run as a script, it
saves the demo report's screenshot::

    python -m tests.report.test_browser docs/img/report.png
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time

import pytest

import backtrader_channels as btch
from backtrader_channels.app.demo import build_demo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def _driver(width: int = 1400, height: int = 1500):
    """A headless Chromium with the network log on (selenium's manager never asked: offline)."""
    os.environ.setdefault("SE_OFFLINE", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    opts.add_argument(f"--window-size={width},{height}")
    opts.binary_location = CHROMIUM
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    return webdriver.Chrome(service=Service(DRIVER), options=opts)


def _wait(driver, script: str, timeout: float = 20.0):
    """The value of ``script`` once it is not null (the page draws asynchronously)."""
    end = time.monotonic() + timeout
    while True:
        value = driver.execute_script(script)
        if value is not None or time.monotonic() > end:
            return value
        time.sleep(0.05)


def demo_report(path: str):
    """The demo run with a ReportRecorder, its report written to ``path``; the Cerebro."""
    from backtrader_channels.app.html_report import ReportRecorder, write_html

    cerebro = build_demo()
    cerebro.addanalyzer(ReportRecorder, _name="report_recorder")
    cerebro.run(mode=btch.RunMode.TICK)
    write_html(cerebro, path)
    return cerebro


@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("bokeh", reason="the report extra (bokeh) is not installed")
    pytest.importorskip("selenium", reason="selenium is not installed (the test extra)")
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("Chromium or chromedriver not found (apt-get install chromium chromium-driver)")
    driver = _driver()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def loaded(browser, tmp_path_factory):
    """The demo report open in the browser: (driver, cerebro, network requests made)."""
    path = str(tmp_path_factory.mktemp("browser") / "demo.html")
    cerebro = demo_report(path)
    browser.get_log("performance")  # (drop what came before)
    browser.get("file://" + path)
    assert _wait(browser, "return window.BTCH_REPORT ? 1 : null") == 1, "the report never drew"
    requests = [
        msg["params"]["request"]["url"]
        for entry in browser.get_log("performance")
        if (msg := json.loads(entry["message"])["message"])["method"] == "Network.requestWillBeSent"
    ]
    return browser, cerebro, requests


def test_every_fill_is_on_the_page(loaded):
    driver, cerebro, _ = loaded
    fills = driver.execute_script("return window.BTCH_REPORT.fills")
    assert len(fills) == cerebro.last_run["fills"] == cerebro.trace.fills == 199
    assert driver.find_element("tag name", "body").get_attribute("data-btch-fills") == "199"
    sizes = [f["size"] for f in fills]
    assert sum(s > 0 for s in sizes) == 100
    assert sum(s < 0 for s in sizes) == 99
    assert all(f["symbol"] == "BTC/USDT" for f in fills)


def test_summary_table(loaded):
    driver, cerebro, _ = loaded
    rows = driver.find_elements("css selector", "#btch-summary tr")
    cells = dict((td.text for td in row.find_elements("tag name", "td")) for row in rows)
    assert cells["fills"] == "199"
    assert cells["events"] == f"{cerebro.last_run['events']:,}"
    assert "pnl" in cells
    assert "max drawdown pct" in cells
    assert driver.execute_script("return window.BTCH_REPORT.summary.fills") == "199"


def test_no_request_leaves_the_file(loaded):
    _, _, requests = loaded
    assert requests, "the network log recorded nothing"
    assert [u for u in requests if not u.startswith(("file:", "data:", "blob:"))] == []


def test_zoom_swaps_in_finer_levels(loaded):
    driver, _, _ = loaded
    trades = "Bokeh.documents[0].get_model_by_name('line:trades')"
    before = driver.execute_script(f"return {trades}.data.x.length")
    driver.execute_script(
        """const xr = Bokeh.documents[0].get_model_by_name("price:BTC/USDT").x_range;
        const span = xr.end - xr.start;
        xr.setv({start: xr.start + span * 0.45, end: xr.start + span * 0.47});"""
    )
    # 2% of the run: level 2 is asked for; the demo's 9,757 trades have two levels, the
    # second holding every trade (the callbacks run asynchronously: wait for it)
    level = _wait(driver, f"const t = {trades}; return t.tags[0] > 0 ? t.tags[0] : null", 5)
    assert level == 1
    assert driver.execute_script(f"return {trades}.data.x.length") == 9757 > before
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def screenshot(png: str) -> None:
    """Save the demo report's screenshot to ``png`` (1400 px wide)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "demo.html")
        demo_report(path)
        driver = _driver(1400, 1250)
        try:
            driver.get("file://" + path)
            _wait(driver, "return window.BTCH_REPORT ? 1 : null")
            height = driver.execute_script("return document.body.scrollHeight")
            driver.set_window_size(1400, height + 140)  # (the window's frame: the whole page)
            time.sleep(0.5)
            driver.save_screenshot(png)
        finally:
            driver.quit()


if __name__ == "__main__":
    screenshot(sys.argv[1] if len(sys.argv) > 1 else "docs/img/report.png")
