"""``backtest``'s data: what a new user met with recordings the package had never seen (issue 35,
items 5, 11, 12, 14), through the command functions (argparse namespaces of the real parser)."""

from __future__ import annotations

import logging
import re

import pytest

import backtrader_channels as btch
from backtrader_channels import ChannelError
from backtrader_channels.app.backtest_commands import run_backtest_command, run_inspect_command
from backtrader_channels.app.cli import build_parser
from backtrader_channels.app.usage import UsageError
from backtrader_channels.sources.formats import open_source
from backtrader_channels.sources.writer import PartitionedWriter

DAY = 86_400_000_000_000
STRATEGY = """
import backtrader as bt
class Count(bt.Strategy):
    def start(self):
        self.n = 0
    def on_event(self, ev):
        self.n += 1
"""


@pytest.fixture
def strategy(tmp_path):
    path = tmp_path / "count.py"
    path.write_text(STRATEGY)
    return f"{path}:Count"


def args(*argv, **extra):
    ns = build_parser().parse_args(list(argv))
    for key, value in extra.items():
        setattr(ns, key, value)
    return ns


def events(path, kind, symbol="BTC/USDT", **kw):
    return [e for _, c in open_source(str(path), kind, symbol, **kw) for e in c]


# ---- item 5: a symbol typo says what the data holds ------------------------------------------
def test_a_symbol_typo_in_the_api_names_the_symbols_the_file_holds(sample):
    c = btch.Cerebro()
    c.add_channel("tick", symbol="ETH/USDT", dataname=sample.trades)
    c.addstrategy(__import__("backtrader").Strategy)
    with pytest.raises(ChannelError, match=r"no 'tick' data for 'ETH/USDT'.*holds: tick BTC/USDT"):
        c.run(mode=btch.RunMode.TICK)


def test_a_symbol_typo_on_the_command_line_names_the_symbols(capsys, strategy, sample):
    with pytest.raises(UsageError) as info:
        run_backtest_command(
            args("backtest", strategy, "--data", sample.trades, "--symbol", "ETHUSDT")
        )
    assert "no channels of ETHUSDT" in str(info.value)
    assert "tick BTC/USDT" in str(info.value)


# ---- item 12: a window some channels have no data in -----------------------------------------
@pytest.fixture(scope="module")
def two_days(tmp_path_factory, sample):
    """Trades on 2024-08-08/09 and again two days later; the book only on 2024-08-08/09."""
    root = str(tmp_path_factory.mktemp("conv"))
    ticks = events(sample.trades, "tick")
    later = [t._replace(timestamp=t.timestamp + 2 * DAY, recv_timestamp=t.recv_timestamp + 2 * DAY)
             for t in ticks]  # fmt: skip
    w = PartitionedWriter(root)
    w.write("tick", "BTC/USDT", ticks)
    w.write("tick", "BTC/USDT", later)
    w.write("orderbook", "BTC/USDT", events(sample.orderbook, "orderbook"))
    w.close()
    return root


def test_a_channel_with_no_data_in_the_window_is_skipped_with_a_note(
    caplog, capsys, strategy, two_days
):
    ns = args(
        "backtest", strategy, "--data", two_days, "--from", "2024-08-10", "--to", "2024-08-12"
    )
    with caplog.at_level(logging.WARNING, logger="backtrader_channels"):
        assert run_backtest_command(ns) == 0
    notes = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(notes) == 1
    note = notes[0]
    assert "orderbook" in note
    assert two_days in note
    assert "2024-08-10T00:00:00Z to 2024-08-12T00:00:00Z" in note
    assert not re.search(r"\d{16}", note)  # no raw ns anywhere
    assert "9,757" in capsys.readouterr().out  # the trades ran


