"""Real-execution tests: the real ccxt.pro client and CCXTBroker against the loopback exchanges'
private protocols on 127.0.0.1 (Binance: signed REST and WebSocket-API user data; Bybit v5:
signed REST and the private WebSocket), one matching engine on the replayed market."""

from __future__ import annotations

import os
import time

import backtrader as bt
import ccxt.pro as ccxtpro
import pytest

import backtrader_channels as btch
from backtrader_channels.execution.journal import read_journal
from backtrader_channels.feeds import CCXTLiveFeed
from backtrader_channels.loopback import (
    BybitExchange,
    ReplayExchange,
    point_bybit_at,
    point_ccxt_at,
)

KEY, SECRET = "loopback-key", "loopback-secret"


SETTLE_S = 5.0


class Scripted(bt.Strategy):
    """Runs ``script`` actions at given tick counts: ``{n: callable(strategy, tick)}``; stops
    after ``stop_at`` ticks. Records every notification. At ``stop_at`` it waits (up to
    ``SETTLE_S`` seconds) for what is on its way: no order still only Submitted, no market
    order still working. Counted in ticks, the venue's replies took longer than a test's
    margin on some machines."""

    params = (("script", None), ("stop_at", 1500), ("gate", True))

    def start(self):
        self.n = 0
        self.notes = []  # (order ref, status name, executed size, reason)
        self.trades_closed = 0
        self.orders = {}
        self.awaited = set()  # keys of ``orders`` to see finished (a marketable limit order)
        self.waiting = 0  # actions still waiting for the broker (``once_trading``)

    def notify_order(self, order):
        reason = order.info.get("reason") if order.info else None
        self.notes.append((order.ref, order.getstatusname(), order.executed.size, reason))

    def notify_trade(self, trade):
        self.trades_closed += trade.isclosed

    def statuses(self, ref):
        return [s for r, s, _, _ in self.notes if r == ref]

    def on_tick(self, t):
        if self.p.gate and not self.n and not self.broker.trading:
            return  # counting starts once the broker trades (its start reconciliation done)
        self.n += 1
        action = (self.p.script or {}).get(self.n)
        if action is not None:
            action(self, t)
        if self.n >= self.p.stop_at:
            if self.n == self.p.stop_at:
                self.due = time.monotonic()
            if self._settled() or time.monotonic() - self.due > SETTLE_S:
                self.env.runstop()

    def _settled(self):
        return settled(
            self.waiting,
            ((o, self.statuses(o.ref), k in self.awaited) for k, o in self.orders.items() if o),
        )


def settled(waiting, orders):
    """Whether a scripted run may stop: no action still ``waiting`` for the broker, and of
    ``orders`` (order, its statuses, whether awaited) none still only Submitted and no market
    or awaited order still working."""
    if waiting:
        return False
    for order, statuses, awaited in orders:
        last = (statuses or ["Submitted"])[-1]
        working = last in ("Accepted", "Partial")
        if last == "Submitted" or (working and (awaited or order.exectype == bt.Order.Market)):
            return False
    return True


def once(ready, action):
    """``action`` at the first tick, from its own on, where ``ready(strategy)`` holds; until then
    a ``Scripted`` run does not settle (its ``waiting``)."""

    def wait(s, *tick):
        counts = hasattr(s, "waiting")
        if counts and not wait.counted:
            wait.counted = True
            s.waiting += 1
        if ready(s):
            if counts:
                s.waiting -= 1
            action(s, *tick)
            return
        later = s.p.script.get(s.n + 1)
        s.p.script[s.n + 1] = wait if later is None else lambda *a: (later(*a), wait(*a))

    wait.counted = False
    return wait


def once_private_down(action, venue=None):
    """``action`` once the broker refuses new orders for a private stream down: how soon a
    dropped socket is noticed depends on the machine."""
    return once(lambda s: "private stream down" in (s.broker.blocked(venue=venue) or ""), action)


def once_trading(action, venue=None):
    """``action`` once the broker takes new orders again (after a private stream came back: how
    soon depends on the machine and the back-off)."""
    return once(lambda s: not s.broker.blocked(venue=venue), action)


