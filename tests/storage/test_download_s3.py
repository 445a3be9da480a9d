"""``download --dest s3://...``: the archive's files checked and converted locally, copied up
part by part with the manifest; the bucket reads as the same download on disk; a second run,
from an empty cache (another machine), fetches nothing the bucket's manifest lists."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import backtrader_channels as btch
from backtrader_channels.download import download_binance
from backtrader_channels.loopback.archive import ArchiveServer
from backtrader_channels.sources import storage


@pytest.fixture(scope="module")
def archive():
    server = ArchiveServer()
    server.start()
    yield server
    server.stop()


def _download(archive, dest, lines):
    return download_binance(
        symbols=["BTCUSDT"],
        kinds=["trades"],
        start=dt.date(2024, 8, 1),
        end=dt.date(2024, 8, 3),
        dest=dest,
        base_url=archive.url,
        progress=False,
        backoff=0.01,
        echo=lines.append,
    )


def _events(dataname):
    c = btch.Cerebro()
    c.add_channel("tick", "BTCUSDT", dataname=dataname)
    c.run(mode=btch.RunMode.TICK)
    return c.last_run["events"]


def test_a_download_to_a_bucket_reads_as_on_disk_and_is_idempotent(
    s3_server, archive, tmp_path, monkeypatch
):
    monkeypatch.setenv("BTCH_DOWNLOAD_CACHE", str(tmp_path / "cache"))
    bucket = s3_server.make_bucket()
    dest = s3_server.uri(bucket, "hist")
    lines: list[str] = []
    first = _download(archive, dest, lines)
    assert len(first.fetched) == 3
    assert first.rows > 0
    on_disk = _download(archive, str(tmp_path / "disk"), [])
    assert _events(dest) == _events(str(tmp_path / "disk")) == on_disk.rows
    manifest = json.loads(storage.open_input(storage.join(dest, "manifest.json")).read())
    assert len(manifest["files"]) == 3
    # the cache keeps nothing once copied up but the manifest
    cached = [p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert cached == ["manifest.json"]
    # another machine (an empty cache): the bucket's manifest says everything is there
    monkeypatch.setenv("BTCH_DOWNLOAD_CACHE", str(tmp_path / "other"))
    archive.hits.clear()
    again = _download(archive, dest, [])
    assert again.fetched == []
    assert len(again.skipped) == 3
    assert [h for h in archive.hits if h.path.endswith(".zip")] == []


def test_a_missing_bucket_is_named_before_anything_is_fetched(s3_server, archive, tmp_path):
    archive.hits.clear()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _download(archive, s3_server.uri("no-such-bucket", "hist"), [])
    assert archive.hits == []
