"""Detection: files no reader reads are named as such (cryptofeed's raw captures, item 7 of
issue 35); a Bybit book archive is read by its messages, whatever its name (item 8)."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest

import backtrader_channels as btch
from backtrader_channels import ChannelError
from backtrader_channels.sources.convert import contents, convert
from backtrader_channels.sources.formats import detect_format, open_source

BITMEX = [
    "wss://www.bitmex.com/realtime <-> 1626993367.388005",
    '1626993367.6: {"info":"Welcome to the BitMEX Realtime API.","version":"2021-07-21"}',
    '1626993368.1: {"table":"trade","action":"insert","data":[{"timestamp":'
    '"2021-07-22T22:36:08.102Z","symbol":"XBTUSD","side":"Buy","size":100,"price":32000.5}]}',
]
COINBASE = [
    "wss://ws-feed.pro.coinbase.com <-> 1626993367.312",
    '1626993367.5: {"type":"match","product_id":"BTC-USD","price":"32000.01","size":"0.1"}',
]


def write(path, lines):
    text = "\n".join(lines) + "\n"
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("name", "lines", "exchange"),
    [
        ("BITMEX.ws.0.0", BITMEX, "bitmex"),
        ("bitmex.txt.gz", BITMEX, "bitmex"),
        ("COINBASE.ws.1.0", COINBASE, "coinbase"),
        ("coinbase.csv", COINBASE, "coinbase"),
    ],
)
def test_cryptofeed_raw_captures_are_named_unsupported(tmp_path, name, lines, exchange):
    path = write(tmp_path / name, lines)
    with pytest.raises(ChannelError) as info:
        detect_format(path)
    msg = str(info.value)
    assert f"cryptofeed raw WebSocket capture of {exchange}" in msg
    assert "pass format=" not in msg  # no format reads it: do not suggest one would
    for fmt in ("native", "tardis", "binance_ws", "bybit"):
        assert fmt in msg
    # what a user meets: add_channel, and the CLI's first question (what the file holds)
    with pytest.raises(ChannelError, match="cryptofeed raw WebSocket capture"):
        list(open_source(path, "tick", "BTC/USD"))
    with pytest.raises(ChannelError, match="cryptofeed raw WebSocket capture"):
        contents(path)


@pytest.fixture(scope="module")
def bybit():
    return btch.datasets.bybit_btcusdt_sample()


@pytest.mark.parametrize("name", ["btc_ob500.data.zip", "orderbook.zip", "BOOK_ob500.data.zip"])
def test_a_renamed_ob500_archive_reads_its_symbol_from_the_messages(tmp_path, bybit, name):
    path = str(tmp_path / name)
    shutil.copy(bybit.orderbook, path)
    assert detect_format(path) == "bybit"
    assert contents(path) == [("orderbook", "BTCUSDT")]
    from backtrader_channels.sources.contents import file_contents

    assert file_contents(path)[0][2:] == ("bybit", "linear")
    evs = [e for _, c in open_source(path, "orderbook", "BTC/USDT") for e in c]
    assert len(evs) == 3453
    out = tmp_path / "out"
    summary = convert(path, str(out), progress=False)
    assert summary["events"] == {"orderbook:BTCUSDT@bybit/linear": 3453}


def test_a_spot_book_archive_is_spot(tmp_path, bybit):
    import zipfile

    from backtrader_channels.sources.contents import file_contents

    with zipfile.ZipFile(bybit.orderbook) as zf:
        lines = zf.read(zf.namelist()[0]).decode().splitlines()[:5]
    msgs = [json.loads(line) for line in lines]
    for m in msgs:
        m["topic"] = "orderbook.200.BTCUSDT"
    path = tmp_path / "2024-08-08_BTCUSDT_ob200.data.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("2024-08-08_BTCUSDT_ob200.data", "\n".join(map(json.dumps, msgs)) + "\n")
    assert file_contents(str(path))[0][2:] == ("bybit", "spot")