def test_no_channel_with_data_in_the_window_fails_naming_each_and_its_span(strategy, two_days):
    ns = args(
        "backtest", strategy, "--data", two_days, "--from", "2025-01-01", "--to", "2025-01-02"
    )
    with pytest.raises(ChannelError) as info:
        run_backtest_command(ns)
    msg = str(info.value)
    assert "no channel has data in 2025-01-01T00:00:00Z to 2025-01-02T00:00:00Z" in msg
    assert re.search(r"tick:BTC/USDT .*covers 2024-08-08T23:5\d:\d\d\.\d{3}Z to 2024-08-11T", msg)
    assert re.search(r"orderbook:BTC/USDT .*covers 2024-08-08T23:5\d.* to 2024-08-09T", msg)
    assert not re.search(r"\d{16}", msg)


# ---- item 14: progress with a total -----------------------------------------------------------
def test_progress_shows_a_total_percentage_and_eta(capsys, strategy, sample, capture_path):
    ns = args("backtest", strategy, "--data", sample.trades, "--data", capture_path, "--progress")
    assert run_backtest_command(ns) == 0
    err = capsys.readouterr().err.replace("\r", "\n")
    last = [ln for ln in err.splitlines() if ln.startswith("backtest:")][-1]
    assert re.search(r"backtest: 100%\|.*\| (\S+)/\1 \[\d\d:\d\d<\d\d:\d\d", last), last
    assert "events" in last


# ---- item 11: venue and market on the command line --------------------------------------------
@pytest.fixture(scope="module")
def spot_and_linear(tmp_path_factory, sample):
    root = str(tmp_path_factory.mktemp("two_markets"))
    ticks = events(sample.trades, "tick", "BTCUSDT")
    for market, part in (("spot", ticks[:100]), ("linear", ticks[100:400])):
        w = PartitionedWriter(root, venue="binance", market=market)
        w.write("tick", "BTCUSDT", part)
        w.close()
    return root


def test_the_command_line_names_the_markets_to_choose_from(strategy, spot_and_linear, capsys):
    with pytest.raises(ChannelError, match=r"binance/linear and binance/spot: pass market="):
        run_backtest_command(args("backtest", strategy, "--data", spot_and_linear))
    ns = args("backtest", strategy, "--data", spot_and_linear, market="linear")
    assert run_backtest_command(ns) == 0
    assert "tick:BTCUSDT=300" in capsys.readouterr().out


def test_inspect_lists_each_venue_and_market(spot_and_linear, capsys):
    assert run_inspect_command(args("inspect", spot_and_linear)) == 0
    out = capsys.readouterr().out
    assert re.search(r"tick\s+BTCUSDT\s+binance/linear\s+300 events", out), out
    assert re.search(r"tick\s+BTCUSDT\s+binance/spot\s+100 events", out), out


# ---- the fast L2 path and the fill rules from the command line --------------------------------
HEARD = """
import backtrader as bt
class Heard(bt.Strategy):
    def start(self):
        self.books = 0
    def on_orderbook(self, ev):
        self.books += 1
    def stop(self):
        print(f"heard {self.books} book updates; broker {self.broker.p.fill_profile}")
"""


def test_book_hear_and_fill_profile_on_the_command_line(capsys, tmp_path):
    path = tmp_path / "heard.py"
    path.write_text(HEARD)
    sample = btch.datasets.binance_ethusdt_perp_sample()
    common = ("backtest", f"{path}:Heard", "--data", sample.orderbook)
    assert run_backtest_command(args(*common)) == 0
    assert "heard 1900 book updates; broker default" in capsys.readouterr().out
    assert (
        run_backtest_command(args(*common, "--book-hear", "best", "--fill-profile", "hftbacktest"))
        == 0
    )
    out = capsys.readouterr().out
    heard = int(re.search(r"heard (\d+) book updates; broker hftbacktest", out).group(1))
    assert 0 < heard < 1900
    assert run_backtest_command(args(*common, "--book-hear", "1000")) == 0
    # 100 s of data from xx:21.145 to xx:01.145: 101 one-second windows, one update heard in each
    assert "heard 101 book updates" in capsys.readouterr().out
    with pytest.raises(UsageError, match=r"--book-hear sometimes: hear='sometimes': must be"):
        run_backtest_command(args(*common, "--book-hear", "sometimes"))
