"""Histories in object storage: ``convert`` writes the partitioned layout to an S3 bucket (moto's
server on 127.0.0.1, ``conftest.py``), and backtests and sweeps read it as they read the same
partitions on disk."""

from __future__ import annotations

import json
import os

import pytest

import backtrader_channels as btch
from backtrader_channels.app.usage import UsageError
from backtrader_channels.sources import storage
from backtrader_channels.sources.batches import expand_paths
from backtrader_channels.sources.convert import convert
from backtrader_channels.sources.writer import PartitionedWriter
from backtrader_channels.sweep import sweep

from ..sweep.strategies import Every

DAY = ("channel=tick", "venue=binance", "market=spot", "symbol=BTCUSDT", "date=2024-08-08")


def _relative(root: str) -> list[str]:
    """The data files under ``root`` (a path or a URI), relative to it."""
    base = storage.split_query(root)[0].rstrip("/")
    return sorted(storage.split_query(f)[0][len(base) + 1 :] for f in expand_paths(root))


def _run(dataname: str) -> dict[str, object]:
    c = btch.Cerebro()
    c.add_channel("tick", "BTCUSDT", dataname=dataname)
    c.add_channel("orderbook", "BTCUSDT", dataname=dataname)
    c.addstrategy(Every, every=50)
    c.run(mode=btch.RunMode.TICK)
    drop = ("seconds", "events_per_second")
    return {k: v for k, v in c.last_run.items() if k not in drop}


def test_convert_writes_the_layout_to_a_bucket_and_a_backtest_reads_it_as_from_disk(
    bucket, capture_path, tmp_path
):
    on_disk, in_bucket = str(tmp_path / "native"), f"{bucket}/histories/btc"
    local = convert(capture_path, on_disk, progress=False)
    remote = convert(capture_path, in_bucket, progress=False)
    assert remote == local
    assert storage.isdir(storage.join(in_bucket, *DAY))
    assert _relative(in_bucket) == _relative(on_disk)
    assert all(f.startswith(f"{in_bucket}/channel=") for f in expand_paths(in_bucket))
    by_disk, by_bucket = _run(on_disk), _run(in_bucket)
    assert by_bucket == by_disk
    assert by_bucket["events"] == 9757 + 3450
    assert by_bucket["orders"] > 0


