"""``self.position`` in a live run is the run's own, as in a backtest: its fills (net of fees the
venue takes in the base asset), resumed after a restart; what the account holds is reported
apart (``broker.holdings()``), and a position the account cannot cover is cut to it."""

from __future__ import annotations

import asyncio
import threading

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels.execution.journal import read_journal
from backtrader_channels.loopback import BybitExchange, ReplayExchange

from .conftest import KEY, SECRET, keyed, public, venue_totals


class BuyOnce(bt.Strategy):
    """Buys 0.001 at market on its first trade (``close_after``: closes the position that many
    trades after the buy filled); records the position at start and after each fill; stops
    when done."""

    params = (("close_after", None), ("stop_after", 50))

    def start(self):
        self.at_start = self.position.size
        self.after_fills = []
        self.n = 0
        self.statuses = []
        self.done_at = None
        self.bought_at = None

    def notify_order(self, order):
        self.statuses.append((order.isbuy(), order.getstatusname(), order.info.get("reason")))
        if order.status == order.Completed:
            self.after_fills.append(self.position.size)
            if order.isbuy():
                self.bought_at = self.n
        if (
            not order.alive()
            and self.done_at is None
            and (not order.isbuy() or self.p.close_after is None)
        ):
            self.done_at = self.n

    def on_tick(self, t):
        self.n += 1
        if self.n == 1:
            self.buy(size=0.001)
        close_after = self.p.close_after
        if close_after is not None and self.bought_at is not None:
            if self.n == self.bought_at + close_after:
                self.close()
        if self.done_at is not None and self.n >= self.done_at + self.p.stop_after:
            self.env.runstop()


def run(srv, journal, strategy=BuyOnce, **params):
    feed = btch.feeds.CCXTLiveFeed(public(srv), ["BTC/USDT"], channels=("tick",))
    broker = btch.brokers.CCXTBroker(keyed(srv), journal=journal, unknown_retry_s=0.05)
    cerebro = btch.Cerebro()
    cerebro.add_live_feed(feed)
    cerebro.setbroker(broker)
    cerebro.addstrategy(strategy, **params)
    strat = cerebro.run(mode=btch.RunMode.TICK, duration=40)[0]
    return cerebro, strat


def make(kind, **kw):
    cls = ReplayExchange if kind == "binance" else BybitExchange
    srv = cls(rate=4_000, start_when=1, loop_forever=True, api_key=KEY, api_secret=SECRET, **kw)
    srv.start()
    return srv


@pytest.mark.parametrize("kind", ["binance", "bybit"])
def test_the_position_counts_the_runs_fills_not_the_accounts_coins(kind, tmp_path):
    srv = make(kind, balances={"USDT": 10_000.0, "BTC": 1.0})
    journal = str(tmp_path / "orders.jsonl")
    try:
        cerebro, strat = run(srv, journal)
        assert strat.at_start == 0.0
        assert strat.after_fills == [pytest.approx(0.001)]
        broker = cerebro.broker
        assert broker.getposition(cerebro.instrument("BTC/USDT")).size == pytest.approx(0.001)
        assert broker.holdings()["BTC"] == pytest.approx(1.001)
        assert cerebro.last_run["execution"]["holdings"]["BTC"] == pytest.approx(1.001)
        assert cerebro.last_run["open_positions"]["BTC/USDT"]["size"] == pytest.approx(0.001)
        # a restart with the same journal (and id store) resumes the run's position
        cerebro2, strat2 = run(srv, journal, stop_after=0)
        assert strat2.at_start == pytest.approx(0.001), strat2.statuses
        assert strat2.after_fills, (strat2.statuses, cerebro2.last_run.get("ended"), strat2.n)
        assert strat2.after_fills == [pytest.approx(0.002)]
        assert cerebro2.broker.holdings()["BTC"] == pytest.approx(1.002)
        assert venue_totals(srv)["BTC"] == pytest.approx(1.002)
    finally:
        srv.stop()


