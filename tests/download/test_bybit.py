"""Bybit's archive: trades and books converted, integrity checks without published
checksums, the manifest's sha256, raw files."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
import time

import pytest

from backtrader_channels.download import DownloadError, download_bybit
from backtrader_channels.sources.formats import open_source

D = dt.date


def _run(archive, dest, lines, **kw):
    args = {
        "symbols": ["BTCUSDT"],
        "kinds": ["trades", "orderbook"],
        "start": D(2024, 8, 1),
        "end": D(2024, 8, 2),
        "dest": str(dest),
        "base_url": archive.url,
        "progress": False,
        "backoff": 0.01,
        "echo": lines.append,
    }
    args.update(kw)
    return download_bybit(**args)


def test_trades_and_books_converted_with_a_manifest(archive, tmp_path, quiet):
    s = _run(archive, tmp_path, quiet)
    assert len(s.fetched) == 4
    assert not s.missing
    assert s.rows > 0
    paths = sorted(h.path for h in archive.hits)
    assert paths == [
        "orderbook/linear/BTCUSDT/2024-08-01_BTCUSDT_ob500.data.zip",
        "orderbook/linear/BTCUSDT/2024-08-02_BTCUSDT_ob500.data.zip",
        "trading/BTCUSDT/BTCUSDT2024-08-01.csv.gz",
        "trading/BTCUSDT/BTCUSDT2024-08-02.csv.gz",
    ]
    manifest = json.load(open(tmp_path / "manifest.json"))["files"]
    for key, rec in manifest.items():
        served = archive.files.get(key.split(":", 2)[2])
        assert rec["sha256"] == hashlib.sha256(served).hexdigest()
    ticks = [e for _, c in open_source(str(tmp_path), "tick", "BTCUSDT", venue="bybit") for e in c]
    assert len(ticks) == 2 * 9738  # the recording, less its 19 trades past midnight
    books = [e for _, c in open_source(str(tmp_path), "orderbook", "BTCUSDT") for e in c]
    assert len(books) == 2 * 600
    assert books[0].is_snapshot
    archive.hits.clear()
    again = _run(archive, tmp_path, quiet)
    assert archive.hits == []
    assert len(again.skipped) == 4


def test_damaged_gzip_is_refetched(archive, tmp_path, quiet):
    archive.faults.corrupt["BTCUSDT2024-08-01.csv.gz"] = 1
    s = _run(archive, tmp_path, quiet, kinds=["trades"])
    assert len(s.fetched) == 2
    assert s.refetched == 1
    assert any("damaged" in line and "BTCUSDT2024-08-01.csv.gz" in line for line in quiet)


def test_damaged_zip_twice_is_an_error_naming_it(archive, tmp_path, quiet):
    name = "2024-08-02_BTCUSDT_ob500.data.zip"
    archive.faults.corrupt[name] = 2
    with pytest.raises(DownloadError, match=name):
        _run(archive, tmp_path, quiet, kinds=["orderbook"])


def test_spot_raw(archive, tmp_path, quiet):
    s = _run(
        archive, tmp_path, quiet, category="spot", raw=True, start=D(2024, 8, 3), end=D(2024, 8, 3)
    )
    assert len(s.fetched) == 2
    assert (tmp_path / "raw/bybit/spot/BTCUSDT/BTCUSDT_2024-08-03.csv.gz").is_file()
    assert (
        tmp_path / "raw/bybit/orderbook/spot/BTCUSDT/2024-08-03_BTCUSDT_ob200.data.zip"
    ).is_file()


def test_missing_day(archive, tmp_path, quiet):
    s = _run(archive, tmp_path, quiet, kinds=["trades"], end=D(2024, 8, 5), today=D(2024, 9, 1))
    assert len(s.fetched) == 3  # the archive ends on 2024-08-03
    assert [m.split(":")[1].strip() for m in s.missing] == [
        "BTCUSDT trades 2024-08-04",
        "BTCUSDT trades 2024-08-05",
    ]


def test_killed_download_restarts_without_refetching_finished_files(archive, tmp_path, quiet):
    """A download process killed mid-file: the next run skips the finished files and resumes
    the cut one from its ``.part`` with a Range request."""
    archive.faults.slow_bytes_per_s = 250_000  # each 170 kB file takes ~0.7 s
    code = (
        "import datetime as dt, sys\n"
        "from backtrader_channels.download import download_bybit\n"
        "download_bybit(['BTCUSDT'], ['trades'], dt.date(2024, 7, 30), dt.date(2024, 8, 1),\n"
        f"    {str(tmp_path)!r}, base_url={archive.url!r}, jobs=1, progress=False)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    manifest = tmp_path / "manifest.json"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not manifest.exists():
            time.sleep(0.02)
        assert manifest.exists()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
            p.stat().st_size > 20_000 for p in tmp_path.rglob("*.part")
        ):
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.wait(10)
    (part,) = tmp_path.rglob("*.part")
    done = json.load(open(manifest))["files"]
    assert len(done) == 1
    archive.faults.slow_bytes_per_s = None
    archive.hits.clear()
    s = _run(archive, tmp_path, quiet, kinds=["trades"], start=D(2024, 7, 30), end=D(2024, 8, 1))
    assert len(s.skipped) == 1
    assert len(s.fetched) == 2
    assert s.resumed == 1
    ranged = [h for h in archive.hits if h.range]
    assert len(ranged) == 1
    assert ranged[0].status == 206
    assert len(archive.hits) == 2  # the finished file is not asked for again
    assert not part.exists()
