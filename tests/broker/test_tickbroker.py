"""TickBroker: fills by hand-computable cases, cash and commission arithmetic, no look-ahead."""

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels import QuoteEvent, TickEvent


def T(ts, price, volume=1.0, side="buy"):
    return TickEvent(ts, price, volume, side, None, "X", ts)


def Q(ts, bid, ask, bsize=5.0, asize=5.0):
    return QuoteEvent(ts, bid, bsize, ask, asize, "X", ts)


class Scripted(bt.Strategy):
    """Runs ``actions[n](self)`` when the n-th event (1-based, any channel) arrives."""

    params = (("actions", {}),)

    def start(self):
        self.n = 0
        self.log = []  # (event number, status name, executed price, executed size)
        self.trades = []

    def on_event(self, ev):
        self.n += 1
        action = self.p.actions.get(self.n)
        if action:
            action(self)

    def notify_order(self, order):
        # notifications are delivered while the next event is handled, before its callbacks
        self.log.append(
            (self.n + 1, order.getstatusname(), order.executed.price, order.executed.size)
        )

    def notify_trade(self, trade):
        if trade.isclosed:
            self.trades.append((trade.pnl, trade.pnlcomm))


def run(actions, ticks=(), quotes=(), cash=10_000.0, commission=None, **broker_kw):
    c = btch.Cerebro(stdstats=False)
    c.setbroker(btch.TickBroker(**broker_kw))
    c.broker.setcash(cash)
    if commission is not None:
        c.broker.setcommission(commission=commission)
    if ticks:
        c.add_channel(btch.TickChannel, symbol="X", dataname=list(ticks))
    if quotes:
        c.add_channel(btch.QuoteChannel, symbol="X", dataname=list(quotes))
    c.addstrategy(Scripted, actions=actions)
    c.addanalyzer(bt.analyzers.TradeAnalyzer, _name="ta")
    strat = c.run(mode=btch.RunMode.TICK)[0]
    return c, strat


def completed(strat):
    return [(n, px, size) for n, st, px, size in strat.log if st == "Completed"]


def test_market_without_book_fills_at_next_trade_even_at_same_timestamp():
    c, s = run({1: lambda s: s.buy(size=1)}, ticks=[T(1, 100), T(1, 101), T(2, 102)])
    assert [st for _, st, _, _ in s.log] == ["Submitted", "Accepted", "Completed"]
    assert completed(s) == [(2, 101.0, 1.0)]  # not on event 1 (no look-ahead)
    assert c.broker.getcash() == pytest.approx(10_000 - 101)
    assert c.broker.getvalue() == pytest.approx(10_000 - 101 + 102)  # marked at last trade


def test_market_with_quotes_fills_at_opposite_best():
    quotes = [Q(1, 99, 101), Q(3, 98, 100)]
    ticks = [T(2, 100.5), T(4, 99)]
    _c, s = run(
        {1: lambda s: s.buy(size=2), 3: lambda s: s.sell(size=2)}, ticks=ticks, quotes=quotes
    )
    # buy placed on event 1 (quote), fills on event 2 (trade) at the ask 101;
    # sell placed on event 3 (quote 98/100), fills on event 4 at the bid 98
    assert completed(s) == [(2, 101.0, 2.0), (4, 98.0, -2.0)]
    assert s.trades == [(pytest.approx(-6.0), pytest.approx(-6.0))]


def test_market_fill_trade_mode_ignores_the_book():
    _c, s = run(
        {1: lambda s: s.buy(size=1)},
        ticks=[T(2, 100.5)],
        quotes=[Q(1, 99, 101)],
        market_fill="trade",
    )
    assert completed(s) == [(2, 100.5, 1.0)]


def test_resting_limit_needs_a_trade_through_by_default():
    ticks = [T(1, 100), T(2, 99), T(3, 98.9), T(4, 97)]
    _c, s = run({1: lambda s: s.buy(size=1, price=99, exectype=bt.Order.Limit)}, ticks=ticks)
    # event 2 touches 99 (no fill), event 3 trades through: fill at the limit, not at 98.9
    assert completed(s) == [(3, 99.0, 1.0)]


