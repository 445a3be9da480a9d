"""Golden runs on the bundled sample: orders, fills, notifications and final value pinned.

The fill models may be restructured and extended, but with the settings of these runs the
results must not move: every figure here was measured before that work began (#13)."""

from __future__ import annotations

import hashlib

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels.dispatch.notify import Notifier


class Mixed(bt.Strategy):
    """Market, resting and marketable limit, stop and stop-limit orders, cancels and expiries."""

    def start(self):
        self.n = 0
        self.seen = []
        self.resting = []
        self.ids = {}  # order refs count across runs: number the orders of this run

    def notify_order(self, order):
        ex, ref = order.executed, self.ids.setdefault(order.ref, len(self.ids))
        self.seen.append(
            f"{ref}:{order.getstatusname()}:{ex.size:.6f}:{ex.price:.2f}:{ex.comm:.8f}"
        )

    def on_tick(self, tick):
        self.n += 1
        n, price = self.n, tick.price
        book = self.channels.get(("orderbook", "BTC/USDT"))
        bid = book.best_bid_price if book is not None else None
        ask = book.best_ask_price if book is not None else None
        bid = price - 0.5 if bid is None else bid
        ask = price + 0.5 if ask is None else ask
        if n % 150 == 0:
            self.close() if self.position else self.buy(size=0.01)
        if n % 400 == 0:
            self.resting.append(self.buy(size=0.02, price=bid, exectype=bt.Order.Limit))
        if n % 400 == 200:
            self.resting.append(self.sell(size=0.02, price=ask, exectype=bt.Order.Limit))
        if n % 500 == 0:
            self.sell(size=0.01, price=bid + 5, exectype=bt.Order.Limit)  # marketable
        if n % 700 == 0:
            self.sell(size=0.01, price=price - 1.0, exectype=bt.Order.Stop)
        if n % 900 == 0:
            self.buy(size=0.01, price=price + 1.0, plimit=price + 1.5, exectype=bt.Order.StopLimit)
        if n % 1100 == 0:
            self.buy(
                size=0.01,
                price=bid - 20,
                exectype=bt.Order.Limit,
                valid=btch.ns_to_num(tick.timestamp) + 2e-6,
            )
        if n % 250 == 0 and self.resting:
            self.cancel(self.resting.pop(0))


def _run(sample, book=True, **broker):
    cerebro = btch.Cerebro(stdstats=False)
    cerebro.setbroker(btch.TickBroker(**broker))
    cerebro.broker.setcash(100_000)
    cerebro.broker.setcommission(commission=0.0004)
    cerebro.add_channel("tick", "BTC/USDT", dataname=sample.trades)
    if book:
        cerebro.add_channel("orderbook", "BTC/USDT", dataname=sample.orderbook)
    cerebro.addstrategy(Mixed)
    cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="ta")
    strat = cerebro.run(mode=btch.RunMode.TICK)[0]
    digest = hashlib.sha256("\n".join(strat.seen).encode()).hexdigest()[:16]
    ta = strat.analyzers.ta.get_analysis()
    return {
        "orders": cerebro.last_run["orders"],
        "fills": cerebro.last_run["fills"],
        "notifications": len(strat.seen),
        "digest": digest,
        "final_value": round(cerebro.broker.getvalue(), 6),
        "trades_closed": ta.get("total", {}).get("closed", 0),
    }


def _golden(orders, fills, notifications, digest, final_value, trades_closed):
    return locals()


GOLDEN = {
    "book": ({}, True, _golden(163, 137, 478, "69b7148ce7894987", 99941.188396, 55)),
    "trade_only": ({}, False, _golden(163, 142, 480, "d60e58af597cfb68", 99941.979816, 60)),
    "market_at_trades": (
        {"market_fill": "trade"},
        True,
        _golden(163, 138, 479, "a77c52ec2eaed4ce", 99940.284752, 55),
    ),
    "touch_partial": (
        {"limit_fill": "touch", "partial_fills": True},
        True,
        _golden(163, 1433, 1774, "69c5050473f55544", 86419.039032, 63),
    ),
    "latency_50ms": (
        {"latency_ns": 50_000_000},
        True,
        _golden(163, 136, 477, "6f36da3b08ae07e2", 99937.668108, 50),
    ),
}


@pytest.mark.parametrize("name", list(GOLDEN))
def test_golden_run(sample, name):
    broker, book, expected = GOLDEN[name]
    assert _run(sample, book, **broker) == expected


class Quiet(Mixed):
    """The same orders with nothing reading order notifications: the broker takes no snapshot
    (``lean_notifications``). Trades are recorded from ``notify_trade``."""

    notify_order = bt.Strategy.notify_order

    def start(self):
        super().start()
        self.trades = []

    def notify_trade(self, trade):
        self.trades.append(
            (
                trade.ref - self.first_ref if self.trades else 0,
                trade.status,
                trade.size,
                trade.price,
                trade.pnl,
                trade.pnlcomm,
                trade.commission,
                trade.barlen,
            )
        )
        if len(self.trades) == 1:
            self.first_ref = trade.ref


