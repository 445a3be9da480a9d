"""A loopback of Tardis.dev's datasets API (``https://datasets.tardis.dev``), served by
:class:`~.archive.ArchiveServer` beside the venues' archives::

    /v1/{exchange}/{data_type}/{YYYY}/{MM}/{DD}/{SYMBOL}.csv.gz

Its files are made from the bundled recordings in Tardis's CSV formats (the header
``exchange,symbol,timestamp,local_timestamp,...``, times in microseconds):

| exchange | symbols | data types | made from |
|---|---|---|---|
| ``binance-futures``, ``binance`` | ``BTCUSDT`` | ``trades``, ``incremental_book_L2``, ``quotes``, ``derivative_ticker`` (futures) | the spot BTC/USDT sample (derivative: the perp sample's, scaled) |
| ``binance-futures`` | ``ETHUSDT`` | the same | the ETH/USDT perp sample |

Each day's file is the first ``seconds`` of the recording (received time, from its book
snapshot on) moved to end half a second before midnight (received time), as Tardis splits its
files by ``local_timestamp``: the last rows' exchange times fall on the next day. Trade ids move
by 10 million a day. Everything is deterministic (gzip time fixed).

As Tardis does, a day other than the first of a month needs ``Authorization: Bearer <key>``
with a key of ``api_keys`` (else HTTP 401); a file not in the archive is a 404; a day in
``empty_days`` is an empty gzip (Tardis's answer for a day without data).
"""  # noqa: E501

from __future__ import annotations

import datetime as dt
import functools
import gzip
import json
import re
from collections.abc import Iterable

from aiohttp import web

from ..datasets import Sample, binance_btcusdt_sample, binance_ethusdt_perp_sample
from ..events import DerivativeEvent, OrderBookEvent, QuoteEvent, TickEvent
from ..sources.formats import open_source
from .archive_files import FIRST_DAY, LAST_DAY, TODAY

#: the datasets API's paths start with it
PREFIX = "v1/"
PATH = re.compile(r"v1/([^/]+)/([^/]+)/(\d{4})/(\d{2})/(\d{2})/([^/]+)\.csv\.gz")
HEAD = "exchange,symbol,timestamp,local_timestamp"
HEADERS = {
    "trades": f"{HEAD},id,side,price,amount",
    "incremental_book_L2": f"{HEAD},is_snapshot,side,price,amount",
    "quotes": f"{HEAD},ask_amount,ask_price,bid_price,bid_amount",
    "derivative_ticker": f"{HEAD},funding_timestamp,funding_rate,predicted_funding_rate,"
    "open_interest,last_price,index_price,mark_price",
}
#: exchange -> {symbol: the recording it is made from}; which data types it has
EXCHANGES: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "binance-futures": ({"BTCUSDT": "btc", "ETHUSDT": "eth"}, tuple(HEADERS)),
    "binance": ({"BTCUSDT": "btc"}, ("trades", "incremental_book_L2", "quotes")),
}
#: the default key the loopback accepts
API_KEY = "td-loopback-key"
DAY_US = 86_400_000_000
US = 1000


def _sample(name: str) -> Sample:
    return binance_btcusdt_sample() if name == "btc" else binance_ethusdt_perp_sample()


@functools.cache
def _recording(name: str) -> dict[str, tuple[object, ...]]:
    """The recording's events by channel (derivative: the perp sample's for both)."""
    s = _sample(name)
    out: dict[str, tuple[object, ...]] = {}
    for channel, path in (("tick", s.trades), ("orderbook", s.orderbook), ("quote", s.quotes)):
        assert path is not None
        out[channel] = tuple(e for _, c in open_source(path, channel, s.symbol) for e in c)
    perp = binance_ethusdt_perp_sample()
    assert perp.derivative is not None
    out["derivative"] = tuple(
        e for _, c in open_source(perp.derivative, "derivative", perp.symbol) for e in c
    )
    return out


def _recv(e: object) -> int:
    rt = getattr(e, "recv_timestamp", None)
    return int(rt if rt is not None else e.timestamp)  # type: ignore[attr-defined]


