"""The dashboard in a real browser (Debian's Chromium, headless, driven by selenium) during a
real-order run on the loopback venue: no token, no page; the position shows after the fill; a
stream fault turns its health red within two seconds and the page keeps updating through the
feed's reconnect; the pause button stops new orders; the stop button ends the run.

Skipped (saying why) where selenium, Chromium or chromedriver is missing. Run as a script, it
saves the page's screenshot::

    python -m tests.dashboard.test_browser docs/img/dashboard.png
"""

from __future__ import annotations

import sys
import time

import pytest

from backtrader_channels.execution.journal import read_journal
from backtrader_channels.loopback import ReplayExchange

from ..report.test_browser import CHROMIUM, DRIVER, _driver, _wait
from .conftest import LiveRun

TICK = '#health tr[data-stream="tick:BTC/USDT"]'


def _found(selector):
    """A script: 1 once ``selector`` matches an element, else null."""
    return f"return document.querySelector('{selector}') ? 1 : null"


@pytest.fixture
def browser():
    pytest.importorskip("selenium", reason="selenium is not installed (the test extra)")
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("Chromium or chromedriver not found (apt-get install chromium chromium-driver)")
    driver = _driver(1400, 1000)
    yield driver
    driver.quit()


def _confirm(driver, action):
    driver.find_element("id", f"btn-{action}").click()
    driver.find_element("id", "confirm-yes").click()


def _updates(driver):
    return driver.execute_script("return window.BTCH_DASH.updates")


def test_a_real_run_watched_and_controlled_in_the_browser(browser, venue, tmp_path):
    journal = tmp_path / "orders.jsonl"
    # a reconnect waits 3 s (the feed's back-off): long enough to see the stream down
    run = LiveRun(venue, real=True, duration=60.0, backoff=3.0, journal=str(journal)).start()
    try:
        # without the token: refused, nothing of the run shown
        browser.get(run.base + "/")
        assert "401" in browser.page_source
        assert "BTC/USDT" not in browser.page_source
        browser.get(run.dashboard.url)
        assert _wait(browser, "return window.BTCH_DASH.updates || null") >= 1
        assert browser.find_element("id", "mode").text == "REAL"
        # the position after the first fill
        row = '#positions tr[data-symbol="BTC/USDT"]'
        size = _wait(browser, f"const r = document.querySelector('{row}'); "
                              "return r ? r.dataset.size : null")  # fmt: skip
        assert float(size) == pytest.approx(0.001)
        assert _wait(browser, _found(TICK + '[data-ok="true"]'))
        # a stream fault: every socket dropped; red within two seconds
        venue.faults.abrupt_drop = True
        venue.faults.drop_after = 1
        t0 = time.monotonic()
        red = _wait(browser, _found(TICK + '[data-ok="false"]'), 5)
        took = time.monotonic() - t0
        assert red == 1
        assert took < 2.0, f"health red after {took:.2f} s"
        # the page keeps updating through the feed's reconnect, and turns green again
        seen = _updates(browser)
        assert _wait(browser, _found(TICK + '[data-ok="true"]'), 15)
        assert _updates(browser) > seen + 5
        # pause: no new order reaches the venue, the strategy's orders are refused
        strat = run.strategy
        _confirm(browser, "pause")
        assert _wait(browser, "return document.getElementById('paused').hidden ? null : 1") == 1
        sent = len([k for k, _ in venue.order_requests if k == "new"])
        refused = len(strat.reasons)
        run.wait_for(lambda: len(strat.reasons) > refused, what="an order refused while paused")
        assert len([k for k, _ in venue.order_requests if k == "new"]) == sent
        actions = '#actions tr[data-action="pause"]'
        assert _wait(browser, _found(actions)) == 1
        # stop: the run ends, and the page says so
        _confirm(browser, "stop")
        strat = run.join(20.0)
        stopped = "s.dataset.state === 'stopped' ? s.textContent : null"
        status = _wait(browser, f"const s = document.getElementById('status'); return {stopped}", 5)
        assert status == "stopped: stopped"
    finally:
        run.cerebro.runstop()
    assert run.cerebro.last_run["ended"] == "stopped"
    events = [ln["event"] for ln in read_journal(str(journal)) if ln["client_id"] == "run"]
    assert events == ["dashboard: pause", "dashboard: stop"]
    logged = browser.get_log("browser")  # (the page without its token: its 401 is expected)
    assert [e for e in logged if e["level"] == "SEVERE" and "401" not in e["message"]] == []


def screenshot(png: str) -> None:
    """Run a real-order loopback run for a while and save its dashboard's screenshot."""
    # paced by the recording's clock (real time): the latencies shown are the loopback's
    venue = ReplayExchange(speed=1.0, start_when=1, balances={"USDT": 10_000.0, "BTC": 0.01})
    venue.start()
    driver = _driver(1400, 1000)
    run = LiveRun(venue, real=True, duration=30.0).start()
    try:
        driver.get(run.dashboard.url)
        time.sleep(20)
        driver.save_screenshot(png)
    finally:
        run.cerebro.runstop()
        run.join()
        driver.quit()
        venue.stop()


if __name__ == "__main__":
    screenshot(sys.argv[1] if len(sys.argv) > 1 else "dashboard.png")