def _write_in_two_runs(root: str, capture_path: str) -> None:
    """The capture's trades written to ``root`` by two writers, one after the other."""
    from backtrader_channels.sources.formats import open_source

    chunks = [ev for _, ev in open_source(capture_path, "tick", "BTCUSDT")]
    for half in (chunks[: len(chunks) // 2], chunks[len(chunks) // 2 :]):
        w = PartitionedWriter(root, venue="binance", market="spot")
        for events in half:
            w.write("tick", "BTCUSDT", events)
        w.close()


def test_the_writer_adds_parts_to_a_bucket_and_a_uri_keeps_its_query(s3_server, capture_path):
    """Options in the URI's query (endpoint, keys) reach every path built from it, without any
    AWS variable in the environment; a second writer continues the part numbers."""
    name = s3_server.make_bucket()
    root = s3_server.uri(name, "rec")
    assert "AWS_ENDPOINT_URL" not in os.environ
    _write_in_two_runs(root, capture_path)
    parts = expand_paths(root)
    assert all(p.endswith("&scheme=http") for p in parts)
    names = ["/".join(storage.split_query(p)[0].rsplit("/", 2)[1:]) for p in parts]
    assert names == [
        "date=2024-08-08/part-000000.parquet",
        "date=2024-08-08/part-000001.parquet",
        "date=2024-08-09/part-000000.parquet",
    ]
    assert sum(storage.size(p) for p in parts) > 0
    from backtrader_channels.sources.catalog import catalog

    (row,) = catalog(root)  # data ls reads such a URI already
    assert (row.rows, row.files, row.days, row.symbol) == (
        9757,
        3,
        ("2024-08-08", "2024-08-09"),
        "BTCUSDT",
    )


def test_a_bucket_written_in_two_runs_reads_back_whole(s3_env, capture_path):
    root = f"s3://{s3_env.make_bucket()}/rec"
    _write_in_two_runs(root, capture_path)
    c = btch.Cerebro()
    c.add_channel("tick", "BTCUSDT", dataname=root)
    c.run(mode=btch.RunMode.TICK)
    assert c.last_run["events"] == 9757


def test_a_uri_with_options_in_its_query_reads(s3_server, capture_path):
    root = s3_server.uri(s3_server.make_bucket(), "rec")
    _write_in_two_runs(root, capture_path)
    c = btch.Cerebro()
    c.add_channel("tick", "BTCUSDT", dataname=root)
    c.run(mode=btch.RunMode.TICK)
    assert c.last_run["events"] == 9757


def test_a_missing_bucket_is_named_before_any_input_is_read(s3_env, capture_path):
    with pytest.raises(FileNotFoundError, match="the bucket 'no-such-bucket' does not exist"):
        convert(capture_path, "s3://no-such-bucket/out", progress=False)
    with pytest.raises(FileNotFoundError, match="data file not found: s3://no-such"):
        _run("s3://no-such-bucket/out/trades.parquet")


def test_a_ray_sweep_reads_the_days_from_the_bucket_on_its_workers(bucket, s3_env, tmp_path):
    """Split by day on a local Ray instance: every task opens its day's partition in the
    bucket (the server logs the reads), and the runs equal those read from disk. The workers
    have the driver's environment (the AWS variables), as a cluster's nodes have their own."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("Ray is already connected: its workers do not have this test's AWS_* variables")
    from backtrader_channels.loopback.synthetic import write_synthetic_days

    days = write_synthetic_days(str(tmp_path / "days"), 3, 2000)
    on_disk = str(tmp_path / "conv")
    convert(days, on_disk, progress=False, venue="binance", market="spot")
    in_bucket = f"{bucket}/days"
    convert(days, in_bucket, progress=False, venue="binance", market="spot")

    def split(dataname: str, **engine: object):
        c = btch.Cerebro(**engine)
        c.add_channel("tick", "BTC/USDT", dataname=dataname)
        return sweep(c, Every, {"every": [50, 100]}, split="day")

    by_disk = split(on_disk, maxcpus=1)
    before = len(s3_env.requests())
    by_ray = split(in_bucket, optengine="ray", maxcpus=2)
    reads = [r for r in s3_env.requests()[before:] if r.startswith("GET ") and "part-" in r]
    assert by_ray.days == by_disk.days
    assert len(by_ray.days) == 3
    assert [r.metrics for r in by_ray.runs] == [r.metrics for r in by_disk.runs]
    # each of the 6 tasks (2 parameter sets x 3 days) read its day's part: footer and data
    for day in by_ray.days:
        assert sum(f"date={day}/part-000000.parquet" in r for r in reads) >= 2 * 2


def test_data_ls_lists_a_bucket_as_the_same_data_on_disk(bucket, capture_path, tmp_path, capsys):
    from backtrader_channels.sources.catalog import catalog

    from ..app.test_data_ls import data

    on_disk, in_bucket = str(tmp_path / "native"), f"{bucket}/histories/btc"
    convert(capture_path, on_disk, progress=False)
    convert(capture_path, in_bucket, progress=False)

    def described(root: str) -> list[dict[str, object]]:
        return [{**r.as_dict(), "path": None} for r in catalog(root)]

    assert described(in_bucket) == described(on_disk)
    assert catalog(in_bucket)[0].path.startswith(f"{in_bucket}/channel=orderbook/")
    assert data("data", "ls", in_bucket, "--json") == 0
    got = json.loads(capsys.readouterr().out)
    assert [(r["kind"], r["rows"]) for r in got["channels"]] == [
        ("orderbook", 126073),
        ("quote", 28040),
        ("tick", 9757),
    ]
    with pytest.raises(UsageError, match=f"{bucket}/nothing: no such file or directory"):
        data("data", "ls", f"{bucket}/nothing")
