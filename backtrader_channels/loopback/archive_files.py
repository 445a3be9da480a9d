"""The loopback archive's files, made from the bundled recordings in the archives' real
formats, on the days asked for (each day a slice of a recording, moved to that day).

| archive path | made from |
|---|---|
| Binance ``data/spot/{daily,monthly}/{trades,aggTrades}/{BTCUSDT,ETHUSDT}/...zip`` | the spot BTC/USDT sample's trades; ETHUSDT: the perp sample's (headerless spot layout) |
| Binance ``data/futures/um/...`` ``trades``, ``aggTrades`` | the same trades, futures layout (a header row) |
| Binance ``data/futures/um/...`` ``bookTicker`` | the perp sample's best bid/ask |
| Binance ``data/futures/cm/...`` ``trades``, ``fundingRate`` of ``ETHUSD_PERP`` | the ETH perp sample's trades in COIN-M's layout (``base_qty``), generated funding |
| Binance ``fundingRate`` (monthly), ``{mark,index,premiumIndex}PriceKlines/1m``, ``bookDepth``, ``metrics`` | generated, smooth and deterministic (three fundings a day at 0.01% +- a little) |
| Bybit ``trading/BTCUSDT/BTCUSDT{day}.csv.gz``, ``orderbook/linear/BTCUSDT/{day}_BTCUSDT_ob500.data.zip`` | the bundled Bybit-format sample, its times moved by whole days (books: its first 600 messages) |
| Bybit ``spot/BTCUSDT/BTCUSDT_{day}.csv.gz``, ``orderbook/spot/.../ob200`` | the BTC/USDT sample's trades in the spot layout; the same books as ``orderbook.200`` |

Everything is deterministic (zip and gzip times fixed): the same day gives the same bytes, so
checksums hold across servers. A daily file exists for each of ``days`` before ``today``; a
monthly file for each month before today's with at least one such day, unless listed in
``unpublished``.
"""  # noqa: E501

from __future__ import annotations

import datetime as dt
import functools
import gzip
import io
import math
import re
import zipfile
from collections.abc import Callable, Iterable

from ..datasets import binance_btcusdt_sample, binance_ethusdt_perp_sample, bybit_btcusdt_sample
from ..events import QuoteEvent, TickEvent
from ..sources.formats import open_source

DAY_NS = 86_400_000_000_000
MS = 1_000_000
#: the default archive: the last days of June 2024 to 2024-08-03, "today" 2024-08-04
FIRST_DAY, LAST_DAY, TODAY = dt.date(2024, 6, 28), dt.date(2024, 8, 3), dt.date(2024, 8, 4)
SAMPLE_DAY = dt.date(2024, 8, 8)
SPOT_TRADES = "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match"
UM_TRADES = "id,price,qty,quote_qty,time,is_buyer_maker"
CM_TRADES = "id,price,qty,base_qty,time,is_buyer_maker"
UM_AGG = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
FUNDING = "calc_time,funding_interval_hours,last_funding_rate"
KLINE = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
    "taker_buy_quote_volume,ignore"
)
BOOK_TICKER = (
    "update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time"
)
BOOK_DEPTH = "timestamp,percentage,depth,notional"
METRICS = (
    "create_time,symbol,sum_open_interest,sum_open_interest_value,"
    "count_toptrader_long_short_ratio,sum_toptrader_long_short_ratio,count_long_short_ratio,"
    "sum_taker_long_short_vol_ratio"
)
BINANCE_SYMBOLS = ("BTCUSDT", "ETHUSDT")
#: COIN-M: the ETH perp sample's trades as a coin-margined perpetual's (quantities in contracts)
CM_SYMBOLS = ("ETHUSD_PERP",)
CM_KINDS = ("trades", "fundingRate")
UM_KINDS = (
    "trades",
    "aggTrades",
    "bookTicker",
    "fundingRate",
    "markPriceKlines",
    "indexPriceKlines",
    "premiumIndexKlines",
    "bookDepth",
    "metrics",
)
KLINES = ("markPriceKlines", "indexPriceKlines", "premiumIndexKlines")
DAILY_ONLY, MONTHLY_ONLY = ("bookDepth", "metrics"), ("fundingRate",)
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


