"""Two venues in one backtest: channels, orders and positions per venue, the report."""

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels.channels import ChannelMap, TickChannel


@pytest.fixture(scope="module")
def bybit():
    return btch.datasets.bybit_btcusdt_sample()


def two_venues(sample, bybit, **kw):
    c = btch.Cerebro(**kw)
    for venue, data in (("binance", sample), ("bybit", bybit)):
        c.add_channel("tick", "BTC/USDT", data.trades, venue=venue)
        c.add_channel("orderbook", "BTC/USDT", data.orderbook, venue=venue)
    return c


class Legs(bt.Strategy):
    """Buys on Bybit and sells on Binance at the first Bybit trade; counts events per venue."""

    def start(self):
        self.seen, self.done, self.order_venues = {}, False, []

    def on_tick(self, tick):
        self.seen[tick.venue] = self.seen.get(tick.venue, 0) + 1
        if not self.done and tick.venue == "bybit":
            self.buy(data=self.getdatabyname("BTC/USDT@bybit"), size=0.01)
            self.sell(data=self.getdatabyname("BTC/USDT@binance"), size=0.01)
            self.done = True

    def on_orderbook(self, ev):
        self.seen["book:" + ev.venue] = self.seen.get("book:" + ev.venue, 0) + 1

    def notify_order(self, order):
        if order.status == order.Completed:
            self.order_venues.append((order.data._name, order.executed.price))


def test_same_symbol_on_two_venues_is_two_channels(sample, bybit):
    c = two_venues(sample, bybit)
    c.addstrategy(Legs)
    strat = c.run(mode=btch.RunMode.TICK)[0]
    assert strat.seen == {"binance": 9757, "bybit": 9757, "book:binance": 3450, "book:bybit": 3453}
    assert c.last_run["events_by_channel"][("orderbook", "BTC/USDT", "bybit")] == 3453
    # each leg filled on its own venue's book
    fills = dict(strat.order_venues)
    assert set(fills) == {"BTC/USDT@bybit", "BTC/USDT@binance"}
    assert c.last_run["positions"]["BTC/USDT@bybit"]["size"] == pytest.approx(0.01)
    assert c.last_run["positions"]["BTC/USDT@binance"]["size"] == pytest.approx(-0.01)
    assert c.last_run["exposure"] == {"BTC": pytest.approx(0.0)}
    assert c.last_run["by_venue"]["bybit"]["events"] == 9757 + 3453
    assert c.last_run["by_venue"]["binance"]["positions"] == {"BTC/USDT": pytest.approx(-0.01)}


def test_the_same_data_gives_the_same_decisions_every_run(sample, bybit):
    def run():
        c = two_venues(sample, bybit)
        c.addstrategy(btch.spread.SpreadStrategy, fees=0.0001, threshold_bps=1.0, hedge=True)
        s = c.run(mode=btch.RunMode.TICK)[0]
        return s.signals, c.last_run["fills"], c.last_run["pnl"]

    first = run()
    assert first[0]
    assert first == run()


def test_channel_lookups_by_venue():
    m = ChannelMap()
    for venue in ("binance", "bybit"):
        ch = TickChannel("BTC/USDT")
        ch.set_venue(venue)
        m[ch.key] = ch
    assert m[("tick", "BTCUSDT", "bybit")].venue == "bybit"  # any spelling of the symbol
    with pytest.raises(KeyError, match="several venues"):
        m[("tick", "BTC/USDT")]
    assert ("tick", "BTC/USDT") not in m
    assert ("tick", "BTC/USDT", "okx") not in m
    only = ChannelMap()
    ch = TickChannel("ETH/USDT")
    ch.set_venue("bybit")
    only[ch.key] = ch
    assert only[("tick", "ETH/USDT")] is ch  # one venue: the two-part key finds it
    with pytest.raises(ValueError, match="non-empty name"):
        TickChannel("X").set_venue("  ")


def test_single_venue_code_is_unchanged(sample):
    c = btch.Cerebro()
    ch = c.add_channel("tick", "BTC/USDT", sample.trades)
    assert ch.key == ("tick", "BTC/USDT")
    assert ch.venue == ""
    c.addstrategy(bt.Strategy)
    c.run(mode=btch.RunMode.TICK)
    assert "exposure" not in c.last_run
    assert c.instrument("BTCUSDT")._name == "BTC/USDT"


def test_bars_and_instruments_per_venue(sample, bybit):
    c = two_venues(sample, bybit)
    bars = c.add_bars("BTC/USDT", every="1s", venue="bybit")
    assert bars._name == "BTC/USDT@bybit@1s"
    assert c.instrument("BTCUSDT", venue="bybit")._name == "BTC/USDT@bybit"
    assert c.instrument("BTCUSDT@binance")._name == "BTC/USDT@binance"

    class Closes(bt.Strategy):
        def start(self):
            self.closes = []

        def next(self):
            self.closes.append(self.data.close[0])

    c.addstrategy(Closes)
    strat = c.run(mode=btch.RunMode.TICK)[0]
    assert len(strat.closes) > 300


def test_adding_a_channel_twice_on_one_venue_is_refused(sample):
    c = btch.Cerebro()
    c.add_channel("tick", "BTC/USDT", sample.trades, venue="bybit")
    c.add_channel("tick", "BTC/USDT", sample.trades, venue="binance")  # another venue: fine
    with pytest.raises(btch.ChannelError, match="added twice"):
        c.add_channel("tick", "BTC/USDT", sample.trades, venue="bybit")