class TardisFiles:
    """The loopback datasets API's files (made when first asked for, then kept).

    Parameters
    ----------
    days : iterable of datetime.date, optional
        The days with data (by default those of :class:`~.archive_files.ArchiveFiles`:
        2024-06-28 to 2024-08-03).
    api_keys : iterable of str
        The keys accepted for the days that need one.
    seconds : float
        The seconds of the recording each day's file holds.
    empty_days : iterable of datetime.date
        Days served as an empty gzip (no data that day).
    """

    def __init__(
        self,
        days: Iterable[dt.date] | None = None,
        api_keys: Iterable[str] = (API_KEY,),
        seconds: float = 6.0,
        empty_days: Iterable[dt.date] = (),
    ) -> None:
        if days is None:
            days = [FIRST_DAY + dt.timedelta(d) for d in range((LAST_DAY - FIRST_DAY).days + 1)]
        self.days = {d for d in days if d < TODAY}
        self.api_keys = set(api_keys)
        self.seconds = seconds
        self.empty_days = set(empty_days)
        #: the ``Authorization`` header of every request (None: none sent)
        self.authorizations: list[str | None] = []
        self._cache: dict[str, bytes | None] = {}

    def paths(self) -> list[str]:
        """Every file's path, sorted."""
        return sorted(
            f"v1/{ex}/{kind}/{d:%Y/%m/%d}/{sym}.csv.gz"
            for ex, (symbols, kinds) in EXCHANGES.items()
            for kind in kinds
            for sym in symbols
            for d in self.days
        )

    def refusal(self, path: str, authorization: str | None) -> web.Response | None:
        """The 401 for a day that needs a key asked for without a good one, else None."""
        self.authorizations.append(authorization)
        m = PATH.fullmatch(path)
        if m is None or m[5] == "01":
            return None  # the first day of a month is free
        key = (authorization or "").removeprefix("Bearer ").strip()
        if key in self.api_keys:
            return None
        message = (
            "Invalid API key"
            if key
            else "API key is required for this request, only first day of each month is "
            "available without API key"
        )
        return web.Response(
            status=401,
            text=json.dumps({"code": 101, "message": message}),
            content_type="application/json",
        )

    def get(self, path: str) -> bytes | None:
        """A file's bytes, None if absent."""
        if path not in self._cache:
            self._cache[path] = self._make(path)
        return self._cache[path]

    def _make(self, path: str) -> bytes | None:
        m = PATH.fullmatch(path)
        if m is None or m[1] not in EXCHANGES:
            return None
        exchange, kind, symbol = m[1], m[2], m[6]
        symbols, kinds = EXCHANGES[exchange]
        try:
            day = dt.date(int(m[3]), int(m[4]), int(m[5]))
        except ValueError:
            return None
        if kind not in kinds or symbol not in symbols or day not in self.days:
            return None
        if day in self.empty_days:
            return gzip.compress(b"", mtime=0)
        rows = self._rows(exchange, kind, symbol, symbols[symbol], day)
        return gzip.compress(("\n".join([HEADERS[kind], *rows]) + "\n").encode(), mtime=0)

    def _rows(self, exchange: str, kind: str, symbol: str, name: str, day: dt.date) -> list[str]:
        rec = _recording(name)
        start = _recv(rec["orderbook"][0])  # the book's snapshot
        end = start + int(self.seconds * 1e9)
        midnight = (day - dt.date(1970, 1, 1)).days * DAY_US * US + DAY_US * US
        shift = midnight - 500_000_000 - end  # the window ends 0.5 s before midnight
        idx = (day - FIRST_DAY).days
        channel = {
            "trades": "tick",
            "incremental_book_L2": "orderbook",
            "quotes": "quote",
            "derivative_ticker": "derivative",
        }[kind]
        events = rec[channel]
        if channel == "derivative":  # the perp sample's: its own window, moved alike
            start, end = _recv(events[0]), _recv(events[0]) + int(self.seconds * 1e9)
            shift = midnight - 500_000_000 - end
        scale = 1.0
        if channel == "derivative" and name == "btc":
            scale = rec["tick"][0].price / _recording("eth")["tick"][0].price  # type: ignore[attr-defined]
        out: list[str] = []
        lead = f"{exchange},{symbol}"
        for e in events:
            r = _recv(e)
            if not start <= r < end:
                continue
            ts = (e.timestamp + shift) // US  # type: ignore[attr-defined]
            lead_t = f"{lead},{ts},{(r + shift) // US}"
            if isinstance(e, TickEvent):
                tid = (e.trade_id or 0) + idx * 10**7
                out.append(f"{lead_t},{tid},{e.direction},{e.price},{e.volume}")
            elif isinstance(e, OrderBookEvent):
                snap = "true" if e.is_snapshot else "false"
                out += [f"{lead_t},{snap},ask,{p},{q}" for p, q in e.asks]
                out += [f"{lead_t},{snap},bid,{p},{q}" for p, q in e.bids]
            elif isinstance(e, QuoteEvent):
                out.append(f"{lead_t},{e.ask_size},{e.ask_price},{e.bid_price},{e.bid_size}")
            elif isinstance(e, DerivativeEvent):
                nxt = (e.next_funding_ts + shift) // US if e.next_funding_ts else ""
                out.append(
                    f"{lead_t},{nxt},{_num(e.funding_rate)},,,,{_num(e.index_price * scale)},"
                    f"{_num(e.mark_price * scale)}"
                )
        return out


def _num(x: float) -> str:
    """A number as Tardis writes it; empty for a value not given (NaN)."""
    return "" if x != x else repr(round(x, 8))
