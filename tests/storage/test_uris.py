"""URIs without a server: ``file://`` destinations, and the options a URI carries (its query,
its ``user:key@``) kept on every path built from it."""

from __future__ import annotations

import pytest

import backtrader_channels as btch
from backtrader_channels.sources import storage
from backtrader_channels.sources.batches import expand_paths
from backtrader_channels.sources.convert import convert


def test_join_and_listings_keep_a_uris_query_and_keys():
    uri = "s3://KEY:SECRET@bucket/data?endpoint_override=127.0.0.1:9000&scheme=http"
    assert storage.split_query(uri) == (
        "s3://KEY:SECRET@bucket/data",
        "?endpoint_override=127.0.0.1:9000&scheme=http",
    )
    assert storage.join(uri, "channel=tick", "date=2024-08-08") == (
        "s3://KEY:SECRET@bucket/data/channel=tick/date=2024-08-08"
        "?endpoint_override=127.0.0.1:9000&scheme=http"
    )
    assert storage._uri_of(uri, "bucket/data/x.parquet") == (
        "s3://KEY:SECRET@bucket/data/x.parquet?endpoint_override=127.0.0.1:9000&scheme=http"
    )
    assert storage._uri_of("gs://b/p", "b/p/x.parquet") == "gs://b/p/x.parquet"
    assert storage._uri_of("file:///tmp/d", "/tmp/d/x.parquet") == "file:///tmp/d/x.parquet"
    assert storage._uri_of("hdfs://nn:8020/d", "/d/x.parquet") == "hdfs://nn:8020/d/x.parquet"
    assert storage.join("/local/dir", "a", "b") == "/local/dir/a/b"


def test_convert_to_a_file_uri_writes_what_a_path_would(capture_path, tmp_path):
    uri = f"file://{tmp_path}/by-uri"
    by_uri = convert(capture_path, uri, progress=False)
    by_path = convert(capture_path, str(tmp_path / "by-path"), progress=False)
    assert by_uri == by_path
    rel = sorted(
        p[len(str(tmp_path / "by-path")) :] for p in expand_paths(str(tmp_path / "by-path"))
    )
    assert sorted(p[len(uri) :] for p in expand_paths(uri)) == rel
    runs = []
    for dataname in (uri, str(tmp_path / "by-path")):
        c = btch.Cerebro()
        c.add_channel("quote", "BTCUSDT", dataname=dataname)
        c.run(mode=btch.RunMode.TICK)
        runs.append(c.last_run["events"])
    assert runs == [28040, 28040]


def test_a_destination_that_cannot_be_written_is_named_first(capture_path, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(NotADirectoryError, match=f"{a_file}: exists and is not a directory"):
        convert(capture_path, str(a_file), progress=False)
    with pytest.raises(NotADirectoryError, match="exists and is not a directory"):
        convert(capture_path, f"file://{a_file}", progress=False)
    with pytest.raises(FileNotFoundError, match="cannot open 'nosuch://x'"):
        convert(capture_path, "nosuch://x", progress=False)
    assert not list(tmp_path.glob("channel=*"))
