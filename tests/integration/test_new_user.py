"""What a new user hit (issue 12), reproduced the way it was hit: through Cerebro and the CLI."""

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels import DataError

from ..sources import shapes


def _run(path, **kw):
    cerebro = btch.Cerebro()
    cerebro.add_channel("tick", "BTC/USDT", dataname=str(path), **kw)
    cerebro.addstrategy(bt.Strategy)
    cerebro.run(mode=btch.RunMode.TICK)
    return cerebro


def test_a_text_price_stops_a_default_run_with_its_location(tmp_path):
    """``on_error="raise"`` (the default) used to drop the row silently and exit 0."""
    path = tmp_path / "t.csv"
    path.write_text(
        "timestamp,price,volume,side\n1000,100.0,1,buy\n2000,abc,1,buy\n3000,101,1,sell\n"
    )
    with pytest.raises(DataError) as info:
        _run(path)
    err = info.value
    assert (err.source, err.line, err.column, err.value) == (str(path), 3, "price", "abc")
    cerebro = _run(path, on_error="skip")  # skip mode drops and counts it
    assert cerebro.last_run["events"] == 2
    assert cerebro.last_run["skipped"] == {str(path): {"not a valid double in 'price'": 1}}


def test_a_text_price_in_a_tardis_file_is_located(tmp_path, capture_tables):
    path = shapes.tardis_trades(capture_tables, tmp_path / "binance_trades_2024-08-08.csv")
    lines = open(path).read().splitlines()
    lines[50] = lines[50].rsplit(",", 2)[0] + ",abc,0.1"
    open(path, "w").write("\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        _run(path)
    assert (info.value.line, info.value.column, info.value.value) == (51, "price", "abc")


def test_converted_tardis_quotes_read_back(tmp_path, capture_tables):
    """``convert trades.csv quotes.csv out/`` used to write a quotes partition with an all-null
    ``update_id`` column that its own reader rejected (``missing value``)."""
    from backtrader_channels.app.cli import main

    trades = shapes.tardis_trades(capture_tables, tmp_path / "binance_trades_2024-08-08.csv")
    quotes = shapes.tardis_quotes(capture_tables, tmp_path / "binance_quotes_2024-08-08.csv")
    out = tmp_path / "out"
    assert main(["convert", str(trades), str(quotes), str(out)]) == 0
    cerebro = btch.Cerebro()
    cerebro.add_channel("tick", "BTC/USDT", dataname=str(out))
    cerebro.add_channel("quote", "BTC/USDT", dataname=str(out))
    cerebro.addstrategy(bt.Strategy)
    cerebro.run(mode=btch.RunMode.TICK)
    by_channel = cerebro.last_run["events_by_channel"]
    assert by_channel[("tick", "BTC/USDT")] == capture_tables["tick"].num_rows
    assert by_channel[("quote", "BTC/USDT")] == capture_tables["quote"].num_rows
    import pyarrow.parquet as pq

    part = next((out / "channel=quote").rglob("*.parquet"))
    assert "update_id" not in pq.read_schema(part).names  # absent, as in the Tardis file


def test_add_channel_after_add_live_feed_is_refused(sample):
    """It used to be accepted and then silently ignored by the run."""
    cerebro = btch.Cerebro()
    cerebro.add_live_feed(btch.feeds.CCXTLiveFeed("binance", ["BTC/USDT"], channels=("tick",)))
    with pytest.raises(btch.ChannelError, match="add_channel after add_live_feed"):
        cerebro.add_channel("quote", "BTC/USDT", dataname=sample.quotes)


def test_channels_and_bridges_in_strategy_init_as_the_design_shows(sample):
    """``self.channels[...]`` and ``ChannelBridge(channel=self._channels[...])`` inside
    ``Strategy.__init__`` used to fail with AttributeError; backtrader stays unpatched."""

    class InInit(bt.Strategy):
        def __init__(self):
            self.book = self.channels[("orderbook", "BTC/USDT")]
            price = btch.ChannelBridge(channel=self._channels[("tick", "BTC/USDT")], field="price")
            self.sma = bt.ind.SMA(price, period=20)

        def start(self):
            self.smas = []

        def on_tick(self, tick):
            self.smas.append(self.sma[0])

    cerebro = btch.Cerebro()
    cerebro.add_channel("tick", "BTC/USDT", dataname=sample.trades)
    cerebro.add_channel("orderbook", "BTC/USDT", dataname=sample.orderbook)
    cerebro.addstrategy(InInit)
    strat = cerebro.run(mode=btch.RunMode.TICK)[0]
    assert strat.book.count == 3450
    assert len(strat.smas) == 9757
    assert strat.smas[-1] == pytest.approx(61685.9945)
    assert not hasattr(bt.Strategy, "channels")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", r"empty\.csv: the file is empty"),
        (
            "nocol.csv",
            b"timestamp,price,side\n1,2.0,buy\n",
            r"nocol\.csv, line 1, column 'volume': missing required column\(s\) \['volume'\]",
        ),
    ],
)
def test_an_undetectable_file_says_the_real_cause(tmp_path, name, content, message):
    """ "cannot tell the format of X" used to hide an empty file or a missing column."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        _run(path)


def test_a_parquet_file_with_a_text_price_names_the_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"
    table = {"timestamp": [1, 2], "price": ["1.0", "abc"], "volume": [1.0, 1.0]}
    pq.write_table(pa.table({**table, "side": ["buy", "buy"], "symbol": ["X", "X"]}), path)
    with pytest.raises(DataError, match=r"t\.parquet, column 'price': stored as string"):
        _run(path)


def test_a_truncated_gzip_names_the_file_in_the_cli(tmp_path):
    import gzip
    import subprocess
    import sys

    rows = b"".join(b"%d,100.0,1,buy,BTCUSDT\n" % i for i in range(200_000))
    data = gzip.compress(b"timestamp,price,volume,side,symbol\n" + rows)
    path = tmp_path / "trades.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    strat = tmp_path / "s.py"
    strat.write_text("import backtrader as bt\nclass S(bt.Strategy):\n    pass\n")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "backtrader_channels",
            "backtest",
            f"{strat}:S",
            "--data",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    first = out.stderr.splitlines()[0]
    assert first.startswith(f"backtrader-channels: error: {path}: file is damaged or truncated")


class _BuyAt(bt.Strategy):
    """Buys once at the first trade at or after ``at_ns``; records fills."""

    params = (("at_ns", 0),)

    def start(self):
        self.fills, self.sent = [], False

    def on_tick(self, tick):
        if not self.sent and tick.timestamp >= self.p.at_ns:
            self.buy(size=1.0)
            self.sent = True

    def notify_order(self, order):
        if order.status == order.Completed:
            self.fills.append(order.executed.price)


def _quotes_and_trades(quote_until_s, trade_prices):
    s = 1_000_000_000
    quotes = [btch.QuoteEvent(i * s, 100.0, 1.0, 101.0, 1.0, "X") for i in range(quote_until_s)]
    trades = [btch.TickEvent((i + 1) * s + s // 2, p, 0.5) for i, p in enumerate(trade_prices)]
    return quotes, trades


def test_a_market_order_never_fills_at_a_quote_that_went_quiet():
    """Quotes stop at 4 s, trades go on at 105-108: the order placed at the 10th trade used to
    fill at the last quote's ask (101) although the market printed far above it."""
    quotes, trades = _quotes_and_trades(
        4, [100.5 + 0.1 * i for i in range(5)] + [105, 106, 107, 108, 109, 110]
    )
    cerebro = btch.Cerebro()
    cerebro.add_channel("quote", "X", dataname=quotes)
    cerebro.add_channel("tick", "X", dataname=trades)
    cerebro.addstrategy(_BuyAt, at_ns=trades[7].timestamp)  # at the 107 print
    strat = cerebro.run(mode=btch.RunMode.TICK)[0]
    assert strat.fills == [108.0]  # the next trade, not the stale ask of 101
    assert cerebro.last_run["stale_book_fills"] == 1


