"""The live derivative channel: ccxt.pro's mark-price tickers (made by the real clients' own
message handlers from real-format frames) as DerivativeEvents, the funding settlements the feed
emits, their parity with the recorded path in the broker, and a live run on the loopback
Binance USDⓈ-M."""

from __future__ import annotations

import asyncio
import json
import math
from importlib.resources import files

import backtrader as bt
import ccxt.pro as ccxtpro
import pytest

import backtrader_channels as btch
from backtrader_channels import loopback
from backtrader_channels.events import DerivativeEvent, TickEvent
from backtrader_channels.live.ccxt_feed import CCXTLiveFeed
from backtrader_channels.live.derivative import (
    FundingClock,
    LiveDerivatives,
    binance_mark,
    bybit_ticker,
    derivative_venue,
)
from backtrader_channels.live.queue import LiveEventQueue
from backtrader_channels.live.validator import LiveDataValidator
from backtrader_channels.venues.binance import stream as binance_stream
from backtrader_channels.venues.bybit import stream as bybit_stream

SYM = "ETH/USDT:USDT"
BYBIT_SYM = "BTC/USDT:USDT"
MS = 1_000_000
T0 = 1_723_161_600_000  # 2024-08-09 00:00:00 UTC, ms: a funding time
T1 = T0 + 8 * 3600 * 1000  # the next one
NAN = math.nan


def mark_frame(e_ms, mark, rate="0.00010000", nxt=T0, index="2510.00"):
    """A Binance USDⓈ-M ``markPriceUpdate`` frame, as the venue sends it."""
    return {
        "e": "markPriceUpdate", "E": e_ms, "s": "ETHUSDT", "p": mark, "ap": mark, "P": mark,
        "i": index, "r": rate, "T": nxt,
    }  # fmt: skip


def binance_usdm():
    """A real ``ccxt.pro.binanceusdm`` with the 2021 exchangeInfo's linear markets, parsed by
    the client itself (no network)."""
    ex = ccxtpro.binanceusdm()
    path = files("backtrader_channels") / "data" / "binance_exchangeInfo_subset_2021.json"
    info = json.loads(path.read_text())
    ex.set_markets([ex.parse_market(m) for m in info["linear"]["symbols"]])
    return ex


def bybit_linear():
    """A real ``ccxt.pro.bybit`` knowing the BTCUSDT perpetual (no network)."""
    ex = ccxtpro.bybit()
    ex.set_markets(
        [
            {
                "id": "BTCUSDT", "symbol": BYBIT_SYM, "base": "BTC", "quote": "USDT",
                "settle": "USDT", "baseId": "BTC", "quoteId": "USDT", "settleId": "USDT",
                "type": "swap", "spot": False, "margin": False, "swap": True, "future": False,
                "option": False, "contract": True, "linear": True, "inverse": False,
                "active": True, "contractSize": 1.0, "precision": {}, "limits": {}, "info": {},
            }
        ]
    )  # fmt: skip
    return ex


async def _binance_tickers(frames):
    """What ``watch_mark_price`` resolves with for each frame: the client's own handler."""
    ex = binance_usdm()
    try:
        client = ex.client("wss://fstream.binance.com/market/ws/markPrice")
        out = []
        for frame in frames:
            fut = client.future("markPrice:markPrice@" + SYM)
            ex.handle_message(client, frame)
            assert fut.done()
            out.append(fut.result())
        return out
    finally:
        await ex.close()


async def _bybit_tickers(frames):
    """What ``watch_ticker`` resolves with for each ``tickers`` frame (ccxt merges deltas)."""
    ex = bybit_linear()
    try:
        client = ex.client("wss://stream.bybit.com/v5/public/linear")
        out = []
        for frame in frames:
            fut = client.future("ticker:" + BYBIT_SYM)
            ex.handle_message(client, frame)
            assert fut.done()
            out.append(fut.result())
        return out
    finally:
        await ex.close()


# ---- conversions, from what the real clients make of real frames --------------------------------
def test_binance_mark_price_ticker_becomes_a_derivative_event():
    (ticker,) = asyncio.run(_binance_tickers([mark_frame(T0 - 500, "2512.34")]))
    ev = binance_mark(ticker, SYM, 42, "binance")
    assert ev == DerivativeEvent(
        (T0 - 500) * MS, 2512.34, 2510.0, 0.0001, T0 * MS, SYM, 42, "binance", None
    )
    assert not ev.is_settlement
    # a delivery contract's frame: no funding rate (empty), no next funding time (0)
    (ticker,) = asyncio.run(_binance_tickers([mark_frame(T0, "2500", rate="", nxt=0)]))
    ev = binance_mark(ticker, SYM, 1)
    assert math.isnan(ev.funding_rate)
    assert ev.next_funding_ts is None


