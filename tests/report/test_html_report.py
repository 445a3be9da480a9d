"""The interactive HTML report (``app/html_report.py``, ``backtest --report``): what it embeds,
its decimation levels, the extra it needs, and its size on a 1,000,000-tick run."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import time

import backtrader as bt
import numpy as np
import pytest

import backtrader_channels as btch
from backtrader_channels.app.cli import main
from backtrader_channels.app.demo import build_demo
from backtrader_channels.cerebro.plotdata import Series

bokeh = pytest.importorskip("bokeh", reason="the report extra (bokeh) is not installed")

from backtrader_channels.app.html_report import (  # noqa: E402
    BUCKETS,
    EXTRA_HINT,
    ReportRecorder,
    report_levels,
    write_html,
)
from backtrader_channels.app.usage import UsageError  # noqa: E402

FIVE_MB = 5 * 1024 * 1024
EXTERNAL = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?https?:", re.I)


def external_refs(page: str) -> list[str]:
    """Tags of ``page`` that load something over http(s) (script bodies left out: BokehJS
    holds CDN addresses of models it loads only when used, none of which the report has)."""
    outside = re.sub(r"<script\b[^>]*>.*?</script>", "", page, flags=re.S | re.I)
    tags = re.findall(r"<script\b[^>]*>", page, flags=re.I)
    return EXTERNAL.findall(outside) + [t for t in tags if re.search(r"src\s*=\s*[\"']?http", t)]


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    """The demo run (with a ReportRecorder) and its report."""
    cerebro = build_demo()
    cerebro.addanalyzer(ReportRecorder, _name="report_recorder")
    cerebro.run(mode=btch.RunMode.TICK)
    path = str(tmp_path_factory.mktemp("report") / "demo.html")
    write_html(cerebro, path)
    with open(path, encoding="utf-8") as fh:
        return cerebro, path, fh.read()


def test_demo_report_is_one_offline_file(demo_report):
    cerebro, path, page = demo_report
    assert os.path.getsize(path) < 2 * 1024 * 1024
    assert external_refs(page) == []
    assert "Redistribution and use in source and binary forms" in page  # BokehJS's licence
    assert 'id="btch-summary"' in page
    assert "<td>fills</td><td>199</td>" in page.replace("\n", "")
    assert cerebro.last_run["fills"] == 199


def test_summary_rows_are_the_cli_report(demo_report):
    from backtrader_channels.app.report import strategy_report

    cerebro, _, page = demo_report
    rows = strategy_report(cerebro, cerebro.runstrats[0][0])
    for key in rows:
        assert f"<td>{key.replace('_', ' ')}</td>" in page


def test_levels_rule():
    ts = np.arange(100_000, dtype=np.int64) * 1_000_000
    values = np.sin(np.arange(100_000) / 50.0)
    levels = report_levels(Series(ts, values, "x"), 3)
    assert [len(s.ts) <= 2 * BUCKETS * 4**k for k, s in enumerate(levels)] == [True] * 3
    assert len(levels[0].ts) < len(levels[1].ts) < len(levels[2].ts)
    # every level keeps each bucket's extremes: the line's range is the same at every level
    assert all(s.values.max() == values.max() and s.values.min() == values.min() for s in levels)
    short = report_levels(Series(ts[:1000], values[:1000], "x"), 3)
    assert len(short) == 1
    assert len(short[0].ts) == 1000


def test_without_bokeh_the_error_names_the_extra(monkeypatch, demo_report):
    cerebro, _, _ = demo_report
    monkeypatch.setitem(sys.modules, "bokeh", None)
    with pytest.raises(UsageError, match=re.escape("backtrader-channels[report]")):
        write_html(cerebro, "never.html")
    assert "report" in EXTRA_HINT


def test_cli_report(tmp_path, sample, capsys):
    out = tmp_path / "run.html"
    data = os.path.dirname(sample.trades)
    rc = main(
        [
            "backtest",
            "backtrader_channels.app.demo:BookImbalanceScalper",
            "--data",
            data,
            "--symbol",
            "BTC/USDT",
            "--report",
            str(out),
        ]
    )
    assert rc == 0
    assert f"report written to {out}" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert external_refs(page) == []
    assert "best bid" in page


def test_cli_report_without_bokeh(tmp_path, sample, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "bokeh", None)
    data = os.path.dirname(sample.trades)
    args = ["backtest", "backtrader_channels.app.demo:BookImbalanceScalper", "--data", data]
    rc = main([*args, "--report", str(tmp_path / "x.html")])
    assert rc == 2
    assert "backtrader-channels[report]" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


class RestingLimits(bt.Strategy):
    """Every ``every`` trades: a limit buy 1 below the trade when flat (it rests), else close."""

    params = (("every", 500),)

    def start(self) -> None:
        self.n = 0

    def on_tick(self, tick) -> None:
        self.n += 1
        if self.n % self.p.every == 0:
            if self.position:
                self.close()
            else:
                self.buy(size=0.01, exectype=bt.Order.Limit, price=tick.price - 1.0)


def test_resting_orders_are_drawn(tmp_path, sample):
    cerebro = btch.Cerebro()
    cerebro.add_channel(btch.TickChannel, symbol="BTC/USDT", dataname=sample.trades)
    cerebro.addstrategy(RestingLimits)
    cerebro.addanalyzer(ReportRecorder, _name="report_recorder")
    strat = cerebro.run(mode=btch.RunMode.TICK)[0]
    segments = strat.analyzers.report_recorder.segments
    limits = (cerebro.last_run["orders"] + 1) // 2
    assert len(segments) == limits  # one per limit order (none amended)
    assert all(s[0] <= s[1] and s[5] == "BTC/USDT" for s in segments)
    path = write_html(cerebro, str(tmp_path / "limits.html"))
    page = open(path, encoding="utf-8").read()
    assert f"Resting-order segments drawn: {len(segments)}." in page


def test_perpetual_funding_is_drawn(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location(
        "perp_funding", os.path.join(os.path.dirname(__file__), "../../examples/perp_funding.py")
    )
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "perp_funding", mod)  # (backtrader looks it up)
    spec.loader.exec_module(mod)
    sample = btch.datasets.binance_ethusdt_perp_sample()
    cerebro = btch.Cerebro()
    cerebro.broker.setcash(mod.CASH)
    cerebro.broker.addcommissioninfo(mod.perp_scheme(), name=mod.SYMBOL)
    cerebro.add_channel("tick", symbol=mod.SYMBOL, dataname=sample.trades)
    cerebro.add_channel("quote", symbol=mod.SYMBOL, dataname=sample.quotes)
    cerebro.add_channel("derivative", symbol=mod.SYMBOL, dataname=sample.derivative)
    cerebro.addstrategy(mod.FundingAwareQuoter, hold=True, verbose=False)
    cerebro.addanalyzer(ReportRecorder, _name="report_recorder")
    strat = cerebro.run(mode=btch.RunMode.TICK)[0]
    funding = strat.analyzers.report_recorder.funding
    paid = cerebro.last_run["funding"][mod.SYMBOL]
    assert len(funding) == paid["count"] == 1
    assert funding[0][3] == pytest.approx(paid["paid"])
    page = open(write_html(cerebro, str(tmp_path / "perp.html")), encoding="utf-8").read()
    assert "funding paid" in page
    assert '"name":"funding"' in page.replace(" ", "")


def test_million_ticks_under_5_mb(tmp_path):
    from backtrader_channels.loopback.synthetic import write_synthetic_trades

    data = write_synthetic_trades(str(tmp_path / "trades.parquet"), 1_000_000)
    cerebro = btch.Cerebro()
    cerebro.add_channel(btch.TickChannel, symbol="BTC/USDT", dataname=data)
    cerebro.addstrategy(RestingLimits, every=5000)
    cerebro.addanalyzer(ReportRecorder, _name="report_recorder")
    cerebro.run(mode=btch.RunMode.TICK)
    t0 = time.perf_counter()
    path = write_html(cerebro, str(tmp_path / "million.html"))
    built = time.perf_counter() - t0
    size = os.path.getsize(path)
    print(f"1M-tick report: {size:,} bytes in {built:.2f} s")
    assert size < FIVE_MB
    # and it opens in the browser with every fill (where Chromium is: see test_browser.py)
    from .test_browser import CHROMIUM, DRIVER, _driver, _wait

    if CHROMIUM is None or DRIVER is None or importlib.util.find_spec("selenium") is None:
        return
    driver = _driver()
    try:
        driver.get("file://" + path)
        drawn = _wait(driver, "return window.BTCH_REPORT ? window.BTCH_REPORT.fills.length : null")
    finally:
        driver.quit()
    assert drawn == cerebro.trace.fills > 100


class AmendOnce(bt.Strategy):
    """A limit buy far below the market, moved once, then cancelled."""

    def start(self) -> None:
        self.n = 0
        self.order = None

    def on_tick(self, tick) -> None:
        self.n += 1
        if self.n == 10:
            self.order = self.buy(size=0.01, exectype=bt.Order.Limit, price=tick.price - 500)
        elif self.n == 1000:
            self.broker.amend(self.order, price=tick.price - 400)
        elif self.n == 2000:
            self.cancel(self.order)


def test_an_amend_opens_a_new_segment(sample):
    cerebro = btch.Cerebro()
    cerebro.add_channel(btch.TickChannel, symbol="BTC/USDT", dataname=sample.trades)
    cerebro.addstrategy(AmendOnce)
    cerebro.addanalyzer(ReportRecorder, _name="report_recorder")
    strat = cerebro.run(mode=btch.RunMode.TICK)[0]
    first, second = strat.analyzers.report_recorder.segments
    assert first[1] == second[0]  # the amend: one ends where the next starts
    assert second[2] - first[2] == pytest.approx(100, abs=50)
    assert first[4] == second[4] == strat.order.ref
    assert first[0] < first[1] < second[1]