def test_a_fresh_quote_is_still_used():
    quotes, trades = _quotes_and_trades(10, [100.5, 100.6, 100.7])
    cerebro = btch.Cerebro()
    cerebro.add_channel("quote", "X", dataname=quotes)
    cerebro.add_channel("tick", "X", dataname=trades)
    cerebro.addstrategy(_BuyAt, at_ns=trades[0].timestamp)
    strat = cerebro.run(mode=btch.RunMode.TICK)[0]
    assert strat.fills == [101.0]  # the ask of the quote at 2 s, 0.5 s after the trade
    assert cerebro.last_run["stale_book_fills"] == 0


def test_a_quote_contradicted_by_a_later_trade_is_stale():
    """A trade printed above the ask after the quote: that ask is gone."""
    s = 1_000_000_000
    quotes = [btch.QuoteEvent(0, 100.0, 1.0, 101.0, 1.0, "X")]
    trades = [
        btch.TickEvent(s // 10, 100.5, 0.5),
        btch.TickEvent(s // 5, 101.5, 0.5),
        btch.TickEvent(s // 4, 101.7, 0.5),
    ]
    cerebro = btch.Cerebro()
    cerebro.add_channel("quote", "X", dataname=quotes)
    cerebro.add_channel("tick", "X", dataname=trades)
    cerebro.addstrategy(_BuyAt, at_ns=trades[1].timestamp)
    strat = cerebro.run(mode=btch.RunMode.TICK)[0]
    assert strat.fills == [101.7]
    assert cerebro.last_run["stale_book_fills"] == 1


class _Every(bt.Strategy):
    params = (("every", 100),)

    def start(self):
        self.n = 0

    def on_tick(self, tick):
        self.n += 1
        if self.n % self.p.every == 0:
            self.close() if self.position else self.buy(size=0.01)


@pytest.mark.parametrize(
    ("maxcpus", "optreturn"), [(1, False), (2, False), (None, True)], ids=["1", "2", "all"]
)
def test_optstrategy_keeps_each_runs_stats_with_its_parameters(sample, maxcpus, optreturn):
    """``last_run`` used to be {} after a parallel optstrategy (the worker processes kept the
    stats), and held only the last run's with maxcpus=1."""
    cerebro = btch.Cerebro(maxcpus=maxcpus, optreturn=optreturn)
    cerebro.add_channel("tick", "BTC/USDT", dataname=sample.trades)
    cerebro.optstrategy(_Every, every=[100, 200, 400])
    results = cerebro.run(mode=btch.RunMode.TICK)
    assert [r[0].run_stats["orders"] for r in results] == [97, 48, 24]
    stats = cerebro.run_stats
    assert [s["params"]["_Every"]["every"] for s in stats] == [100, 200, 400]
    assert [s["orders"] for s in stats] == [9757 // 100, 9757 // 200, 9757 // 400]
    assert all(s["events"] == 9757 for s in stats)
    assert cerebro.last_run["orders"] == 9757 // 400


def test_optstrategy_results_equal_each_parameter_set_run_alone(sample):
    """Worker processes or not, each parameter set gives what it gives run on its own."""

    def alone(every):
        c = btch.Cerebro()
        c.add_channel("tick", "BTC/USDT", dataname=sample.trades)
        c.addstrategy(_Every, every=every)
        c.addanalyzer(bt.analyzers.TradeAnalyzer, _name="ta")
        strat = c.run(mode=btch.RunMode.TICK)[0]
        return repr(strat.analyzers.ta.get_analysis()), c.last_run["pnl"], c.last_run["orders"]

    cerebro = btch.Cerebro(maxcpus=2)
    cerebro.add_channel("tick", "BTC/USDT", dataname=sample.trades)
    cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="ta")
    cerebro.optstrategy(_Every, every=[150, 300])
    results = cerebro.run(mode=btch.RunMode.TICK)
    swept = [
        (repr(r[0].analyzers.ta.get_analysis()), r[0].run_stats["pnl"], r[0].run_stats["orders"])
        for r in results
    ]
    assert swept == [alone(150), alone(300)]