def test_resting_limit_touch_mode_fills_at_the_touch():
    ticks = [T(1, 100), T(2, 99), T(3, 98)]
    _c, s = run(
        {1: lambda s: s.buy(size=1, price=99, exectype=bt.Order.Limit)},
        ticks=ticks,
        limit_fill="touch",
    )
    assert completed(s) == [(2, 99.0, 1.0)]


def test_marketable_limit_fills_at_best_ask_and_resting_limit_at_its_price():
    quotes = [Q(1, 99, 100), Q(2, 99, 100), Q(3, 97, 98)]
    _c, s = run(
        {
            1: lambda s: s.buy(size=1, price=100.5, exectype=bt.Order.Limit),
            2: lambda s: s.buy(size=1, price=98.5, exectype=bt.Order.Limit),
        },
        quotes=quotes,
    )
    # the first is marketable on arrival: filled at the ask 100 (event 2);
    # the second rests at 98.5 until the ask drops to 98: filled at 98.5 (event 3)
    assert completed(s) == [(2, 100.0, 1.0), (3, 98.5, 1.0)]


def test_stop_triggers_on_trade_and_fills_like_market():
    ticks = [T(1, 100), T(2, 99), T(3, 97.5), T(4, 97)]
    _c, s = run({1: lambda s: s.sell(size=1, price=98, exectype=bt.Order.Stop)}, ticks=ticks)
    assert completed(s) == [(3, 97.5, -1.0)]


def test_stoplimit_becomes_limit_after_trigger():
    ticks = [T(1, 100), T(2, 102), T(3, 103.5), T(4, 102.5)]
    _c, s = run(
        {1: lambda s: s.buy(size=1, price=102, plimit=103, exectype=bt.Order.StopLimit)},
        ticks=ticks,
    )
    # triggers at event 2 (102 >= 102) and fills there at 102 <= limit 103
    assert completed(s) == [(2, 102.0, 1.0)]


def test_cancel_before_fill():
    def place(s):
        s.order = s.buy(size=1, price=90, exectype=bt.Order.Limit)

    c, s = run({1: place, 2: lambda s: s.cancel(s.order)}, ticks=[T(1, 100), T(2, 100), T(3, 80)])
    assert [st for _, st, _, _ in s.log] == ["Submitted", "Accepted", "Canceled"]
    assert c.broker.getposition(c.instrument("X")).size == 0


def test_latency_delays_activation():
    ticks = [T(1, 100), T(3, 101), T(5, 102), T(6, 103)]
    _c, s = run({1: lambda s: s.buy(size=1)}, ticks=ticks, latency_ns=4)
    assert completed(s) == [(3, 102.0, 1.0)]  # first event at or after 1 + 4


def test_partial_fills_against_top_of_book_size():
    quotes = [Q(1, 99, 100, asize=1.0), Q(2, 99, 100, asize=1.5), Q(3, 99, 101, asize=5.0)]
    c, s = run({1: lambda s: s.buy(size=3)}, quotes=quotes, partial_fills=True)
    fills = [(n, st, size) for n, st, _, size in s.log if st in ("Partial", "Completed")]
    assert fills == [(2, "Partial", 1.5), (3, "Completed", 3.0)]
    pos = c.broker.getposition(c.instrument("X"))
    assert pos.size == 3.0
    assert pos.price == pytest.approx((1.5 * 100 + 1.5 * 101) / 3)


def test_cash_and_commission_arithmetic():
    ticks = [T(1, 100), T(2, 100), T(3, 110), T(4, 110)]
    c, s = run({1: lambda s: s.buy(size=2), 3: lambda s: s.close()}, ticks=ticks, commission=0.001)
    assert completed(s) == [(2, 100.0, 2.0), (4, 110.0, -2.0)]
    assert c.broker.getcash() == pytest.approx(10_000 - 200 - 0.2 + 220 - 0.22)
    ta = s.analyzers.ta.get_analysis()
    assert ta.pnl.net.total == pytest.approx(19.58)
    assert ta.total.closed == 1