@functools.cache
def _trades(symbol: str) -> tuple[TickEvent, ...]:
    sample = binance_btcusdt_sample() if symbol == "BTCUSDT" else binance_ethusdt_perp_sample()
    sym = sample.symbol
    return tuple(e for _, chunk in open_source(sample.trades, "tick", sym) for e in chunk)


@functools.cache
def _quotes() -> tuple[QuoteEvent, ...]:
    sample = binance_ethusdt_perp_sample()
    assert sample.quotes is not None
    return tuple(e for _, c in open_source(sample.quotes, "quote", sample.symbol) for e in c)


@functools.cache
def _bybit_sample() -> tuple[list[str], list[str]]:
    """The Bybit sample's trade lines (header first) and its first 600 book messages."""
    s = bybit_btcusdt_sample()
    with gzip.open(s.trades, "rt", encoding="utf-8") as fh:
        trades = fh.read().splitlines()
    with zipfile.ZipFile(s.orderbook) as zf:
        lines = zf.read(zf.namelist()[0]).decode("utf-8").splitlines()[:600]
    return trades, lines


def _zip(member: str, text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo(member, _ZIP_TIME), text.encode("utf-8"), zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def _gzip(text: str) -> bytes:
    return gzip.compress(text.encode("utf-8"), mtime=0)


def _day_ns(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days * DAY_NS


class ArchiveFiles:
    """The files of a loopback archive (made when first asked for, then kept).

    Parameters
    ----------
    days : iterable of datetime.date, optional
        The days with data (by default 2024-06-28 to 2024-08-03: two months and a bit).
    today : datetime.date
        The archive's today: no file of it or later, no monthly file of its month.
    unpublished : iterable of str
        Months (``YYYY-MM``) whose monthly files are not out yet (their days are).
    rows_per_day : int
        Trades per day (a slice of the recording).
    """

    def __init__(
        self,
        days: Iterable[dt.date] | None = None,
        today: dt.date = TODAY,
        unpublished: Iterable[str] = (),
        rows_per_day: int = 300,
    ) -> None:
        if days is None:
            days = [FIRST_DAY + dt.timedelta(d) for d in range((LAST_DAY - FIRST_DAY).days + 1)]
        self.days = sorted(d for d in days if d < today)
        self.today, self.unpublished = today, set(unpublished)
        self.rows_per_day = rows_per_day
        self._cache: dict[str, bytes | None] = {}
        self._makers = self._catalog()

    # ---- what exists ------------------------------------------------------------------------
    def months(self) -> list[str]:
        """The months with a published monthly file."""
        ms = sorted({d.strftime("%Y-%m") for d in self.days})
        return [m for m in ms if m < self.today.strftime("%Y-%m") and m not in self.unpublished]

    def paths(self) -> list[str]:
        """Every file's path in the archive (``.CHECKSUM`` files not included), sorted."""
        return sorted(self._makers)

    def get(self, path: str) -> bytes | None:
        """A file's bytes (a ``.CHECKSUM``: the zip's ``<sha256>  <name>``), None if absent."""
        if path in self._cache:
            return self._cache[path]
        out: bytes | None = None
        if path.endswith(".CHECKSUM"):
            body = self.get(path[: -len(".CHECKSUM")])
            if body is not None and path.startswith("data/"):
                import hashlib

                name = path[: -len(".CHECKSUM")].rsplit("/", 1)[-1]
                out = f"{hashlib.sha256(body).hexdigest()}  {name}\n".encode()
        elif path in self._makers:
            out = self._makers[path]()
        self._cache[path] = out
        return out

    def _catalog(self) -> dict[str, Callable[[], bytes]]:
        makers: dict[str, Callable[[], bytes]] = {}
        periods = [(d.isoformat(), [d]) for d in self.days] + [
            (m, [d for d in self.days if d.strftime("%Y-%m") == m]) for m in self.months()
        ]
        for label, days in periods:
            cadence = "monthly" if len(label) == 7 else "daily"
            for market, kinds, symbols in (
                ("spot", ("trades", "aggTrades"), BINANCE_SYMBOLS),
                ("futures/um", UM_KINDS, BINANCE_SYMBOLS),
                ("futures/cm", CM_KINDS, CM_SYMBOLS),
            ):
                for kind in kinds:
                    if (cadence == "daily" and kind in MONTHLY_ONLY) or (
                        cadence == "monthly" and kind in DAILY_ONLY
                    ):
                        continue
                    for sym in symbols:
                        tag, sub = ("1m", "1m/") if kind in KLINES else (kind, "")
                        name = f"{sym}-{tag}-{label}"
                        path = f"data/{market}/{cadence}/{kind}/{sym}/{sub}{name}.zip"
                        makers[path] = functools.partial(
                            self._binance, market, kind, sym, tuple(days), name
                        )
            if cadence == "daily":
                day = days[0]
                for path, fn in (
                    (f"trading/BTCUSDT/BTCUSDT{label}.csv.gz", self._bybit_trades),
                    (f"spot/BTCUSDT/BTCUSDT_{label}.csv.gz", self._bybit_spot_trades),
                    (f"orderbook/linear/BTCUSDT/{label}_BTCUSDT_ob500.data.zip", self._bybit_book),
                    (f"orderbook/spot/BTCUSDT/{label}_BTCUSDT_ob200.data.zip", self._bybit_book),
                ):
                    makers[path] = functools.partial(fn, day, path.rsplit("/", 1)[-1])
        return makers

    # ---- Binance ----------------------------------------------------------------------------
    def _binance(
        self, market: str, kind: str, sym: str, days: tuple[dt.date, ...], name: str
    ) -> bytes:
        spot = market == "spot"
        rows: list[str] = []
        for day in days:
            rows += self._rows(kind, sym, day, spot)
        header = {
            "trades": CM_TRADES if market == "futures/cm" else UM_TRADES,
            "aggTrades": UM_AGG,
            "fundingRate": FUNDING,
            "bookTicker": BOOK_TICKER,
            "bookDepth": BOOK_DEPTH,
            "metrics": METRICS,
        }.get(kind, KLINE)
        if not spot:
            rows.insert(0, header)
        return _zip(name + ".csv", "\n".join(rows) + "\n")

    def _rows(self, kind: str, sym: str, day: dt.date, spot: bool) -> list[str]:
        idx = (day - FIRST_DAY).days
        if kind in ("trades", "aggTrades"):
            trades = self._day_trades(sym, day)
            return _trade_rows(trades, spot) if kind == "trades" else _agg_rows(trades, spot)
        if kind == "bookTicker":
            return self._book_ticker(day)
        t0 = _day_ns(day) // MS
        if kind == "fundingRate":
            rates = [0.0001 + 0.00002 * math.sin(idx * 3 + h) for h in range(3)]
            return [f"{t0 + h * 28_800_000 + 1},8,{r:.8f}" for h, r in enumerate(rates)]
        if kind in KLINES:
            return _klines(kind, sym, t0, idx)
        if kind == "bookDepth":
            return [
                f"{_clock(t0, m * 1800)},{p},{1000.0 * abs(p):.8f},{2.7e6 * abs(p):.8f}"
                for m in range(48)
                for p in (-5, -4, -3, -2, -1, 1, 2, 3, 4, 5)
            ]
        return [  # metrics
            f"{_clock(t0, m * 300)},{sym},{80000 + m:.8f},{2.1e8 + m * 1000:.8f},1.5,1.2,1.8,0.95"
            for m in range(288)
        ]

    def _day_trades(self, sym: str, day: dt.date) -> list[TickEvent]:
        """A slice of the recording's trades, moved to ``day`` (from 12:00 UTC on); trade
        ids moved by 10 million a day."""
        src = _trades(sym)
        n = min(self.rows_per_day, len(src))
        idx = (day - FIRST_DAY).days
        start = (idx * 997) % (len(src) - n + 1)
        part = src[start : start + n]
        shift = _day_ns(day) + 43_200 * 10**9 + idx * 10**9 - part[0].timestamp
        return [
            e._replace(timestamp=e.timestamp + shift, trade_id=(e.trade_id or 0) + idx * 10**7)
            for e in part
        ]

    def _book_ticker(self, day: dt.date) -> list[str]:
        quotes = _quotes()[:400]
        shift = _day_ns(day) + 43_200 * 10**9 - quotes[0].timestamp
        return [
            f"{q.update_id},{q.bid_price},{q.bid_size},{q.ask_price},{q.ask_size},"
            f"{(q.timestamp + shift) // MS},{(q.timestamp + shift) // MS + 3}"
            for q in quotes
        ]

    # ---- Bybit ------------------------------------------------------------------------------
    def _bybit_trades(self, day: dt.date, name: str) -> bytes:
        lines, _ = _bybit_sample()
        delta = (day - SAMPLE_DAY).days * 86_400
        end = _day_ns(day) / 1e9 + 86_400
        out = [lines[0]]
        for line in lines[1:]:
            ts, rest = line.split(",", 1)
            if float(ts) + delta < end:  # the recording's last trades are past midnight
                out.append(f"{float(ts) + delta:.4f},{rest}")
        return _gzip("\n".join(out) + "\n")

    def _bybit_spot_trades(self, day: dt.date, name: str) -> bytes:
        out = ["id,timestamp,price,volume,side"] + [
            f"{e.trade_id},{e.timestamp // MS},{e.price},{e.volume},{e.direction}"
            for e in self._day_trades("BTCUSDT", day)
        ]
        return _gzip("\n".join(out) + "\n")

    def _bybit_book(self, day: dt.date, name: str) -> bytes:
        _, lines = _bybit_sample()
        delta = (day - SAMPLE_DAY).days * 86_400_000
        text = re.sub(
            r'"(c?ts)":(\d+)', lambda m: f'"{m[1]}":{int(m[2]) + delta}', "\n".join(lines)
        )
        if "_ob200" in name:
            text = text.replace('"orderbook.500.', '"orderbook.200.')
        return _zip(name[: -len(".zip")], text + "\n")


def _clock(t0_ms: int, seconds: int) -> str:
    """``YYYY-MM-DD HH:MM:SS`` (UTC) of ``t0_ms`` plus ``seconds`` (bookDepth, metrics)."""
    when = dt.datetime.fromtimestamp(t0_ms / 1e3 + seconds, dt.timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _trade_rows(trades: list[TickEvent], spot: bool) -> list[str]:
    t, f = ("True", "False") if spot else ("true", "false")
    tail = ",True" if spot else ""
    return [
        f"{e.trade_id},{e.price},{e.volume},{round(e.price * e.volume, 8)},{e.timestamp // MS},"
        f"{t if e.direction == 'sell' else f}{tail}"
        for e in trades
    ]


def _agg_rows(trades: list[TickEvent], spot: bool) -> list[str]:
    """Binance's aggregation: consecutive trades of one price, side and millisecond."""
    t, f = ("True", "False") if spot else ("true", "false")
    tail = ",True" if spot else ""
    rows: list[str] = []
    i = 0
    while i < len(trades):
        j, first = i, trades[i]
        qty = 0.0
        while j < len(trades) and (
            trades[j].price,
            trades[j].direction,
            trades[j].timestamp // MS,
        ) == (first.price, first.direction, first.timestamp // MS):
            qty += trades[j].volume
            j += 1
        last = trades[j - 1]
        rows.append(
            f"{(first.trade_id or 0) // 3},{first.price},{round(qty, 8)},{first.trade_id},"
            f"{last.trade_id},{first.timestamp // MS},{t if first.direction == 'sell' else f}"
            f"{tail}"
        )
        i = j
    return rows


def _klines(kind: str, sym: str, t0: int, idx: int) -> list[str]:
    base = 61800.0 if sym == "BTCUSDT" else 2680.0
    rows = []
    for m in range(1440):
        if kind == "premiumIndexKlines":
            c = 0.0001 + 0.0003 * math.sin((idx * 1440 + m) / 200)
            o = h = lo = c
            fmt = "{:.8f}"
        else:
            c = base * (1 + 0.01 * math.sin((idx * 1440 + m) / 300))
            c = c / 1.0002 if kind == "indexPriceKlines" else c
            o, h, lo = c, c * 1.0001, c * 0.9999
            fmt = "{:.2f}"
        start = t0 + m * 60_000
        vals = ",".join(fmt.format(v) for v in (o, h, lo, c))
        rows.append(f"{start},{vals},0,{start + 59_999},0,60,0,0,0")
    return rows