BYBIT_SNAPSHOT = {
    "topic": "tickers.BTCUSDT", "type": "snapshot", "cs": 24987956059, "ts": 1673272861686,
    "data": {
        "symbol": "BTCUSDT", "tickDirection": "PlusTick", "price24hPcnt": "0.017103",
        "lastPrice": "17216.00", "prevPrice24h": "16926.50", "highPrice24h": "17281.50",
        "lowPrice24h": "16915.00", "prevPrice1h": "17238.00", "markPrice": "17217.33",
        "indexPrice": "17227.36", "openInterest": "68744.761",
        "openInterestValue": "1183601235.91", "turnover24h": "1570383121.943499",
        "volume24h": "91705.276", "nextFundingTime": "1673280000000", "fundingRate": "-0.000212",
        "bid1Price": "17215.50", "bid1Size": "84.489", "ask1Price": "17216.00",
        "ask1Size": "83.020",
    },
}  # fmt: skip


def _bybit_delta(ts, **data):
    return {"topic": "tickers.BTCUSDT", "type": "delta", "cs": 1, "ts": ts,
            "data": {"symbol": "BTCUSDT", **data}}  # fmt: skip


def test_bybit_tickers_snapshot_and_deltas_become_events_when_mark_data_changes():
    frames = [
        BYBIT_SNAPSHOT,
        _bybit_delta(1673272861786, bid1Price="17215.00", bid1Size="1.0"),  # mark data unchanged
        _bybit_delta(1673272861886, markPrice="17218.00"),
        _bybit_delta(1673272861986, fundingRate="-0.000100", nextFundingTime="1673308800000"),
    ]
    tickers = asyncio.run(_bybit_tickers(frames))
    ev = bybit_ticker(tickers[0], BYBIT_SYM, 7, "bybit")
    assert ev == DerivativeEvent(
        1673272861686 * MS, 17217.33, 17227.36, -0.000212, 1673280000000 * MS, BYBIT_SYM, 7,
        "bybit",
    )  # fmt: skip
    derivs = LiveDerivatives(derivative_venue("bybit", BYBIT_SYM), "bybit", LiveDataValidator())
    got = [derivs.event(t, BYBIT_SYM, 0) for t in tickers]
    assert [len(g) for g in got] == [1, 0, 1, 1]  # the bid-only delta makes none (as recorded)
    assert got[2][0].mark_price == 17218.0
    assert got[2][0].index_price == 17227.36
    assert got[3][0].funding_rate == -0.0001
    assert got[3][0].next_funding_ts == 1673308800000 * MS
    assert got[3][0].timestamp == 1673272861986 * MS


def test_bybit_live_events_equal_the_tickers_readers_rows(tmp_path):
    """The same frames, recorded and read by the Bybit tickers reader, give the same values."""
    from backtrader_channels.venues.bybit.tickers import tickers_batches

    frames = [
        BYBIT_SNAPSHOT,
        _bybit_delta(1673272861786, bid1Price="17215.00"),
        _bybit_delta(1673272861886, markPrice="17218.00", indexPrice="17220.10"),
    ]
    path = tmp_path / "tickers.jsonl"
    path.write_text("".join(f"{i + 1} {json.dumps(f)}\n" for i, f in enumerate(frames)))
    rows = next(b.to_pylist() for b, _ in tickers_batches(str(path), "derivative", BYBIT_SYM))
    derivs = LiveDerivatives(derivative_venue("bybit", BYBIT_SYM), "", LiveDataValidator())
    live = [e for t in asyncio.run(_bybit_tickers(frames)) for e in derivs.event(t, BYBIT_SYM, 0)]
    keys = ("timestamp", "mark_price", "index_price", "funding_rate", "next_funding_ts")
    assert [tuple(r[k] for k in keys) for r in rows] == [
        (e.timestamp, e.mark_price, e.index_price, e.funding_rate, e.next_funding_ts) for e in live
    ]


def test_a_mark_that_is_not_positive_is_refused_and_recorded():
    validator = LiveDataValidator()
    derivs = LiveDerivatives(derivative_venue("binanceusdm", SYM), "", validator)
    (ticker,) = asyncio.run(_binance_tickers([mark_frame(T0, "0")]))
    assert derivs.event(ticker, SYM, 0) == []
    assert validator.report()[f"derivative:{SYM}"]["non_positive_price"] == 1


