"""Real orders on two venues from one strategy: one CCXTBroker with a session per venue
(the loopback Binance and the loopback Bybit, the real ccxt.pro clients), orders routed by the
data feed's venue, risk limits and protection per venue, cash and positions as the venues have
them, and a fault on one venue that leaves the other trading."""

import time

import backtrader as bt
import ccxt.pro as ccxtpro
import pytest

import backtrader_channels as btch
from backtrader_channels.feeds import CCXTLiveFeed
from backtrader_channels.loopback import BybitExchange, ReplayExchange

from .conftest import (
    SETTLE_S,
    assert_journal_in_order,
    assert_placed_once,
    journal_of,
    keyed,
    once_private_down,
    once_trading,
    public,
    settled,
)

START = {"USDT": 10_000.0, "BTC": 0.01}


@pytest.fixture
def two_venues():
    binance = ReplayExchange(rate=4_000, start_when=1, balances=dict(START))
    bybit = BybitExchange(rate=4_000, start_when=1, balances=dict(START))
    binance.start()
    bybit.start()
    yield {"binance": binance, "bybit": bybit}
    binance.stop()
    bybit.stop()


class Hedger(bt.Strategy):
    """Runs ``script`` actions at given tick counts (ticks of both venues, counted once the
    broker trades on both); records every notification by venue. At ``stop_at`` it waits (up
    to ``SETTLE_S`` seconds) for what is on its way, as ``conftest.Scripted`` does."""

    params = (("script", None), ("stop_at", 2000))

    def start(self):
        self.n = 0
        self.notes = []
        self.orders = {}
        self.waiting = 0  # actions still waiting for the broker (``once_trading``)

    def at(self, venue):
        return self.getdatabyname(btch.instrument_name("BTC/USDT", venue))

    def notify_order(self, order):
        reason = order.info.get("reason") if order.info else None
        self.notes.append((order.ref, order.getstatusname(), reason))

    def statuses(self, key):
        return [s for r, s, _ in self.notes if r == self.orders[key].ref]

    def on_tick(self, t):
        if not self.n and not self.broker.trading:
            return
        self.n += 1
        action = (self.p.script or {}).get(self.n)
        if action is not None:
            action(self)
        if self.n >= self.p.stop_at:
            if self.n == self.p.stop_at:
                self.due = time.monotonic()
            orders = ((o, self.statuses(k), False) for k, o in self.orders.items() if o)
            if settled(self.waiting, orders) or time.monotonic() - self.due > SETTLE_S:
                self.env.runstop()


def run_two(servers, script, tmp, stop_at=2000, **broker_kw):
    cerebro = btch.Cerebro()
    for venue, srv in servers.items():
        feed = CCXTLiveFeed(public(srv), ["BTC/USDT"], channels=("tick",), venue=venue)
        cerebro.add_live_feed(feed)
    exchanges = {venue: keyed(srv) for venue, srv in servers.items()}
    broker = btch.brokers.CCXTBroker(
        exchanges, journal=str(tmp / "orders.jsonl"), unknown_retry_s=0.05, **broker_kw
    )
    cerebro.setbroker(broker)
    cerebro.addstrategy(Hedger, script=script, stop_at=stop_at)
    strat = cerebro.run(mode=btch.RunMode.TICK, duration=90)[0]
    return cerebro, strat


def totals(srv):
    return {b["asset"]: float(b["free"]) + float(b["locked"]) for b in srv.account.balances()}


