"""Data at a URI pyarrow opens (``file://`` here; ``s3://``, ``gs://`` alike): what a Ray
worker on another machine reads."""

from __future__ import annotations

import pytest

import backtrader_channels as btch
from backtrader_channels.errors import ChannelError
from backtrader_channels.loopback.synthetic import write_synthetic_days
from backtrader_channels.sources import storage
from backtrader_channels.sweep import sweep

from ..sweep.strategies import Every


def _run(dataname, **kwargs):
    c = btch.Cerebro()
    c.add_channel("tick", "BTC/USDT", dataname=dataname, **kwargs)
    c.addstrategy(Every, every=50)
    c.run(mode=btch.RunMode.TICK)
    return {k: v for k, v in c.last_run.items() if k not in ("seconds", "events_per_second")}


def test_a_parquet_file_by_uri_reads_as_by_path(sample):
    by_uri = _run(f"file://{sample.trades}")
    by_path = _run(sample.trades)
    by_uri.pop("events_by_channel"), by_path.pop("events_by_channel")
    assert by_uri == by_path
    assert by_uri["events"] == 9757


def test_a_partitioned_directory_by_uri_splits_by_day(tmp_path):
    root = write_synthetic_days(str(tmp_path / "days"), 2, 1000)
    uri = f"file://{root}"
    assert storage.isdir(uri)
    assert not storage.isfile(uri)
    assert sorted(storage.listdir(uri)) == ["channel=tick"]

    def split(dataname):
        c = btch.Cerebro(maxcpus=1)
        c.add_channel("tick", "BTC/USDT", dataname=dataname)
        return sweep(c, Every, {"every": [50, 100]}, split="day")

    by_uri, by_path = split(uri), split(root)
    assert by_uri.days == by_path.days
    assert len(by_uri.days) == 2
    assert [r.metrics for r in by_uri.runs] == [r.metrics for r in by_path.runs]


def test_a_uri_must_hold_parquet_and_exist(sample, tmp_path):
    csv = tmp_path / "trades.csv"
    csv.write_text("timestamp,price,volume,side,symbol\n1,1,1,buy,BTCUSDT\n")
    with pytest.raises(ChannelError, match="over a URI only Parquet is read"):
        _run(f"file://{csv}")
    with pytest.raises(FileNotFoundError, match="data file not found: file:///nowhere"):
        _run("file:///nowhere/trades.parquet")
