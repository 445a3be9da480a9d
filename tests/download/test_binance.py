"""Binance's archive: checksums, idempotence, resume, corruption, missing days, the month to
day fallback, raw files, the S3 listing."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os

import pytest

from backtrader_channels.download import DownloadError, download_binance, list_archive
from backtrader_channels.loopback.archive import ArchiveServer
from backtrader_channels.loopback.archive_files import ArchiveFiles
from backtrader_channels.sources.formats import open_source

D = dt.date


def _run(archive, dest, lines, **kw):
    args = {
        "symbols": ["BTCUSDT"],
        "kinds": ["trades"],
        "start": D(2024, 8, 1),
        "end": D(2024, 8, 3),
        "dest": str(dest),
        "base_url": archive.url,
        "progress": False,
        "backoff": 0.01,
        "echo": lines.append,
    }
    args.update(kw)
    return download_binance(**args)


def _zips(archive):
    return [h for h in archive.hits if h.path.endswith(".zip")]


def test_two_months_three_kinds_two_symbols(archive, tmp_path, quiet):
    kw = {
        "symbols": ["BTCUSDT", "ETHUSDT"],
        "kinds": ["trades", "aggTrades", "fundingRate"],
        "start": D(2024, 6, 1),
        "end": D(2024, 7, 31),
        "market": "um",
    }
    s = _run(archive, tmp_path, quiet, **kw)
    assert len(s.fetched) == 12
    assert not s.missing
    assert not s.failed
    assert s.rows > 0
    assert s.bytes > 0
    checks = [h for h in archive.hits if h.path.endswith(".CHECKSUM")]
    assert len(checks) == 12  # every file checked against its published sha256
    manifest = json.load(open(tmp_path / "manifest.json"))["files"]
    assert len(manifest) == 12
    for rec in manifest.values():
        served = archive.files.get(rec["url"].split("/", 3)[3])
        assert rec["sha256"] == hashlib.sha256(served).hexdigest()
    # trades are the tick channel in dest itself, aggTrades beside them, funding settlements
    ticks = [e for _, c in open_source(str(tmp_path), "tick", "ETHUSDT") for e in c]
    assert len(ticks) == 34 * 300
    assert ticks[0].timestamp < ticks[-1].timestamp
    assert [e for _, c in open_source(str(tmp_path / "aggTrades"), "tick", "BTCUSDT") for e in c]
    funding = [e for _, c in open_source(str(tmp_path), "derivative", "ETHUSDT") for e in c]
    assert len(funding) == 34 * 3
    assert all(e.funding_ts for e in funding)
    # a second identical run fetches nothing, and says so
    archive.hits.clear()
    again = _run(archive, tmp_path, quiet, **kw)
    assert archive.hits == []
    assert again.fetched == []
    assert len(again.skipped) == 12
    assert "nothing to fetch: every file is already there" in again.lines()


def test_cut_transfer_resumes_without_refetching_finished_files(archive, tmp_path, quiet):
    name = "BTCUSDT-aggTrades-2024-08-02.zip"
    archive.faults.cut[name] = 1
    with pytest.raises(DownloadError, match=name) as err:
        _run(archive, tmp_path, quiet, kinds=["trades", "aggTrades"], retries=0)
    assert len(err.value.summary.fetched) == 5  # type: ignore[attr-defined]
    part = tmp_path / ".download/binance/data/spot/daily/aggTrades/BTCUSDT" / (name + ".part")
    assert part.stat().st_size == part_size(archive, name)  # half of it: where it broke
    archive.hits.clear()
    s = _run(archive, tmp_path, quiet, kinds=["trades", "aggTrades"])
    assert s.fetched == [name]
    assert s.resumed == 1
    assert len(s.skipped) == 5
    (hit,) = _zips(archive)  # only the cut file, resumed where it broke
    assert hit.status == 206
    assert hit.range == f"bytes={part_size(archive, name)}-"
    assert not part.exists()


def part_size(archive, name):
    body = archive.files.get(f"data/spot/daily/aggTrades/BTCUSDT/{name}")
    return len(body) // 2


def test_cut_transfer_is_retried_in_the_same_run(archive, tmp_path, quiet):
    archive.faults.cut["BTCUSDT-trades-2024-08-01.zip"] = 2
    s = _run(archive, tmp_path, quiet)
    assert len(s.fetched) == 3
    assert s.resumed == 1
    ranges = [h.range for h in _zips(archive) if "08-01" in h.path]
    assert ranges[0] is None
    assert ranges[1]
    assert ranges[2]


def test_server_without_ranges_is_read_from_the_start(archive, tmp_path, quiet):
    archive.faults.cut["BTCUSDT-trades-2024-08-01.zip"] = 1
    archive.faults.no_range = True
    s = _run(archive, tmp_path, quiet)
    assert len(s.fetched) == 3
    assert s.resumed == 0
    assert not s.failed


def test_corrupted_transfer_is_detected_and_refetched(archive, tmp_path, quiet):
    archive.faults.corrupt["BTCUSDT-trades-2024-08-02.zip"] = 1
    s = _run(archive, tmp_path, quiet)
    assert len(s.fetched) == 3
    assert s.refetched == 1
    assert any("checksum mismatch" in line and "2024-08-02" in line for line in quiet)
    assert len([h for h in _zips(archive) if "08-02" in h.path]) == 2


def test_corrupted_twice_is_an_error_naming_the_file(archive, tmp_path, quiet):
    archive.faults.corrupt["BTCUSDT-trades-2024-08-02.zip"] = 2
    with pytest.raises(DownloadError, match=r"BTCUSDT-trades-2024-08-02.zip: checksum mismatch"):
        _run(archive, tmp_path, quiet)
    manifest = json.load(open(tmp_path / "manifest.json"))["files"]
    assert len(manifest) == 2  # the rest was done


def test_missing_day_is_reported_by_name_and_the_rest_continues(archive, tmp_path, quiet):
    archive.faults.missing.add("BTCUSDT-trades-2024-08-02")
    s = _run(archive, tmp_path, quiet)
    assert len(s.fetched) == 2
    assert len(s.missing) == 1
    assert not s.failed
    (line,) = s.missing
    assert "BTCUSDT trades 2024-08-02" in line
    assert "404" in line
    assert f"{archive.url}/data/spot/daily/trades/BTCUSDT/BTCUSDT-trades-2024-08-02.zip" in line
    assert line in quiet


def test_month_falls_back_to_its_days(tmp_path):
    files = ArchiveFiles(
        days=[D(2024, 7, d) for d in range(1, 32)], unpublished={"2024-07"}, rows_per_day=20
    )
    lines: list[str] = []
    with ArchiveServer(files) as server:
        dest = str(tmp_path)
        s = download_binance(
            ["ETHUSDT"],
            ["trades", "fundingRate"],
            D(2024, 7, 1),
            D(2024, 7, 31),
            dest,
            market="um",
            base_url=server.url,
            progress=False,
            echo=lines.append,
            jobs=4,
        )
        monthly = server.requests_for("/monthly/trades/")
        daily_funding = server.requests_for("/daily/fundingRate/")
    assert [h.status for h in monthly] == [404]  # its CHECKSUM: not published
    assert any("monthly file is not published" in x for x in lines)
    assert len(s.fetched) == 31  # the days (fundingRate, monthly only, is missing)
    assert len(s.missing) == 1
    assert "fundingRate 2024-07" in s.missing[0]
    assert daily_funding == []


def test_raw_keeps_the_zips_and_their_checksums(archive, tmp_path, quiet):
    kinds = ["trades", "bookDepth", "metrics", "markPriceKlines"]
    s = _run(
        archive,
        tmp_path,
        quiet,
        kinds=kinds,
        market="um",
        raw=True,
        start=D(2024, 8, 2),
        end=D(2024, 8, 2),
    )
    assert len(s.fetched) == 4
    assert s.rows == 0
    base = tmp_path / "raw/binance/futures/um/daily"
    kline = base / "markPriceKlines/BTCUSDT/1m/BTCUSDT-1m-2024-08-02.zip"
    for path in (kline, base / "bookDepth/BTCUSDT/BTCUSDT-bookDepth-2024-08-02.zip"):
        digest, name = open(str(path) + ".CHECKSUM").read().split()
        assert name == path.name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert not any(n.startswith("channel=") for n in os.listdir(tmp_path))


def test_kinds_no_channel_reads_are_kept_raw(archive, tmp_path, quiet):
    s = _run(
        archive,
        tmp_path,
        quiet,
        kinds=["trades", "bookTicker"],
        market="um",
        start=D(2024, 8, 1),
        end=D(2024, 8, 1),
    )
    assert len(s.fetched) == 2
    assert (tmp_path / "raw/binance/futures/um/daily/bookTicker/BTCUSDT").is_dir()
    assert (tmp_path / "channel=tick").is_dir()


def test_klines_are_converted_beside_funding(archive, tmp_path, quiet):
    kinds = ["fundingRate", "markPriceKlines"]
    _run(
        archive,
        tmp_path,
        quiet,
        kinds=kinds,
        market="um",
        start=D(2024, 7, 1),
        end=D(2024, 7, 31),
        symbols=["ETHUSDT"],
    )
    marks = [
        e
        for _, c in open_source(str(tmp_path / "markPriceKlines"), "derivative", "ETHUSDT")
        for e in c
    ]
    assert len(marks) == 31 * 1440
    assert marks[0].mark_price > 0


def test_env_var_points_at_a_mirror(archive, tmp_path, quiet, monkeypatch):
    monkeypatch.setenv("BTCH_BINANCE_ARCHIVE_URL", archive.url)
    s = _run(archive, tmp_path, quiet, base_url=None, start=D(2024, 8, 1), end=D(2024, 8, 1))
    assert len(s.fetched) == 1


def test_listing_is_the_s3_bucket_listing(archive):
    files, folders = list_archive("data/spot/daily/trades/BTCUSDT/", archive.url)
    names = [k.rsplit("/", 1)[1] for k, _ in files]
    assert "BTCUSDT-trades-2024-08-03.zip" in names
    assert "BTCUSDT-trades-2024-08-03.zip.CHECKSUM" in names
    assert folders == []
    _, folders = list_archive("data/futures/um/daily/", archive.url)
    assert "data/futures/um/daily/fundingRate/" not in folders  # monthly only
    assert "data/futures/um/daily/bookDepth/" in folders
    raw = archive.url + "/data.binance.vision?delimiter=/&prefix=data/spot/&max-keys=1"
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    text = opener.open(raw).read().decode()
    assert "<IsTruncated>true</IsTruncated>" in text
    assert "<NextMarker>" in text


def test_slow_transfer_with_a_progress_bar(archive, tmp_path, quiet, capsys):
    archive.faults.slow_bytes_per_s = 400_000
    s = _run(archive, tmp_path, quiet, progress=True, start=D(2024, 8, 1), end=D(2024, 8, 1))
    assert len(s.fetched) == 1
    assert "download" in capsys.readouterr().err


def test_a_month_replaces_its_days_converted_before(archive, tmp_path, quiet):
    _run(archive, tmp_path, quiet, start=D(2024, 7, 1), end=D(2024, 7, 2))
    s = _run(archive, tmp_path, quiet, start=D(2024, 7, 1), end=D(2024, 7, 31))
    assert s.fetched == ["BTCUSDT-trades-2024-07.zip"]
    ticks = [e for _, c in open_source(str(tmp_path), "tick", "BTCUSDT") for e in c]
    assert len(ticks) == 31 * 300  # not 33 days' worth
    day = tmp_path / "channel=tick/venue=binance/market=spot/symbol=BTCUSDT/date=2024-07-01"
    assert os.listdir(day) == ["part-BTCUSDT-trades-2024-07-000.parquet"]


def test_unavailable_server_is_retried(archive, tmp_path, quiet):
    archive.faults.unavailable["BTCUSDT-trades-2024-08-01.zip"] = 2
    s = _run(archive, tmp_path, quiet, start=D(2024, 8, 1), end=D(2024, 8, 1))
    assert s.fetched == ["BTCUSDT-trades-2024-08-01.zip"]
    assert [h.status for h in _zips(archive)] == [503, 503, 200]


def test_network_errors_after_the_retries_name_the_file(archive, tmp_path, quiet):
    archive.faults.unavailable["BTCUSDT-trades-2024-08-01.zip"] = 5
    with pytest.raises(DownloadError, match=r"BTCUSDT-trades-2024-08-01\.zip .*3 attempt"):
        _run(archive, tmp_path, quiet, start=D(2024, 8, 1), end=D(2024, 8, 1), retries=2)


def test_coin_m_trades_and_funding_read_as_an_inverse_perpetual(archive, tmp_path, quiet):
    """``--market cm``: COIN-M's layout (``futures/cm``, ``base_qty``), converted as the
    inverse market of ``ETHUSD_PERP``."""
    kw = {"symbols": ["ETHUSD_PERP"], "kinds": ["trades", "fundingRate"], "market": "cm"}
    s = _run(archive, tmp_path, quiet, start=D(2024, 6, 1), end=D(2024, 7, 31), **kw)
    assert not s.missing
    assert not s.failed
    assert s.rows > 0
    parts = sorted(p.relative_to(tmp_path).parts[:4] for p in tmp_path.rglob("*.parquet"))
    assert {p[:3] for p in parts} == {
        ("channel=tick", "venue=binance", "market=inverse"),
        ("channel=derivative", "venue=binance", "market=inverse"),
    }
    ticks = [e for _, c in open_source(str(tmp_path), "tick", "ETHUSD_PERP") for e in c]
    assert len(ticks) > 0
