"""Binance's public data archive (data.binance.vision) downloaded into ``--dest``.

The archive's layout, as the binance/binance-public-data README and the site give it::

    data/{spot|futures/um|futures/cm}/{daily|monthly}/{kind}/{SYMBOL}/{SYMBOL}-{kind}-{YYYY-MM-DD|YYYY-MM}.zip
    data/futures/um/{daily|monthly}/markPriceKlines/{SYMBOL}/1m/{SYMBOL}-1m-{YYYY-MM-DD|YYYY-MM}.zip

each zip holding one CSV, beside it ``<zip>.CHECKSUM`` (``<sha256>  <file name>``). Daily files
come out the day after, monthly ones early in the next month. The folder listing is the S3
bucket's (``https://s3-ap-northeast-1.amazonaws.com/data.binance.vision?delimiter=/&prefix=
data/spot/daily/trades/BTCUSDT/``: XML ``ListBucketResult``, 1,000 keys a page), read by
:func:`list_archive`.

| kind | markets | files | stored |
|---|---|---|---|
| trades, aggTrades | spot, um, cm | daily, monthly | converted (tick channel) |
| fundingRate | um, cm | monthly only | converted (derivative channel: settlements) |
| markPriceKlines, indexPriceKlines, premiumIndexKlines | um, cm | daily, monthly, per interval | converted (derivative channel) |
| bookTicker | um, cm (Binance stopped publishing it in 2024) | daily, monthly | raw |
| bookDepth, metrics | um, cm | daily | raw |

Kinds that become the same channel go to separate folders: the tick channel under ``--dest`` is
``trades`` (``aggTrades`` too when trades are not asked for, else under ``dest/aggTrades/``); the
derivative channel is ``fundingRate`` (else the first kline kind asked for), the other kline
kinds under ``dest/<kind>/``. Kinds no channel reads are kept as downloaded, under
``dest/raw/binance/...``, as every kind is with ``raw=True``.
"""  # noqa: E501

from __future__ import annotations

import datetime as dt
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from .fetch import DownloadError, NotFound, get_text
from .plan import Cadence, Item, Period, day_period, periods
from .run import Downloader, DownloadSummary, sha256_check

BASE_URL = "https://data.binance.vision"
LISTING_URL = "https://s3-ap-northeast-1.amazonaws.com/data.binance.vision"
ENV_URL = "BTCH_BINANCE_ARCHIVE_URL"
#: ``--market`` -> the archive's folder and the package's market name
MARKETS = {
    "spot": ("spot", "spot"),
    "um": ("futures/um", "linear"),
    "cm": ("futures/cm", "inverse"),
}
FUTURES = ("um", "cm")
KLINES = ("markPriceKlines", "indexPriceKlines", "premiumIndexKlines")


@dataclass(frozen=True)
class Kind:
    """How the archive publishes one kind, and which channel reads it (None: kept raw)."""

    cadence: Cadence
    markets: tuple[str, ...]
    channel: str | None


KINDS: dict[str, Kind] = {
    "trades": Kind("both", ("spot", "um", "cm"), "tick"),
    "aggTrades": Kind("both", ("spot", "um", "cm"), "tick"),
    "fundingRate": Kind("monthly", FUTURES, "derivative"),
    "markPriceKlines": Kind("both", FUTURES, "derivative"),
    "indexPriceKlines": Kind("both", FUTURES, "derivative"),
    "premiumIndexKlines": Kind("both", FUTURES, "derivative"),
    "bookTicker": Kind("both", FUTURES, None),
    "bookDepth": Kind("daily", FUTURES, None),
    "metrics": Kind("daily", FUTURES, None),
}
#: per channel, the kinds in the order that gives ``--dest`` itself to the first one asked for
PREFERENCE = ("trades", "aggTrades", "fundingRate", *KLINES)