@pytest.mark.parametrize(
    ("kind", "step", "dust"),
    [("binance", 0.00001, 0.000009), ("bybit", 0.000001, 0.0)],  # their BTCUSDT lot steps
)
def test_a_buyers_fee_in_the_base_asset_is_not_in_the_position(kind, step, dust, tmp_path):
    """The venue takes a buyer's fee from the coins bought: the run holds 0.000999 of its
    0.001, and closing sells what the venue's lot step allows (0.00099): never more than the
    account received (it holds nothing else). The rest, below one step, stays with the account
    as dust and is written off the position."""
    srv = make(kind, balances={"USDT": 10_000.0}, fee_asset="received")
    try:
        cerebro, strat = run(srv, str(tmp_path / "orders.jsonl"), close_after=20)
        assert strat.after_fills == [pytest.approx(0.000999), pytest.approx(0.0, abs=1e-12)]
        assert [s for s in strat.statuses if s[1] == "Rejected"] == []
        assert venue_totals(srv).get("BTC", 0.0) == pytest.approx(dust, abs=1e-12)
        assert cerebro.broker.holdings().get("BTC", 0.0) == pytest.approx(dust, abs=1e-12)
        lines = read_journal(str(tmp_path / "orders.jsonl"))
        fills = [ln for ln in lines if ln["event"] == "fill"]
        assert fills[0]["details"]["fee_base"] == pytest.approx(0.000001)
        assert fills[1]["amount"] == pytest.approx(0.000999 - dust)  # whole lot steps
        written = [ln["details"]["dust"] for ln in lines if ln["event"] == "dust written off"]
        assert written == ([pytest.approx(dust)] if dust else [])
        assert cerebro.last_run["fees"] > 0
    finally:
        srv.stop()


def sell_by_hand(srv, amount):
    """Sell ``amount`` BTC at the venue through its API, as a person would (another client)."""

    async def main():
        ex = keyed(srv)
        try:
            await ex.create_order("BTC/USDT", "market", "sell", amount)
        finally:
            await ex.close()

    thread = threading.Thread(target=lambda: asyncio.run(main()))
    thread.start()
    return thread


class SoldByHand(BuyOnce):
    """Buys 0.001; once filled, someone sells 0.0006 of it by hand at the venue; runs on until
    the broker has cut the position (two sweeps later)."""

    params = (("server", None),)

    def notify_order(self, order):
        super().notify_order(order)
        if order.status == order.Completed:
            self.by_hand = sell_by_hand(self.p.server, 0.0006)

    def on_tick(self, t):
        self.n += 1
        if self.n == 1:
            self.buy(size=0.001)
        if self.after_fills and self.position.size < 0.001 - 1e-9:
            self.env.runstop()


def test_a_position_the_account_cannot_cover_is_cut_to_its_holdings(tmp_path):
    srv = make("binance", balances={"USDT": 10_000.0})
    journal = str(tmp_path / "orders.jsonl")
    try:
        feed = btch.feeds.CCXTLiveFeed(public(srv), ["BTC/USDT"], channels=("tick",))
        broker = btch.brokers.CCXTBroker(keyed(srv), journal=journal, sweep_interval=0.3)
        cerebro = btch.Cerebro()
        cerebro.add_live_feed(feed)
        cerebro.setbroker(broker)
        cerebro.addstrategy(SoldByHand, server=srv)
        strat = cerebro.run(mode=btch.RunMode.TICK, duration=40)[0]
        strat.by_hand.join(10)
        pos = broker.getposition(cerebro.instrument("BTC/USDT")).size
        assert pos == pytest.approx(0.0004)
        cuts = [ln for ln in read_journal(journal) if ln["event"] == "correction: position cut"]
        assert len(cuts) == 1
        assert cuts[0]["details"]["position"] == [pytest.approx(0.001), pytest.approx(0.0004)]
    finally:
        srv.stop()
