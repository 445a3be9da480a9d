"""cerebro.plot() after a tick-mode run without add_bars (issue 35, item 10): a figure of what the
run did (price, bid/ask, fills, position, cash and value, closed trades, UTC time), drawn from
what the run recorded, never changing what the strategy decided."""

from __future__ import annotations

import datetime as dt

import backtrader as bt
import matplotlib
import numpy as np
import pyarrow.parquet as pq
import pytest

import backtrader_channels as btch
from backtrader_channels.app.demo import build_demo
from backtrader_channels.cerebro.plotdata import DISPLAY_BUCKETS, decimate
from backtrader_channels.cerebro.trace import RunTrace, portfolio_value

UTC = dt.timezone.utc


@pytest.fixture(autouse=True)
def _agg(monkeypatch):
    """Headless, whatever the machine has (cerebro.plot keeps MPLBACKEND)."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


class Momentum(bt.Strategy):
    """An on_tick strategy that counts its decisions (the orders it places)."""

    params = (("lookback", 50),)

    def start(self):
        self.prices = []
        self.decisions = 0
        self.fills = 0
        self.pending = False

    def on_tick(self, tick):
        self.prices.append(tick.price)
        if len(self.prices) <= self.p.lookback or self.pending:
            return
        up = tick.price > self.prices[-self.p.lookback]
        if up and not self.position:
            self.buy(size=0.01)
        elif not up and self.position:
            self.close()
        else:
            return
        self.decisions += 1
        self.pending = True

    def notify_order(self, order):
        if order.status in (order.Partial, order.Completed):
            self.fills += 1
        if order.status not in (order.Submitted, order.Accepted, order.Partial):
            self.pending = False


def momentum_run(sample, *kinds, plot=False, **kwargs):
    c = btch.Cerebro(stdstats=False)
    c.broker.setcash(10_000)
    c.broker.setcommission(commission=0.0001)
    paths = {"tick": sample.trades, "quote": sample.quotes, "orderbook": sample.orderbook}
    for kind in kinds or ("tick", "orderbook"):
        c.add_channel(kind, symbol="BTC/USDT", dataname=paths[kind])
    c.addstrategy(Momentum, **kwargs)
    strat = c.run(mode=btch.RunMode.TICK)[0]
    figs = c.plot(iplot=False) if plot else None
    return c, strat, figs


@pytest.fixture(scope="module")
def demo():
    """The bundled demo (the ``backtrader-channels demo`` strategy on the sample), run once."""
    c = build_demo()
    strat = c.run(mode=btch.RunMode.TICK)[0]
    return c, strat


def axis(fig, gid):
    found = [ax for ax in fig.axes if ax.get_gid() == gid]
    assert len(found) == 1, [ax.get_gid() for ax in fig.axes]
    return found[0]


def markers(ax, gid):
    return next(c for c in ax.collections if c.get_gid() == gid).get_offsets()


def test_plot_of_a_tick_run_without_bars_draws_the_run(demo):
    c, _ = demo
    figs = c.plot(iplot=False)
    assert isinstance(figs, list)  # as backtrader's: a list of figures per strategy
    assert len(figs) == 1
    assert len(figs[0]) == 1
    fig = figs[0][0]
    assert isinstance(fig, matplotlib.figure.Figure)
    for gid in ("price:BTC/USDT", "position", "value", "cash", "trades"):
        axis(fig, gid)
    price = axis(fig, "price:BTC/USDT")
    labels = [ln.get_label() for ln in price.get_lines()]
    assert labels == ["trades", "best bid (every 1 s)", "best ask (every 1 s)"]


def test_one_marker_per_fill_at_its_time_and_price(demo):
    c, _ = demo
    fig = c.plot(iplot=False)[0][0]
    price = axis(fig, "price:BTC/USDT")
    buys, sells = markers(price, "buy"), markers(price, "sell")
    cols = c.trace.fill_columns()
    sizes = np.array(cols["size"])
    assert len(buys) + len(sells) == c.last_run["fills"] == 199
    assert len(buys) == (sizes > 0).sum()
    assert len(sells) == (sizes < 0).sum()
    expected = np.array(cols["price"])[sizes > 0]
    assert np.array_equal(np.asarray(buys)[:, 1], expected)
    # x: the fill times, as matplotlib dates (days since 1970, UTC)
    days = np.array(cols["ts"])[sizes > 0] / 86_400e9
    assert np.allclose(np.asarray(buys)[:, 0], days, rtol=0, atol=1e-9)


def test_x_axis_labels_are_utc_times_of_the_run(demo):
    c, _ = demo
    fig = c.plot(iplot=False)[0][0]
    fig.canvas.draw()
    bottom = axis(fig, "trades")
    assert bottom.get_xlabel() == "time (UTC)"
    first = dt.datetime.fromtimestamp(c.last_run["first_ts"] / 1e9, tz=UTC)
    last = dt.datetime.fromtimestamp(c.last_run["last_ts"] / 1e9, tz=UTC)
    ticks = [t for t in bottom.get_xticklabels() if t.get_text()]
    assert len(ticks) >= 4
    for t in ticks:
        when = matplotlib.dates.num2date(t.get_position()[0], tz=UTC)
        assert first - dt.timedelta(seconds=10) <= when <= last + dt.timedelta(seconds=10)
        assert t.get_text() in [when.strftime(f) for f in ("%H:%M", "%b-%d %H:%M", "%H:%M:%S")]
    assert "2024-08-08 23:54:15" in fig.get_suptitle()


def test_the_price_line_is_the_trades_decimated_for_display(demo, sample):
    c, _ = demo
    fig = c.plot(iplot=False)[0][0]
    trades = next(
        ln for ln in axis(fig, "price:BTC/USDT").get_lines() if ln.get_label() == "trades"
    )
    y = np.asarray(trades.get_ydata())
    table = pq.read_table(sample.trades)
    prices = table.column("price").to_numpy()
    assert len(prices) > 2 * DISPLAY_BUCKETS  # many ticks: decimated, their range kept
    assert 0 < len(y) <= 2 * DISPLAY_BUCKETS
    assert y.min() == prices.min()
    assert y.max() == prices.max()


def test_decimate_keeps_each_buckets_low_and_high_in_time_order():
    ts = np.arange(10_000, dtype=np.int64) * 1_000_000
    values = np.sin(np.arange(10_000) / 50.0)
    values[1234] = 5.0
    t, v = decimate(ts, values, 100)
    assert len(t) <= 200
    assert np.all(np.diff(t) > 0)
    assert v.max() == 5.0
    assert v.min() == values.min()
    few_t, _ = decimate(ts[:150], values[:150], 100)
    assert len(few_t) == 150  # fewer than two a bucket: all of them


def test_plotting_never_changes_what_the_strategy_decided(sample, tmp_path):
    c0, plain, _ = momentum_run(sample)
    c1, plotted, figs = momentum_run(sample, plot=True)
    assert plain.decisions > 10
    assert plotted.decisions == plain.decisions  # on_tick still drives it: no add_bars
    for key in ("orders", "fills", "pnl", "final_value", "events"):
        assert c1.last_run[key] == c0.last_run[key]
    assert len(c1.datas) == len(c0.datas) == 1  # no bar feed was added
    figs[0][0].savefig(tmp_path / "run.png")  # how backtrader users save a plot
    assert (tmp_path / "run.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = c1.plot(iplot=False)  # plotting twice reads the same record
    assert len(markers(axis(again[0][0], "price:BTC/USDT"), "buy")) == len(
        markers(axis(figs[0][0], "price:BTC/USDT"), "buy")
    )
    assert plotted.decisions == plain.decisions


def test_closed_trades_match_backtraders_trade_analyzer(demo):
    c, strat = demo
    fig = c.plot(iplot=False)[0][0]
    ax = axis(fig, "trades")
    pnl = np.asarray(ax.collections[-1].get_offsets())[:, 1]
    ta = strat.analyzers.trades.get_analysis()
    assert len(pnl) == ta.total.closed == 99
    assert pnl.sum() == pytest.approx(ta.pnl.net.total, abs=1e-9)


def test_position_and_value_end_where_the_broker_ended(demo):
    c, strat = demo
    fig = c.plot(iplot=False)[0][0]
    position = axis(fig, "position").get_lines()[0].get_ydata()
    assert position[-1] == strat.broker.getposition(strat.data).size == 0.01
    value = axis(fig, "value").get_lines()[0].get_ydata()
    assert value[-1] == pytest.approx(c.last_run["final_value"], abs=1e-9)
    assert value[0] == pytest.approx(10_000.0)
    cash = axis(fig, "cash").get_lines()[0].get_ydata()
    assert cash[-1] == pytest.approx(strat.broker.getcash(), abs=1e-9)


def test_quote_channel_gives_its_own_bid_and_ask(sample):
    _, _, figs = momentum_run(sample, "tick", "quote", plot=True)
    price = axis(figs[0][0], "price:BTC/USDT")
    lines = {ln.get_label(): ln for ln in price.get_lines()}
    assert set(lines) == {"trades", "best bid", "best ask"}
    bid = np.asarray(lines["best bid"].get_ydata())
    ask = np.asarray(lines["best ask"].get_ydata())
    quotes = pq.read_table(sample.quotes)  # the recorded quotes, not samples of them
    assert len(quotes) > 2 * DISPLAY_BUCKETS >= len(bid) > 1000
    assert bid.max() == quotes.column("bid_price").to_numpy().max()
    assert ask.min() == quotes.column("ask_price").to_numpy().min()


def test_events_given_as_a_list_are_drawn_from_the_runs_samples():
    s = 1_000_000_000
    t0 = 1_723_161_600 * s
    prices = [100.0 + (i % 40) - (i % 7) for i in range(600)]
    ticks = [btch.TickEvent(t0 + i * s // 4, p, 0.5) for i, p in enumerate(prices)]
    c = btch.Cerebro(stdstats=False)
    c.add_channel("tick", "XYZ/USD", dataname=ticks)
    c.addstrategy(Momentum, lookback=10)
    strat = c.run(mode=btch.RunMode.TICK)[0]
    fig = c.plot(iplot=False)[0][0]
    price = axis(fig, "price:XYZ/USD")
    assert [ln.get_label() for ln in price.get_lines()] == ["last price (every 1 s)"]
    # one a second (the run's sampling clock) and the last event's
    assert len(price.get_lines()[0].get_xdata()) == len(c.trace.sample_ts) == 151
    fills = len(markers(price, "buy")) + len(markers(price, "sell"))
    assert fills == c.last_run["fills"] == strat.fills > 0


def test_numfigs_start_and_end_split_the_run(demo):
    c, _ = demo
    figs = c.plot(iplot=False, numfigs=3)
    assert len(figs[0]) == 3
    counts = []
    for fig in figs[0]:
        price = axis(fig, "price:BTC/USDT")
        counts.append(len(markers(price, "buy")) + len(markers(price, "sell")))
    assert sum(counts) == c.last_run["fills"]  # each fill in exactly one figure
    start = dt.datetime(2024, 8, 8, 23, 57)
    fig = c.plot(iplot=False, start=start, end="2024-08-08T23:58:00")[0][0]
    price = axis(fig, "price:BTC/USDT")
    ts = np.array(c.trace.fill_columns()["ts"])
    lo, hi = (
        int(x.replace(tzinfo=UTC).timestamp()) * 10**9 for x in (start, start.replace(minute=58))
    )
    assert (
        len(markers(price, "buy")) + len(markers(price, "sell")) == ((ts >= lo) & (ts <= hi)).sum()
    )


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"style": "candle"}, "cerebro.plot(style=) after a tick-mode run without bars"),
        ({"plotter": object()}, "plotter=...) draws bars"),
        ({"numfigs": 0}, "numfigs=0"),
        ({"start": "yesterday"}, "start='yesterday'"),
        ({"start": "2030-01-01"}, "nothing of the run is left to draw"),
    ],
)
def test_bad_plot_arguments_are_named(demo, kwargs, says):
    c, _ = demo
    with pytest.raises(btch.ChannelError, match=None) as info:
        c.plot(iplot=False, **kwargs)
    assert says in str(info.value)


def test_a_run_with_no_events_says_so():
    c = btch.Cerebro(stdstats=False)
    c.add_channel("tick", "BTC/USDT", dataname=[])  # (a live run can end before any event)
    c.addstrategy(Momentum)
    c.run(mode=btch.RunMode.TICK)
    with pytest.raises(btch.ChannelError, match="no events to draw"):
        c.plot(iplot=False)


def test_each_strategy_gets_its_own_figure_with_its_own_fills(sample):
    c = btch.Cerebro(stdstats=False)
    c.broker.setcash(10_000)
    c.add_channel("tick", "BTC/USDT", dataname=sample.trades)
    c.addstrategy(Momentum, lookback=30)
    c.addstrategy(Momentum, lookback=200)
    fast, slow = c.run(mode=btch.RunMode.TICK)
    figs = c.plot(iplot=False)
    assert len(figs) == 2
    assert fast.fills != slow.fills
    for strat, fig in zip((fast, slow), (figs[0][0], figs[1][0])):
        price = axis(fig, "price:BTC/USDT")
        assert len(markers(price, "buy")) + len(markers(price, "sell")) == strat.fills
    assert fast.fills + slow.fills == c.last_run["fills"]


def test_with_bars_the_plot_is_backtraders(sample):
    c = btch.Cerebro(stdstats=False)
    c.add_channel("tick", "BTC/USDT", dataname=sample.trades)
    c.add_bars("BTC/USDT", every="5s")
    c.addstrategy(bt.Strategy)
    c.run(mode=btch.RunMode.TICK)
    fig = c.plot(iplot=False)[0][0]
    assert not any((ax.get_gid() or "").startswith("price:") for ax in fig.axes)


def test_trace_samples_stay_bounded_and_keep_both_ends():
    broker = btch.TickBroker()
    trace = RunTrace(broker, [], {}, {}, max_samples=8)
    for i in range(1000):
        trace.sample(i * 1_000_000_000)
    trace.close()  # the end of the run: its last sample is kept
    assert len(trace.sample_ts) <= 8
    assert trace.sample_ts[0] == 0
    assert trace.sample_ts[-1] == 999 * 1_000_000_000
    assert trace.step_ns > 1_000_000_000  # the step grew as samples were thinned
    assert list(trace.cash) == [broker.getcash()] * len(trace.sample_ts)


def test_the_run_value_is_read_without_changing_the_broker(demo):
    c, strat = demo
    broker = strat.broker
    cash = broker.getcash()
    broker.add_cash(50.0)  # pending until the broker's next getvalue()
    try:
        assert portfolio_value(broker) == pytest.approx(c.last_run["final_value"], abs=1e-9)
        assert broker.getcash() == cash
        assert broker._cash_addition  # still pending
    finally:
        broker._cash_addition.clear()