def base_url(given: str | None = None) -> str:
    """The archive's base URL: ``given``, else ``$BTCH_BINANCE_ARCHIVE_URL``, else Binance's."""
    return (given or os.environ.get(ENV_URL) or BASE_URL).rstrip("/")


def check_kinds(kinds: list[str], market: str) -> None:
    """A ValueError naming ``--kinds`` for a kind unknown or not published for ``market``."""
    if market not in MARKETS:
        raise ValueError(f"--market {market!r}: one of {', '.join(MARKETS)}")
    if not kinds:
        raise ValueError("--kinds: give at least one kind")
    for k in kinds:
        if k not in KINDS:
            raise ValueError(f"--kinds: unknown kind {k!r}; Binance's are {', '.join(KINDS)}")
        if market not in KINDS[k].markets:
            raise ValueError(
                f"--kinds: {k!r} is published for --market {' or '.join(KINDS[k].markets)}, "
                f"not {market!r}"
            )


def roots(kinds: list[str], raw: bool) -> dict[str, str | None]:
    """Each kind's folder under ``--dest`` (``""``: ``--dest`` itself; None: kept raw)."""
    out: dict[str, str | None] = {}
    taken: set[str] = set()
    for k in sorted(kinds, key=lambda k: PREFERENCE.index(k) if k in PREFERENCE else 99):
        channel = KINDS[k].channel
        if raw or channel is None:
            out[k] = None
        elif channel in taken:
            out[k] = k
        else:
            out[k] = ""
            taken.add(channel)
    return out


def _item(
    base: str, market: str, kind: str, symbol: str, period: Period, root: str | None, interval: str
) -> Item:
    folder, mkt = MARKETS[market]
    cadence = "monthly" if period.monthly else "daily"
    tag = interval if kind in KLINES else kind
    name = f"{symbol}-{tag}-{period.label}.zip"
    sub = f"{interval}/" if kind in KLINES else ""
    rel = f"data/{folder}/{cadence}/{kind}/{symbol}/{sub}{name}"
    url = f"{base}/{rel}"
    csv = f"{symbol}-{kind}-{interval}-{period.label}.csv" if kind in KLINES else name[:-4] + ".csv"
    return Item(
        "binance", kind, symbol, mkt, period, url, rel, url + ".CHECKSUM", root, csv, unzip=True
    )


def binance_items(
    symbols: list[str],
    kinds: list[str],
    start: dt.date,
    end: dt.date,
    market: str = "spot",
    base: str | None = None,
    raw: bool = False,
    interval: str = "1m",
    today: dt.date | None = None,
) -> list[Item]:
    """The archive files of ``symbols`` x ``kinds`` from ``start`` to ``end`` (a month's
    file with its days as fallback where the kind is published daily too)."""
    check_kinds(kinds, market)
    url = base_url(base)
    where = roots(kinds, raw)
    items: list[Item] = []
    for symbol in symbols:
        for kind in kinds:
            cadence = KINDS[kind].cadence
            for p in periods(start, end, cadence, today):
                it = _item(url, market, kind, symbol.upper(), p, where[kind], interval)
                if p.monthly and cadence == "both":
                    last = min(end, (today or dt.date.max) - dt.timedelta(days=1))
                    it.fallback = [
                        _item(
                            url, market, kind, symbol.upper(), day_period(d), where[kind], interval
                        )
                        for d in p.days
                        if start <= d <= last
                    ]
                items.append(it)
    return items