def test_frame_kind_counts_mark_price_and_tickers_frames_as_derivative():
    assert binance_stream.frame_kind(mark_frame(T0, "1")) == ("derivative", "ETHUSDT")
    combined = {"stream": "ethusdt@markPrice@1s", "data": mark_frame(T0, "1")}
    assert binance_stream.frame_kind(combined) == ("derivative", "ETHUSDT")
    assert bybit_stream.frame_kind(BYBIT_SNAPSHOT) == ("derivative", "BTCUSDT")
    assert bybit_stream.frame_kind({"topic": "orderbook.1.BTCUSDT"}) == ("quote", "BTCUSDT")


# ---- refusals ------------------------------------------------------------------------------------
def test_a_derivative_channel_on_a_spot_symbol_or_a_venue_without_marks_is_refused():
    with pytest.raises(ValueError, match=r"'BTC/USDT'.*'bybit'.*spot symbol"):
        CCXTLiveFeed(ccxtpro.bybit(), ["BTC/USDT"], channels=["derivative"])
    with pytest.raises(ValueError, match=r"'BTC/USDT:USDT'.*'kraken'.*no mark-price stream"):
        CCXTLiveFeed(ccxtpro.kraken(), ["BTC/USDT:USDT"], channels=["tick", "derivative"])
    feed = CCXTLiveFeed(ccxtpro.binanceusdm(), [SYM], channels=["derivative"], venue=True)
    assert feed.channel_keys == [("derivative", SYM, "binanceusdm")]
    feed = CCXTLiveFeed(ccxtpro.bybit(), ["BTC/USDT"], channels=["tick"])  # no derivative: fine
    assert feed.derivatives is None
    assert feed.funding is None


# ---- settlements ---------------------------------------------------------------------------------
def D(ts, mark, rate=0.0001, nxt=T0 * MS):
    return DerivativeEvent(ts, mark, NAN, rate, nxt, SYM, ts)


def Tk(ts, price):
    return TickEvent(ts, price, 1.0, "buy", None, SYM, ts)


def _live_order(batches):
    """The events a feed delivers for ``batches`` (arrival order), settlements included, as
    the funding clock adds them."""
    clock, out = FundingClock(""), []
    for batch in batches:
        due = clock.due(batch)
        clock.delivered(due)
        out.extend(due)
        out.extend(batch)
        clock.delivered([e for e in batch if isinstance(e, DerivativeEvent)])
    return out


def test_the_update_moving_the_next_funding_time_is_preceded_by_one_settlement():
    t = T0 * MS
    nxt = T1 * MS
    out = _live_order(
        [
            [D(t - 2000, 2500.0)],
            [D(t - 1000, 2501.0, 0.0002)],
            [D(t + 1000, 2503.0, 0.0003, nxt)],
            [D(t + 2000, 2504.0, 0.0003, nxt)],
        ]
    )
    settlements = [e for e in out if e.is_settlement]
    assert len(settlements) == 1
    s = settlements[0]
    assert out.index(s) == 2  # before the update that shows the new next time
    # at the funding time, at the rate and the mark in force then (the last before the update)
    assert (s.timestamp, s.funding_ts, s.funding_rate, s.mark_price) == (t, t, 0.0002, 2501.0)


def test_a_trade_past_the_funding_time_brings_the_settlement_first_with_the_last_mark():
    t = T0 * MS
    out = _live_order([[D(t - 1000, 2501.0)], [Tk(t - 10, 2500.0), Tk(t + 10, 2502.0)],
                       [D(t + 500, 2503.0, 0.0003, T1 * MS)]])  # fmt: skip
    kinds = [(e.channel_type, e.is_settlement if isinstance(e, DerivativeEvent) else None)
             for e in out]  # fmt: skip
    assert kinds == [("derivative", False), ("derivative", True), ("tick", None), ("tick", None),
                     ("derivative", False)]  # fmt: skip
    s = out[1]
    assert (s.timestamp, s.funding_ts, s.funding_rate, s.mark_price) == (t, t, 0.0001, 2501.0)


def _funding_run(events, actions):
    """A recorded run of ``events`` (a long position opened at the first trade) and its
    funding report."""
    from tests.broker.test_perp_accounts import LINEAR

    c = btch.Cerebro(stdstats=False)
    c.setbroker(btch.TickBroker())
    c.broker.setcash(10_000.0)
    c.broker.addcommissioninfo(btch.PerpetualCommInfo(LINEAR, leverage=10), name=SYM)
    ticks = [e for e in events if e.channel_type == "tick"]
    derivs = [e for e in events if e.channel_type == "derivative"]
    c.add_channel("tick", symbol=SYM, dataname=ticks)
    c.add_channel("derivative", symbol=SYM, dataname=derivs)
    c.addstrategy(_Buyer)
    c.run(mode=btch.RunMode.TICK)
    return c.last_run["funding"][SYM], c.broker.getcash()


