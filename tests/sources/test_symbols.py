"""A symbol the data does not hold is an error naming what it holds, in every format; any
spelling of a symbol it does hold reads it (issue 35, item 5)."""

from __future__ import annotations

import pytest

from backtrader_channels import ChannelError
from backtrader_channels.sources.formats import open_source
from backtrader_channels.sources.writer import PartitionedWriter

from . import shapes


def events(path, kind="tick", symbol="BTC/USDT", **kw):
    return [e for _, chunk in open_source(str(path), kind, symbol, **kw) for e in chunk]


def test_native_parquet(sample):
    with pytest.raises(
        ChannelError, match=r"'ETH/USDT' in .*trades\.parquet; it holds: tick BTC/USDT"
    ):
        events(sample.trades, symbol="ETH/USDT")


def test_raw_capture(capture_path):
    with pytest.raises(ChannelError, match=r"'ETH/USDT'.*holds: .*tick BTCUSDT \(binance/spot\)"):
        events(capture_path, symbol="ETH/USDT")


def test_tardis(tmp_path, capture_tables):
    path = shapes.tardis_trades(capture_tables, tmp_path / "trades.csv.gz")
    with pytest.raises(ChannelError, match=r"holds: tick BTCUSDT \(binance/spot\)"):
        events(path, symbol="ETHUSDT")


def test_a_binance_dump_of_another_symbol_is_not_read_as_this_one(tmp_path, capture_tables):
    """A dump names its symbol in its file name only: it used to be read as any symbol asked."""
    path = shapes.binance_trades(capture_tables, tmp_path / "BTCUSDT-trades-2024-08-08.csv")
    with pytest.raises(ChannelError, match=r"'ETH/USDT'.*holds: tick BTCUSDT"):
        events(path, symbol="ETH/USDT")
    assert len(events(path, symbol="BTCUSDT")) == 9757


def test_a_partitioned_directory_names_its_symbols(tmp_path, sample):
    root = str(tmp_path / "conv")
    w = PartitionedWriter(root)
    w.write("tick", "BTC/USDT", events(sample.trades)[:10])
    w.close()
    with pytest.raises(
        ChannelError, match=r"no 'tick' data for 'ETH/USDT'; its 'tick' data: BTC-USDT"
    ):
        events(root, symbol="ETH/USDT")


def test_every_spelling_of_a_held_symbol_reads_it(tmp_path, sample):
    """``BTCUSDT`` on rows spelled ``BTC/USDT`` used to give no event, silently."""
    n = len(events(sample.trades))
    assert len(events(sample.trades, symbol="BTCUSDT")) == n
    assert len(events(sample.trades, symbol="btc-usdt")) == n
    root = str(tmp_path / "conv")
    w = PartitionedWriter(root)
    w.write("tick", "BTC/USDT", events(sample.trades))
    w.close()
    assert len(events(root, symbol="BTCUSDT")) == n
