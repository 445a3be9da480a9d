"""Histories in Google Cloud Storage (``gs://``), through the same pyarrow filesystem layer as
S3: gcp-storage-emulator on 127.0.0.1 (``conftest.py``)."""

from __future__ import annotations

import backtrader_channels as btch
from backtrader_channels.sources import storage
from backtrader_channels.sources.batches import expand_paths
from backtrader_channels.sources.catalog import catalog
from backtrader_channels.sources.convert import convert

from ..sweep.strategies import Every


def _run(dataname: str) -> dict[str, object]:
    c = btch.Cerebro()
    c.add_channel("tick", "BTCUSDT", dataname=dataname)
    c.add_channel("orderbook", "BTCUSDT", dataname=dataname)
    c.addstrategy(Every, every=50)
    c.run(mode=btch.RunMode.TICK)
    return {k: v for k, v in c.last_run.items() if k not in ("seconds", "events_per_second")}


def test_convert_to_gcs_then_backtest_and_list_it_as_on_disk(gcs_bucket, capture_path, tmp_path):
    on_disk, in_bucket = str(tmp_path / "native"), f"{gcs_bucket}/histories/btc"
    assert convert(capture_path, in_bucket, progress=False) == convert(
        capture_path, on_disk, progress=False
    )
    assert sorted(storage.listdir(in_bucket)) == [
        "channel=orderbook",
        "channel=quote",
        "channel=tick",
    ]
    assert len(expand_paths(in_bucket)) == len(expand_paths(on_disk))
    assert _run(in_bucket) == _run(on_disk)
    strip = [{**r.as_dict(), "path": None} for r in catalog(on_disk)]
    assert [{**r.as_dict(), "path": None} for r in catalog(in_bucket)] == strip