class Heard(Quiet):
    """The same, with a ``notify_order`` that reads nothing: snapshots are taken."""

    def notify_order(self, order):
        pass


def _booked(sample, strategy, **broker):
    """A tick-mode Cerebro on the sample's trades and book, 100,000 cash, 0.04% commission."""
    cerebro = btch.Cerebro(stdstats=False)
    cerebro.setbroker(btch.TickBroker(**broker))
    cerebro.broker.setcash(100_000)
    cerebro.broker.setcommission(commission=0.0004)
    cerebro.add_channel("tick", "BTC/USDT", dataname=sample.trades)
    cerebro.add_channel("orderbook", "BTC/USDT", dataname=sample.orderbook)
    cerebro.addstrategy(strategy)
    return cerebro


def _analysed(sample, strategy, **broker):
    cerebro = _booked(sample, strategy, **broker)
    for name, cls in (
        ("ta", bt.analyzers.TradeAnalyzer),
        ("dd", bt.analyzers.DrawDown),
        ("sharpe", bt.analyzers.SharpeRatio),
        ("tr", bt.analyzers.TimeReturn),
    ):
        cerebro.addanalyzer(cls, _name=name)
    strat = cerebro.run(mode=btch.RunMode.TICK)[0]
    analyses = {a: dict(getattr(strat.analyzers, a).get_analysis()) for a in ("dd", "tr")}
    analyses["ta"] = repr(strat.analyzers.ta.get_analysis())
    analyses["sharpe"] = strat.analyzers.sharpe.get_analysis()
    broker_ = cerebro.broker
    return broker_.lean_notifications, {
        "trades": strat.trades,
        "analyses": analyses,
        "cash": broker_.getcash(),
        "value": broker_.getvalue(),
        "position": broker_.getposition(strat.data).size,
        "fills": cerebro.last_run["fills"],
    }


@pytest.mark.parametrize("broker", [{}, {"limit_fill": "touch", "partial_fills": True}])
def test_without_a_reader_of_order_notifications_the_results_are_the_same(sample, broker):
    lean, quiet = _analysed(sample, Quiet, **broker)
    snapshots, heard = _analysed(sample, Heard, **broker)
    assert lean
    assert not snapshots
    assert len(quiet["trades"]) > 50
    assert quiet == heard


_TRADE_FIELDS = (
    "status", "size", "price", "value", "pnl", "pnlcomm", "commission",
    "baropen", "barclose", "barlen", "dtopen", "dtclose", "long", "isopen", "isclosed",
)  # fmt: skip


class Unheard(Mixed):
    """The same orders with nothing reading order or trade notifications: none is copied or
    delivered; the strategy's trades (``self._trades``, read after each tick) are still kept
    up to date."""

    notify_order = bt.Strategy.notify_order
    notify_trade = bt.Strategy.notify_trade

    def start(self):
        super().start()
        self.states = []

    def on_tick(self, tick):
        super().on_tick(tick)
        state = [
            tuple(getattr(t, f) for f in _TRADE_FIELDS)
            for by_id in self._trades.values()
            for kept in by_id.values()
            for t in kept
        ]
        if not self.states or state != self.states[-1]:
            self.states.append(state)


class HeardTrades(Unheard):
    """The same, with a ``notify_trade`` that reads nothing: trade notifications are copied."""

    def notify_trade(self, trade):
        pass


def _kept_trades(sample, strategy, **broker):
    """Whether the run delivered no notification; the strategy's trades as they changed, and
    the broker's state after the run."""
    cerebro = _booked(sample, strategy, **broker)
    strat = cerebro.run(mode=btch.RunMode.TICK)[0]
    b = cerebro.broker
    unheard = Notifier(b, [strat], False).unheard
    return unheard, (strat.states, b.getcash(), b.getvalue(), b.getposition(strat.data).size)


@pytest.mark.parametrize("broker", [{}, {"limit_fill": "touch", "partial_fills": True}])
def test_without_any_reader_of_notifications_the_trades_are_the_same(sample, broker):
    unheard, quiet = _kept_trades(sample, Unheard, **broker)
    heard_flag, heard = _kept_trades(sample, HeardTrades, **broker)
    assert unheard
    assert not heard_flag
    assert len(quiet[0]) > 50
    assert quiet == heard


def test_a_notify_order_set_on_the_instance_gets_its_snapshots(sample):
    class Patched(Quiet):
        def __init__(self):
            self.heard = []
            self.notify_order = self.heard.append

    cerebro = btch.Cerebro(stdstats=False)
    cerebro.broker.setcash(100_000)
    cerebro.add_channel("tick", "BTC/USDT", dataname=sample.trades)
    cerebro.addstrategy(Patched)
    strat = cerebro.run(mode=btch.RunMode.TICK)[0]
    assert not cerebro.broker.lean_notifications
    assert {o.getstatusname() for o in strat.heard} >= {"Submitted", "Accepted", "Completed"}