def test_a_hedge_trades_on_both_venues_and_the_books_agree_per_venue(two_venues, tmp_path):
    def hedge(s):
        s.orders["buy"] = s.buy(data=s.at("binance"), size=0.001)
        s.orders["sell"] = s.sell(data=s.at("bybit"), size=0.001)

    def too_big_for_bybit(s):  # bybit allows 0.003 BTC of position, binance 0.1
        s.orders["big_bybit"] = s.buy(data=s.at("bybit"), size=0.005)
        s.orders["big_binance"] = s.buy(data=s.at("binance"), size=0.005)

    risk = {  # positions are the run's (the coins each account held before are not)
        "binance": btch.RiskLimits(max_position=0.1),
        "bybit": btch.RiskLimits(max_position=0.003),
    }
    script = {200: hedge, 400: too_big_for_bybit}
    cerebro, strat = run_two(two_venues, script, tmp_path, stop_at=1000, risk=risk)
    done = ["Submitted", "Accepted", "Completed"]
    assert strat.statuses("buy") == done
    assert strat.statuses("sell") == done
    assert strat.statuses("big_binance") == done
    assert strat.statuses("big_bybit") == ["Submitted", "Rejected"]
    assert "max_position" in strat.orders["big_bybit"].info.reason
    binance, bybit = two_venues["binance"], two_venues["bybit"]
    assert [k for k, _ in bybit.order_requests] == ["new"]  # the refused one never went out
    # each venue's position is what the run changed of its coins, its cash and holdings as
    # that venue has them; the broker's cash is the sum
    broker = cerebro.broker
    for venue, srv in two_venues.items():
        pos = broker.getposition(cerebro.instrument("BTC/USDT", venue=venue)).size
        assert pos == pytest.approx(totals(srv)["BTC"] - START["BTC"], abs=1e-12)
        assert broker.appliers[venue].cash == pytest.approx(totals(srv)["USDT"], abs=1e-6)
        assert broker.holdings(venue)["BTC"] == pytest.approx(totals(srv)["BTC"], abs=1e-12)
    assert broker.getcash() == pytest.approx(
        totals(binance)["USDT"] + totals(bybit)["USDT"], abs=1e-6
    )
    run = cerebro.last_run
    assert run["exposure"]["BTC"] == pytest.approx(0.001 - 0.001 + 0.005)  # what the run did
    by_venue = run["execution"]["by_venue"]
    assert by_venue["binance"]["fills"] == 2
    assert by_venue["bybit"]["fills"] == 1
    assert run["execution"]["fills"] == 3
    lines = journal_of(str(tmp_path))
    assert_journal_in_order(lines)
    assert {line["venue"] for line in lines if line["client_id"] != "account"} == {
        "binance",
        "bybit",
    }
    assert_placed_once(binance)
    assert_placed_once(bybit)


def test_a_private_stream_down_on_one_venue_leaves_the_other_trading(two_venues, tmp_path):
    bybit = two_venues["bybit"]

    def drop_bybit(s):
        bybit.private_faults.reject_subscribe = True
        bybit.drop_private()

    def both(s):
        s.orders["binance"] = s.buy(data=s.at("binance"), size=0.001)
        s.orders["bybit"] = s.buy(data=s.at("bybit"), size=0.001)
        s.p.script[s.n + 200] = heal

    def heal(s):
        bybit.private_faults.reject_subscribe = False

    def bybit_again(s):
        s.orders["bybit_again"] = s.buy(data=s.at("bybit"), size=0.001)

    script = {
        200: drop_bybit,
        300: once_private_down(both, "bybit"),
        1500: once_trading(bybit_again, "bybit"),  # how soon it is back depends on the machine
    }
    cerebro, strat = run_two(two_venues, script, tmp_path, stop_at=2000)
    assert strat.statuses("binance") == ["Submitted", "Accepted", "Completed"]
    assert strat.statuses("bybit") == ["Submitted", "Rejected"]
    reason = strat.orders["bybit"].info.reason
    assert reason.startswith("protection: private stream down")
    assert "(bybit)" in reason
    assert strat.statuses("bybit_again") == ["Submitted", "Accepted", "Completed"]
    assert cerebro.last_run["execution"]["by_venue"]["binance"]["fills"] == 1


def test_a_venue_without_a_feed_or_an_exchange_is_named(two_venues, tmp_path):
    binance = two_venues["binance"]
    cerebro = btch.Cerebro()
    cerebro.add_live_feed(
        CCXTLiveFeed(public(binance), ["BTC/USDT"], channels=("tick",), venue="binance")
    )
    broker = btch.brokers.CCXTBroker({"binance": keyed(binance), "okx": ccxtpro.okx()})
    cerebro.setbroker(broker)
    cerebro.addstrategy(bt.Strategy)
    with pytest.raises(btch.ChannelError, match="API keys for okx"):
        cerebro.run(mode=btch.RunMode.TICK, duration=5)
    broker = btch.brokers.CCXTBroker(
        {"binance": keyed(binance), "bybit": keyed(two_venues["bybit"])}
    )
    cerebro.setbroker(broker)
    with pytest.raises(btch.ChannelError, match=r"no live feed for venue\(s\) \['bybit'\]"):
        cerebro.run(mode=btch.RunMode.TICK, duration=5)