def test_order_too_large_gets_margin():
    c, s = run({1: lambda s: s.buy(size=1000)}, ticks=[T(1, 100), T(2, 100)])
    assert s.log[-1][1] == "Margin"
    assert c.broker.getcash() == 10_000


def test_orders_are_not_all_kept_unless_asked():
    ticks = [T(i, 100 + i % 3) for i in range(1, 200)]
    actions = {
        i: (lambda s: s.buy(size=1)) if i % 2 else (lambda s: s.sell(size=1)) for i in range(1, 190)
    }
    c, s = run(actions, ticks=ticks)
    assert c.broker.orders == []
    assert s._orders == []
    assert c.last_run["orders"] == 189
    assert c.last_run["fills"] == 189


def test_oco_cancels_the_sibling():
    def place(s):
        a = s.sell(size=1, price=105, exectype=bt.Order.Limit)
        s.sell(size=1, price=95, exectype=bt.Order.Stop, oco=a)

    ticks = [T(1, 100), T(2, 100), T(3, 106), T(4, 90)]
    c, s = run({1: lambda s: s.buy(size=1), 2: place}, ticks=ticks)
    statuses = [st for _, st, _, _ in s.log if st in ("Completed", "Canceled")]
    assert statuses == ["Completed", "Completed", "Canceled"]
    assert c.broker.getposition(c.instrument("X")).size == 0


def test_unsupported_order_types_say_so():
    with pytest.raises(NotImplementedError, match="trailing"):
        run(
            {1: lambda s: s.sell(size=1, exectype=bt.Order.StopTrail, trailamount=1)},
            ticks=[T(1, 100)],
        )


def test_the_book_top_comes_with_its_staleness():
    """``book_top`` returns the best bid and ask with their sizes, and whether the book is
    stale: a trade printed below the bid makes it so, and its prices are then not used."""
    seen = []

    def look(s):
        seen.append(s.broker.book_top(s.data))

    quotes = [Q(1, 99, 101, bsize=2.0, asize=3.0)]
    ticks = [T(2, 100), T(3, 98)]
    run({1: look, 2: look, 3: look}, ticks=ticks, quotes=quotes)
    fresh = btch.broker.BookTop(99.0, 101.0, 2.0, 3.0, False)
    assert seen == [fresh, fresh, btch.broker.BookTop(None, None, 0.0, 0.0, True)]
    assert seen[0].ask == 101.0
    assert not seen[0].stale
    _c, _s = run({1: look}, ticks=ticks)  # no book at all: not stale, no prices
    assert seen[-1] == (None, None, 0.0, 0.0, False)


def test_buy_and_sell_are_one_order_path_with_backtraders_arguments():
    """Both sides take ``BackBroker``'s arguments (extra keywords become the order's info)."""

    def place(s):
        s.a = s.buy(size=1, price=99.0, exectype=bt.Order.Limit, tag="a")
        s.b = s.sell(size=1, price=103.0, exectype=bt.Order.Limit, tag="b")

    _c, s = run({1: place}, ticks=[T(1, 100), T(2, 98), T(3, 104)])
    assert (s.a.info.tag, s.b.info.tag) == ("a", "b")
    assert (s.a.isbuy(), s.b.issell()) == (True, True)
    assert completed(s) == [(2, 99.0, 1.0), (3, 103.0, -1.0)]
    assert btch.TickBroker.buy.__name__ == "buy"
    assert btch.TickBroker.sell.__name__ == "sell"


def test_a_user_filler_is_left_alone_in_tick_mode():
    """Tick mode sizes each fill itself: ``BackBroker``'s ``filler`` is neither called nor
    swapped out during the run (it is the bar mode's)."""
    calls = []

    def filler(order, price, ago):
        calls.append(order)
        return 0.0

    seen = []
    c, s = run(
        {1: lambda s: s.buy(size=2), 2: lambda s: seen.append(s.broker.p.filler)},
        ticks=[T(1, 100), T(2, 100), T(3, 100)],
        filler=filler,
    )
    assert completed(s) == [(2, 100.0, 2.0)]
    assert seen == [filler]
    assert c.broker.p.filler is filler
    assert calls == []