def download_binance(
    symbols: list[str],
    kinds: list[str],
    start: dt.date,
    end: dt.date,
    dest: str,
    market: str = "spot",
    base_url: str | None = None,
    raw: bool = False,
    jobs: int = 4,
    progress: bool | None = None,
    interval: str = "1m",
    retries: int = 3,
    backoff: float = 0.5,
    echo: Callable[[str], None] = print,
    today: dt.date | None = None,
) -> DownloadSummary:
    """Download Binance's public archive into ``dest``, converted (or ``raw``).

    Parameters
    ----------
    symbols : list of str
        Archive symbols (``BTCUSDT``; COIN-M: ``BTCUSD_PERP``).
    kinds : list of str
        ``trades``, ``aggTrades``, ``fundingRate``, ``markPriceKlines``, ``indexPriceKlines``,
        ``premiumIndexKlines``, ``bookTicker``, ``bookDepth``, ``metrics`` (module doc).
    start, end : datetime.date
        The days, both included (``end`` is cut at yesterday, UTC).
    dest : str
        The destination: the partitioned layout ``convert`` writes (``add_channel(...,
        dataname=dest)`` reads it), ``raw/binance/...`` and ``manifest.json``.
    market : {"spot", "um", "cm"}
        Spot, USDⓈ-M or COIN-M futures.
    base_url : str, optional
        A mirror of ``https://data.binance.vision`` (also ``$BTCH_BINANCE_ARCHIVE_URL``).
    raw : bool
        Keep the zips (and their ``.CHECKSUM``) as downloaded instead of converting them.
    jobs : int
        Files fetched at once.
    progress : bool or None
        A progress bar on stderr; None: when stderr is a terminal.
    interval : str
        The klines' interval (``1m``).
    retries, backoff : int, float
        Retries of a network error and the first wait in seconds (doubled each time).
    echo : callable
        Where lines for a person go (missing files, refetches).
    today : datetime.date, optional
        Today (UTC) by default: decides what can be published.

    Returns
    -------
    DownloadSummary
        Fetched, skipped (already there), missing, bytes, rows converted.

    Raises
    ------
    ValueError
        A bad argument (the message names its option).
    DownloadError
        After the rest was done, when files could not be fetched or failed their checksum
        twice (each named); its ``summary`` is the run's.
    """
    if not symbols:
        raise ValueError("--symbol: give at least one symbol")
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    items = binance_items(symbols, kinds, start, end, market, base_url, raw, interval, today)
    run = Downloader(dest, sha256_check, jobs, progress, retries, backoff, echo)
    return finish(run.run(items))


def finish(summary: DownloadSummary) -> DownloadSummary:
    """``summary``, or a DownloadError carrying it when files failed."""
    if summary.failed:
        err = DownloadError("; ".join(summary.failed))
        err.summary = summary  # type: ignore[attr-defined]
        raise err
    return summary


def list_archive(prefix: str, base: str | None = None) -> tuple[list[tuple[str, int]], list[str]]:
    """One folder of the archive: ``([(key, size), ...], [sub-folder prefixes])``, every page.

    Parameters
    ----------
    prefix : str
        ``data/spot/daily/trades/BTCUSDT/`` (ending in ``/``).
    base : str, optional
        A mirror (``$BTCH_BINANCE_ARCHIVE_URL``): its listing is at the same base; Binance's
        is the S3 bucket's.
    """
    given = base or os.environ.get(ENV_URL)
    listing = given.rstrip("/") + "/" if given else LISTING_URL
    ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
    files: list[tuple[str, int]] = []
    folders: list[str] = []
    marker = ""
    while True:
        url = f"{listing}?delimiter=/&prefix={quote(prefix)}" + (
            f"&marker={quote(marker)}" if marker else ""
        )
        try:
            root = ET.fromstring(get_text(url))
        except NotFound:
            return [], []
        except ET.ParseError as exc:
            raise DownloadError(f"{url}: not an S3 listing: {exc}") from None
        files += [
            (c.findtext(f"{ns}Key", ""), int(c.findtext(f"{ns}Size", "0")))
            for c in root.iter(f"{ns}Contents")
        ]
        folders += [p.findtext(f"{ns}Prefix", "") for p in root.iter(f"{ns}CommonPrefixes")]
        if root.findtext(f"{ns}IsTruncated") != "true":
            return files, folders
        marker = root.findtext(f"{ns}NextMarker") or (files[-1][0] if files else "")
