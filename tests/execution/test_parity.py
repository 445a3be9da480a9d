"""Backtest, paper and real: one deterministic strategy on one recording decides the same in all
three, and the real fills (the loopback venue's matching) agree with the paper broker's."""

import backtrader as bt
import ccxt.pro as ccxtpro

import backtrader_channels as btch
from backtrader_channels.feeds import CCXTLiveFeed
from backtrader_channels.loopback import point_ccxt_at

from .conftest import assert_books_agree, keyed

FIRST, LAST = 3735683259, 3735693015  # the capture's first and last trade ids
START = FIRST + 2_500  # decisions start here (the real broker trades by then)
EVERY = 400
OFFSET = 6.0
#: the replays' items per second (every recorded frame, ~41,000; the strategy hears the ~9,800
#: trades): the paper run's and the real venue's
PAPER_RATE, REAL_RATE = 12_000, 9_000


class Ladder(bt.Strategy):
    """Every EVERY trade ids: a resting limit OFFSET from the trade, buying and selling in turn.
    Decisions depend on the trades only, never on fills or timing."""

    def start(self):
        self.decisions, self.fills, self.k = [], [], 0

    def on_tick(self, t):
        tid = t.trade_id
        if tid >= START and (tid - START) % EVERY == 0 and tid < LAST - 2 * EVERY:
            buy = self.k % 2 == 0
            price = round(t.price + (-OFFSET if buy else OFFSET), 2)
            self.decisions.append((tid, "buy" if buy else "sell", price))
            (self.buy if buy else self.sell)(size=0.001, exectype=bt.Order.Limit, price=price)
            self.k += 1
        if tid >= LAST - EVERY:
            self.env.runstop()

    def notify_order(self, order):
        if order.status == order.Completed:
            self.fills.append((order.isbuy(), order.created.price, order.executed.price))


def _live(server, broker=None):
    feed = CCXTLiveFeed(point_ccxt_at(ccxtpro.binance(), server.port), ["BTC/USDT"],
                        channels=("tick",), stall_timeout=5.0)  # fmt: skip
    cerebro = btch.Cerebro()
    cerebro.add_live_feed(feed)
    if broker is not None:
        cerebro.setbroker(broker)
    cerebro.addstrategy(Ladder)
    return cerebro, cerebro.run(mode=btch.RunMode.TICK, duration=90)[0]


def test_backtest_paper_and_real_make_the_same_decisions_and_fills(server, sample, tmp_path):
    server.rate = PAPER_RATE  # (read when the replay starts: once the feed subscribes)
    back = btch.Cerebro()
    back.add_channel("tick", "BTC/USDT", sample.trades)
    back.addstrategy(Ladder)
    backtest = back.run(mode=btch.RunMode.TICK)[0]
    assert len(backtest.decisions) >= 15
    assert len(backtest.fills) >= 5

    _paper_cerebro, paper = _live(server)

    from backtrader_channels.loopback import ReplayExchange

    venue = ReplayExchange(rate=REAL_RATE, start_when=1, balances={"USDT": 10_000.0, "BTC": 0.01})
    venue.start()
    try:
        broker = btch.brokers.CCXTBroker(keyed(venue), journal=str(tmp_path / "orders.jsonl"))
        cerebro, real = _live(venue, broker)
        assert_books_agree(cerebro, venue)
    finally:
        venue.stop()
    assert paper.decisions == backtest.decisions
    assert real.decisions == backtest.decisions
    assert paper.fills == backtest.fills
    # The venue applies the paper broker's rule: a resting limit fills at its limit when a
    # trade goes through it (a maker fill). An order reaches the venue a few ms after the
    # decision, and the replay runs ~90x faster than the recorded market: one that finds the
    # market already through its limit fills there at once (a taker fill), at a better price.
    # Each fill is checked for the one it was; nothing else may differ. (A share of same-price
    # fills would measure the machine: 11 and 10 of 15 on loaded or slow 2-core runs.)
    by_limit = {(buy, limit): price for buy, limit, price in real.fills}
    assert sorted(by_limit) == sorted((buy, limit) for buy, limit, _ in paper.fills)
    orders = venue.account.orders
    maker = {
        (orders[t["orderId"]]["side"] == "BUY", float(orders[t["orderId"]]["price"])): t["isMaker"]
        for t in venue.account.trades
    }
    for buy, limit, price in paper.fills:
        got = by_limit[(buy, limit)]
        if maker[(buy, limit)]:
            assert got == price == limit
        else:  # marketable on arrival: filled at the venue's last trade, through the limit
            assert got < limit if buy else got > limit
    assert any(maker.values())


class PositionFlip(bt.Strategy):
    """Every EVERY trade ids: buys 0.001 at market when it holds no position, else closes it.
    Its decisions read ``self.position``: the run's own, as in the backtest, whatever the
    account held before (here 0.01 BTC, which must not make it sell first)."""

    def start(self):
        self.decisions, self.at_start = [], self.position.size

    def on_tick(self, t):
        tid = t.trade_id
        if tid >= START and (tid - START) % EVERY == 0 and tid < LAST - 2 * EVERY:
            if self.position:
                self.decisions.append((tid, "close", round(self.position.size, 9)))
                self.close()
            else:
                self.decisions.append((tid, "buy", 0.0))
                self.buy(size=0.001)
        if tid >= LAST - EVERY:
            self.env.runstop()


def test_decisions_reading_the_position_agree_on_an_account_holding_coins(server, sample):
    server.rate = PAPER_RATE  # (read when the replay starts: once the feed subscribes)
    back = btch.Cerebro()
    back.add_channel("tick", "BTC/USDT", sample.trades)
    back.addstrategy(PositionFlip)
    backtest = back.run(mode=btch.RunMode.TICK)[0]
    assert len(backtest.decisions) >= 15
    assert backtest.decisions[0][1] == "buy"

    def live(srv, broker=None):
        feed = CCXTLiveFeed(point_ccxt_at(ccxtpro.binance(), srv.port), ["BTC/USDT"],
                            channels=("tick",), stall_timeout=5.0)  # fmt: skip
        cerebro = btch.Cerebro()
        cerebro.add_live_feed(feed)
        if broker is not None:
            cerebro.setbroker(broker)
        cerebro.addstrategy(PositionFlip)
        return cerebro, cerebro.run(mode=btch.RunMode.TICK, duration=90)[0]

    _paper_cerebro, paper = live(server)

    from backtrader_channels.loopback import ReplayExchange

    # The strategy reads its position, which a real run learns from the venue's fill report:
    # that report must be in before the next decision, 400 trades later. The recorded market
    # took ~17 s for them; at REAL_RATE the replay gives ~0.19 s, which one report outlasted on
    # a loaded 2-core CI run. At half the rate: ~0.38 s.
    venue = ReplayExchange(
        rate=REAL_RATE // 2, start_when=1, balances={"USDT": 10_000.0, "BTC": 0.01}
    )
    venue.start()
    try:
        cerebro, real = live(venue, btch.brokers.CCXTBroker(keyed(venue)))
        assert_books_agree(cerebro, venue)
    finally:
        venue.stop()
    assert paper.at_start == real.at_start == backtest.at_start == 0.0
    assert paper.decisions == backtest.decisions
    assert real.decisions == backtest.decisions
