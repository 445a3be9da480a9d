"""Recorded Bybit v5 ``tickers`` frames into derivative events. The frames are GENERATED in the
shape of Bybit's documented linear ticker (values of its documentation's example), not recorded."""

import json
import math

import pytest

from backtrader_channels import DataError
from backtrader_channels.sources import SkipReport
from backtrader_channels.sources.build import events_from_streams
from backtrader_channels.sources.registry import Content
from backtrader_channels.venues.bybit.tickers import (
    TICKERS,
    TickerState,
    is_tickers_file,
    tickers_batches,
    tickers_contents,
    unified,
)

MS = 1_000_000
SNAPSHOT = {
    "topic": "tickers.BTCUSDT",
    "type": "snapshot",
    "data": {
        "symbol": "BTCUSDT",
        "lastPrice": "17216.00",
        "markPrice": "17217.33",
        "indexPrice": "17227.36",
        "openInterest": "68744.761",
        "nextFundingTime": "1673280000000",
        "fundingRate": "-0.000212",
        "bid1Price": "17215.50",
        "ask1Price": "17216.00",
    },
    "cs": 24987956059,
    "ts": 1673272861686,
}


def _delta(ts, **fields):
    data = {"symbol": "BTCUSDT", **fields}
    return {"topic": "tickers.BTCUSDT", "type": "delta", "data": data, "cs": 1, "ts": ts}


def _write(path, frames, recv=True):
    lines = []
    for n, frame in enumerate(frames):
        text = json.dumps(frame)
        lines.append(f"{1673272861000000000 + n} {text}" if recv else text)
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def events(path, symbol="BTC/USDT:USDT", **kw):
    skip = kw.pop("skip", None)
    stream = (path, 1, tickers_batches(path, "derivative", symbol, skip))
    on_error = "skip" if skip is not None else "raise"
    return [
        e for _, c in events_from_streams([stream], "derivative", symbol, on_error, skip) for e in c
    ]


@pytest.fixture
def frames():
    eth = {**SNAPSHOT, "topic": "tickers.ETHUSDT", "data": {**SNAPSHOT["data"], "markPrice": "1"}}
    return [
        SNAPSHOT,
        _delta(1673272861786, lastPrice="17217.00"),  # no kept field changed: no event
        eth,  # another symbol
        _delta(1673272861886, markPrice="17218.10"),
        _delta(1673272861986, indexPrice="17226.00", fundingRate="-0.0002"),
    ]


@pytest.mark.parametrize("recv", [True, False])
def test_snapshot_and_deltas_merge(tmp_path, frames, recv):
    path = _write(tmp_path / "tickers.jsonl", frames, recv)
    assert is_tickers_file(path)
    assert TICKERS.sniff(path, None)
    assert tickers_contents(path) == [
        Content("derivative", "BTC/USDT:USDT", "bybit", "linear"),
        Content("derivative", "ETH/USDT:USDT", "bybit", "linear"),
    ]
    got = events(path)
    assert [(e.timestamp, e.mark_price, e.index_price, e.funding_rate) for e in got] == [
        (1673272861686 * MS, 17217.33, 17227.36, -0.000212),
        (1673272861886 * MS, 17218.10, 17227.36, -0.000212),
        (1673272861986 * MS, 17218.10, 17226.00, -0.0002),
    ]
    assert all(e.next_funding_ts == 1673280000000 * MS for e in got)
    assert got[0].recv_timestamp == (1673272861000000000 if recv else got[0].timestamp)
    assert len(events(path, "BTCUSDT")) == 3


def test_inverse_and_spot_symbols():
    assert unified("BTCUSD") == ("BTC/USD:BTC", "inverse")
    assert unified("ETHUSDT") == ("ETH/USDT:USDT", "linear")
    state = TickerState()
    spot = {"topic": "tickers.BTCUSDT", "type": "snapshot", "data": {"lastPrice": "1"}, "ts": 1}
    assert state.apply(spot) is None  # spot tickers have no mark price: no event


def test_partial_delta_before_a_snapshot(tmp_path):
    path = _write(tmp_path / "t.jsonl", [_delta(5, markPrice="10.5")])
    (e,) = events(path)
    assert e.mark_price == 10.5
    assert math.isnan(e.index_price)
    assert e.next_funding_ts is None


def test_a_bad_frame_is_located_or_skipped(tmp_path, frames):
    broken = _delta(None, markPrice="x")
    path = _write(tmp_path / "bad.jsonl", [frames[0], broken, frames[3]])
    with pytest.raises(DataError, match="unexpected frame") as err:
        events(path)
    assert err.value.line == 2
    skip = SkipReport()
    assert len(events(path, skip=skip)) == 2
    assert skip.total == 1
