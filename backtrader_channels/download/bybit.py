"""Bybit's public archive downloaded into ``--dest``.

Layouts (checked against public users of the archive; Bybit documents none of them):

| kind | URL |
|---|---|
| derivatives trades (linear, inverse) | ``https://public.bybit.com/trading/{SYMBOL}/{SYMBOL}{YYYY-MM-DD}.csv.gz`` |
| spot trades | ``https://public.bybit.com/spot/{SYMBOL}/{SYMBOL}_{YYYY-MM-DD}.csv.gz`` |
| order book, derivatives | ``https://quote-saver.bycsi.com/orderbook/linear/{SYMBOL}/{YYYY-MM-DD}_{SYMBOL}_ob500.data.zip`` (also ``ob200``) |
| order book, spot | ``https://quote-saver.bycsi.com/orderbook/spot/{SYMBOL}/{YYYY-MM-DD}_{SYMBOL}_ob200.data.zip`` |

Not confirmed: whether spot trades are still published per day (some users report monthly
files under ``public.bybit.com/spot/{SYMBOL}/``; only the daily name is fetched here), and
``orderbook/inverse/`` (inverse books are fetched from there by analogy with ``linear``).

Bybit publishes no checksums: a trade file is checked by decompressing it whole (gzip's own
CRC), a book archive by ``zipfile.testzip`` (each member's CRC), and ``manifest.json`` in
``--dest`` keeps the sha256 of everything fetched. A mirror (``--base-url``,
``$BTCH_BYBIT_ARCHIVE_URL``) serves both hosts' paths from one base: ``{base}/trading/...``,
``{base}/spot/...`` and ``{base}/orderbook/...``.
"""  # noqa: E501

from __future__ import annotations

import datetime as dt
import gzip
import os
import zipfile
import zlib
from collections.abc import Callable

from .plan import Item, periods
from .run import Downloader, DownloadSummary

TRADES_URL = "https://public.bybit.com"
BOOKS_URL = "https://quote-saver.bycsi.com"
ENV_URL = "BTCH_BYBIT_ARCHIVE_URL"
KINDS = ("trades", "orderbook")
CATEGORIES = ("linear", "inverse", "spot")


def bybit_items(
    symbols: list[str],
    kinds: list[str],
    start: dt.date,
    end: dt.date,
    category: str = "linear",
    base: str | None = None,
    raw: bool = False,
    depth: int | None = None,
    today: dt.date | None = None,
) -> list[Item]:
    """The archive files (daily) of ``symbols`` x ``kinds`` from ``start`` to ``end``."""
    if category not in CATEGORIES:
        raise ValueError(f"--category {category!r}: one of {', '.join(CATEGORIES)}")
    if not kinds:
        raise ValueError("--kinds: give at least one kind")
    for k in kinds:
        if k not in KINDS:
            raise ValueError(f"--kinds: unknown kind {k!r}; Bybit's are {', '.join(KINDS)}")
    spot = category == "spot"
    depth = depth or (200 if spot else 500)
    if depth not in (200, 500) or (spot and depth != 200):
        raise ValueError(f"--depth {depth}: 500 or 200 (linear, inverse), 200 (spot)")
    given = (base or os.environ.get(ENV_URL) or "").rstrip("/")
    trades_base, books_base = given or TRADES_URL, given or BOOKS_URL
    items: list[Item] = []
    for symbol in (s.upper() for s in symbols):
        for kind in kinds:
            for p in periods(start, end, "daily", today):
                day = p.label
                if kind == "trades":
                    folder = "spot" if spot else "trading"
                    name = f"{symbol}_{day}.csv.gz" if spot else f"{symbol}{day}.csv.gz"
                    rel, url_base = f"{folder}/{symbol}/{name}", trades_base
                else:
                    name = f"{day}_{symbol}_ob{depth}.data.zip"
                    rel, url_base = f"orderbook/{category}/{symbol}/{name}", books_base
                root = None if raw else ""
                items.append(
                    Item(
                        "bybit",
                        kind,
                        symbol,
                        category,
                        p,
                        f"{url_base}/{rel}",
                        rel,
                        None,
                        root,
                        name,
                    )
                )
    return items


def integrity_check(item: Item, path: str, expected: str | None = None) -> str | None:
    """None when the fetched file decompresses whole (gzip) or its members' CRCs hold (zip);
    else what is wrong."""
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                while fh.read(1 << 20):
                    pass
        elif path.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
            if bad is not None:
                return f"{item.name}: damaged zip (member {bad} fails its CRC)"
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
        return f"{item.name}: damaged or cut short ({exc})"
    return None


def download_bybit(
    symbols: list[str],
    kinds: list[str],
    start: dt.date,
    end: dt.date,
    dest: str,
    category: str = "linear",
    base_url: str | None = None,
    raw: bool = False,
    depth: int | None = None,
    jobs: int = 4,
    progress: bool | None = None,
    retries: int = 3,
    backoff: float = 0.5,
    echo: Callable[[str], None] = print,
    today: dt.date | None = None,
) -> DownloadSummary:
    """Download Bybit's public archive into ``dest``, converted (or ``raw``).

    Parameters
    ----------
    symbols : list of str
        Bybit symbols (``BTCUSDT``).
    kinds : list of str
        ``trades`` and/or ``orderbook``.
    start, end : datetime.date
        The days, both included (``end`` is cut at yesterday, UTC).
    dest : str
        The destination (the partitioned layout, ``raw/bybit/...``, ``manifest.json``).
    category : {"linear", "inverse", "spot"}
        The market.
    base_url : str, optional
        A mirror of both hosts (also ``$BTCH_BYBIT_ARCHIVE_URL``).
    raw : bool
        Keep the files as downloaded instead of converting them.
    depth : {500, 200}, optional
        The book archive's depth (500 for derivatives, 200 for spot by default).
    jobs, progress, retries, backoff, echo, today
        As :func:`~.binance.download_binance`.

    Returns
    -------
    DownloadSummary

    Raises
    ------
    ValueError
        A bad argument (the message names its option).
    DownloadError
        After the rest was done, when files could not be fetched or were damaged twice.
    """
    from .binance import finish

    if not symbols:
        raise ValueError("--symbol: give at least one symbol")
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    items = bybit_items(symbols, kinds, start, end, category, base_url, raw, depth, today)
    run = Downloader(dest, integrity_check, jobs, progress, retries, backoff, echo)
    return finish(run.run(items))