class _Buyer(bt.Strategy):
    def on_tick(self, t):
        if not self.position and not getattr(self, "bought", False):
            self.bought = True
            self.buy(size=2)


@pytest.mark.parametrize("with_trades", [True, False])
def test_live_settlements_pay_what_the_recorded_path_pays_and_nothing_is_ignored(with_trades):
    """The same frames, recorded (the broker settles by its own rule) and live (the feed's
    settlement events first): the same funding, once, with no settlement ignored."""
    t = T0 * MS
    batches = [[Tk(t - 5000, 2500.0)], [D(t - 4000, 2500.0, 0.0002)], [Tk(t - 3000, 2500.5)]]
    if with_trades:
        batches += [[Tk(t + 100, 2501.0), Tk(t + 200, 2501.5)]]
    batches += [[D(t + 700, 2504.0, 0.0003, T1 * MS)], [Tk(t + 900, 2503.0)]]
    recorded = [e for b in batches for e in b]
    live = _live_order(batches)
    assert sum(isinstance(e, DerivativeEvent) and e.is_settlement for e in live) == 1
    rec_funding, rec_cash = _funding_run(recorded, {})
    live_funding, live_cash = _funding_run(live, {})
    assert rec_funding["count"] == 1
    assert live_funding == rec_funding
    assert live_funding["ignored"] == 0
    assert live_cash == pytest.approx(rec_cash)


def test_the_feed_delivers_the_settlement_before_the_event_that_passes_the_time():
    """Through the feed's own delivery (validator, queue), from the real client's tickers."""
    feed = CCXTLiveFeed(binance_usdm(), [SYM], channels=["tick", "derivative"])
    feed.queue = LiveEventQueue()
    frames = [mark_frame(T0 - 2000, "2500.00"), mark_frame(T0 + 1000, "2503.00", "0.0003", T1)]
    tickers = asyncio.run(_binance_tickers(frames))
    assert feed.derivatives is not None
    feed._deliver(feed.derivatives.event(tickers[0], SYM, (T0 - 1990) * MS))
    feed._deliver([Tk((T0 - 10) * MS, 2500.0), Tk((T0 + 10) * MS, 2501.0)])
    feed._deliver(feed.derivatives.event(tickers[1], SYM, (T0 + 1010) * MS))
    out = feed.queue.pop_many(100, timeout=0)
    assert [e.channel_type for e in out] == ["derivative", "tick", "derivative", "tick",
                                             "derivative"]  # fmt: skip
    s = out[2]
    assert s.is_settlement
    assert s.funding_ts == T0 * MS
    assert s.mark_price == 2500.0
    assert s.funding_rate == 0.0001
    assert feed.anomaly_report() == {}


# ---- end to end: the loopback Binance USDⓈ-M ---------------------------------------------------
class _Marks(bt.Strategy):
    def start(self):
        self.marks = []
        self.settlements = []
        self.deriv = self.channels.get(("derivative", SYM))

    def on_event(self, ev):
        if ev.channel_type != "derivative":
            return
        assert isinstance(ev, DerivativeEvent)
        (self.settlements if ev.is_settlement else self.marks).append(ev)
        if len(self.marks) >= 3:
            self.env.runstop()


def test_a_live_run_on_the_loopback_usdm_sees_mark_prices():
    try:  # (being written: the name may be missing, or its module not importable yet)
        server_cls = getattr(loopback, "BinanceFuturesLoopback", None)
        point = getattr(loopback, "point_binance_futures_at", None)
    except ImportError as exc:
        pytest.skip(f"no futures loopback yet ({exc})")
    if server_cls is None or point is None:
        pytest.skip("no futures loopback yet")
    server = server_cls()
    port = server.start()
    try:
        ex = point(ccxtpro.binanceusdm(), port)
        feed = CCXTLiveFeed(ex, [SYM], channels=["derivative"], stall_timeout=5.0)
        cerebro = btch.Cerebro()
        cerebro.add_live_feed(feed)
        cerebro.addstrategy(_Marks)
        strat = cerebro.run(mode=btch.RunMode.TICK, duration=60.0)[0]
    finally:
        server.stop()
    assert feed.error is None
    assert len(strat.marks) >= 3, feed.silent_streams()
    assert isinstance(strat.deriv, btch.channels.DerivativeChannel)
    assert all(m.mark_price > 0 and m.symbol == SYM for m in strat.marks)
    assert [m.timestamp for m in strat.marks] == sorted(m.timestamp for m in strat.marks)
    assert strat.deriv.mark_price == strat.marks[-1].mark_price
    assert strat.deriv.next_funding_ts is not None