@pytest.fixture
def server():
    srv = ReplayExchange(rate=4_000, start_when=1, balances={"USDT": 10_000.0, "BTC": 0.01})
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def bybit_server():
    srv = BybitExchange(rate=4_000, start_when=1, balances={"USDT": 10_000.0, "BTC": 0.01})
    srv.start()
    yield srv
    srv.stop()


def keyed(srv, **config):
    """A keyed ccxt.pro client of the loopback venue ``srv`` (Binance or Bybit). ccxt's pacing
    to the venue's request weights is not needed on loopback: at its default (50 ms a request
    unit) the start reconciliation alone took 1.1 s of every run."""
    config = {"apiKey": KEY, "secret": SECRET, "rateLimit": 5, **config}
    if isinstance(srv, BybitExchange):
        return point_bybit_at(ccxtpro.bybit(config), srv.port)
    return point_ccxt_at(ccxtpro.binance(config), srv.port)


def public(srv):
    """A public (unkeyed) ccxt.pro client of the loopback venue ``srv``."""
    if isinstance(srv, BybitExchange):
        return point_bybit_at("bybit", srv.port)
    return point_ccxt_at(ccxtpro.binance(), srv.port)


def run_real(
    srv,
    script,
    stop_at=1500,
    tmp=None,
    threads=False,
    duration=60,
    exchange=None,
    channels=("tick",),
    gate=True,
    **broker_kw,
):
    """One live run: trades on the feed, orders through CCXTBroker, on the loopback venue
    (``exchange``: extra ccxt config for the keyed instance)."""
    feed = CCXTLiveFeed(public(srv), ["BTC/USDT"], channels=channels, stall_timeout=5.0)
    journal = os.path.join(tmp, "orders.jsonl") if tmp else None
    broker_kw.setdefault("unknown_retry_s", 0.05)
    broker = btch.brokers.CCXTBroker(keyed(srv, **(exchange or {})), journal=journal, **broker_kw)
    cerebro = btch.Cerebro(live_threads=threads)
    cerebro.add_live_feed(feed)
    cerebro.setbroker(broker)
    cerebro.addstrategy(Scripted, script=script, stop_at=stop_at, gate=gate)
    strat = cerebro.run(mode=btch.RunMode.TICK, duration=duration)[0]
    return cerebro, strat


def venue_totals(srv):
    return {b["asset"]: float(b["free"]) + float(b["locked"]) for b in srv.account.balances()}


#: what the fixtures' accounts hold of the base asset before a run
START_BTC = 0.01


def assert_books_agree(cerebro, srv, start_btc=START_BTC):
    """Cash as the venue has it; the run's position is what it changed of the account's coins
    (as in a backtest: the coins held before are not the strategy's); the holdings are the
    venue's."""
    totals = venue_totals(srv)
    broker = cerebro.broker
    assert broker.getcash() == pytest.approx(totals["USDT"], abs=1e-6)
    pos = broker.getposition(cerebro.instrument("BTC/USDT")).size
    assert pos == pytest.approx(totals.get("BTC", 0.0) - start_btc, abs=1e-12)
    assert broker.holdings().get("BTC", 0.0) == pytest.approx(totals.get("BTC", 0.0), abs=1e-12)


def assert_placed_once(srv):
    """No client id was placed twice at the venue."""
    new = [cid for kind, cid in srv.order_requests if kind == "new"]
    assert len(new) == len(set(new)), new


def journal_of(tmp):
    return read_journal(os.path.join(tmp, "orders.jsonl"))


def assert_journal_in_order(lines):
    """Times never go back; per order, states never go backwards (a fill may follow a cancel)."""
    from backtrader_channels.execution.states import OrderState, allowed

    assert [line["ns"] for line in lines] == sorted(line["ns"] for line in lines)
    last: dict[str, OrderState] = {}
    for line in lines:
        if line["client_id"] == "account":
            continue
        state = OrderState(line["state"])
        prev = last.get(line["client_id"])
        assert prev is None or prev is state or allowed(prev, state), (prev, state, line)
        last[line["client_id"]] = state
