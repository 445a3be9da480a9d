"""Tardis.dev's downloadable CSV files (its datasets API) downloaded into ``--dest``.

The API, as docs.tardis.dev ("Downloadable CSV files", "API Reference") and the official
``tardis-dev`` client give it::

    GET https://datasets.tardis.dev/v1/{exchange}/{data_type}/{YYYY}/{MM}/{DD}/{SYMBOL}.csv.gz
    Authorization: Bearer <API key>

one gzip'd CSV per exchange, data type, symbol and day, split by ``local_timestamp`` (arrival
time), out the next day around 06:00 UTC; an empty gzip for a day without data. Symbols are
Tardis's ids, upper case, ``/`` and ``:`` written ``-`` (as the client does). **Without an API
key only the first day of each month is served**: any other day is refused (HTTP 401), which is
reported for that day with the hint while the rest goes on.

Why not the official ``tardis-dev`` client (PyPI): it fetches the same files, but skips any file
already on disk without checking it, cannot resume a cut transfer, gives up the whole run on the
first 401, and keeps no manifest; it would also add aiohttp/aiofiles/dateutil as run-time needs
of a download. The package's own fetcher (:mod:`.fetch`, :mod:`.run`) gives resume, retries,
the sha256 manifest, idempotence, parallel files and the progress bar, as for Binance and Bybit.
The key goes as a request header (``fetch_file(headers=...)``).

Tardis publishes no checksums: a file is checked by decompressing it whole (gzip's own CRC) and
fetched again once when that fails; ``manifest.json`` keeps the sha256 of everything fetched.

| data type | channel | stored |
|---|---|---|
| ``trades`` | tick | converted |
| ``incremental_book_L2``, ``book_snapshot_25``, ``book_snapshot_5`` | orderbook | converted |
| ``quotes`` | quote | converted |
| ``derivative_ticker`` | derivative | converted |
| ``liquidations``, ``options_chain``, ``book_ticker`` | none reads them | raw |

The venue and market of converted files are those the package registers for the Tardis
exchange (``binance-futures``: Binance linear; see :func:`~..sources.venues.tardis_market`).
Kinds of one channel go to separate folders, as for Binance: the first of ``trades``,
``incremental_book_L2``, ``book_snapshot_25``, ``book_snapshot_5`` ... gets ``--dest``, a
second kind of the same channel ``dest/<kind>/``. Raw files (``raw=True``, or a kind no channel
reads) go to ``dest/raw/tardis/{exchange}/{data_type}/{SYMBOL}/`` under the client's names
(``binance-futures_trades_2024-07-01_BTCUSDT.csv.gz``).

The API key (``--api-key``, ``$TARDIS_API_KEY``) is sent only as the request header: it is in no
URL, line printed, manifest or error message.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
from collections.abc import Callable

from ..errors import DataError
from ..sources.tardis import channel_type_of
from ..sources.venues import UNKNOWN, tardis_exchange, tardis_market
from .bybit import integrity_check
from .fetch import DownloadError, Refused, sha256_of
from .plan import Item, Period, periods
from .run import Downloader, DownloadSummary
from .store import staging_path

BASE_URL = "https://datasets.tardis.dev"
ENV_URL = "BTCH_TARDIS_URL"
ENV_KEY = "TARDIS_API_KEY"
#: the data types the readers read (their channel: :func:`~..sources.tardis.channel_type_of`)
READ = (
    "trades",
    "incremental_book_L2",
    "book_snapshot_25",
    "book_snapshot_5",
    "quotes",
    "derivative_ticker",
)
#: Tardis's other CSV data types: kept as downloaded
RAW_ONLY = ("liquidations", "options_chain", "book_ticker")
KEY_HINT = (
    "without an API key Tardis.dev serves only the first day of each month: give --api-key "
    f"KEY or set ${ENV_KEY}"
)


def base_url(given: str | None = None) -> str:
    """The API's base URL: ``given``, else ``$BTCH_TARDIS_URL``, else Tardis's."""
    return (given or os.environ.get(ENV_URL) or BASE_URL).rstrip("/")


def tardis_symbol(symbol: str) -> str:
    """A symbol as the API's paths spell it (upper case, ``/`` and ``:`` as ``-``)."""
    return symbol.replace(":", "-").replace("/", "-").upper()


def check_kinds(kinds: list[str]) -> None:
    """A ValueError naming ``--kinds`` for a data type Tardis does not publish as CSV."""
    if not kinds:
        raise ValueError("--kinds: give at least one data type")
    for k in kinds:
        if k not in READ and k not in RAW_ONLY:
            raise ValueError(
                f"--kinds: unknown Tardis data type {k!r}; one of {', '.join(READ + RAW_ONLY)}"
            )


def roots(kinds: list[str], raw: bool) -> dict[str, str | None]:
    """Each data type's folder under ``--dest`` (``""``: ``--dest`` itself; None: raw)."""
    out: dict[str, str | None] = {}
    taken: set[str] = set()
    for k in sorted(kinds, key=lambda k: READ.index(k) if k in READ else len(READ)):
        if raw or k not in READ:
            out[k] = None
            continue
        channel = channel_type_of(k)
        out[k] = k if channel in taken else ""
        taken.add(channel)
    return out


def tardis_items(
    exchange: str,
    symbols: list[str],
    kinds: list[str],
    start: dt.date,
    end: dt.date,
    base: str | None = None,
    raw: bool = False,
    today: dt.date | None = None,
) -> list[Item]:
    """The API's files (daily) of ``symbols`` x ``kinds`` from ``start`` to ``end``.

    Parameters
    ----------
    exchange : str
        Tardis's exchange id (``binance-futures``).
    symbols, kinds : list of str
        Tardis's symbols and data types.
    start, end : datetime.date
        The days, both included (``end`` cut at yesterday, UTC).
    base : str, optional
        The API's base URL (:func:`base_url`).
    raw : bool
        Keep every file as downloaded.
    today : datetime.date, optional
        Today (UTC) by default.

    Returns
    -------
    list of Item
    """
    if not exchange or "/" in exchange:
        raise ValueError(f"--exchange {exchange!r}: give Tardis's exchange id (binance-futures)")
    check_kinds(kinds)
    url = base_url(base)
    where = roots(kinds, raw)
    items: list[Item] = []
    for symbol in (tardis_symbol(s) for s in symbols):
        venue, market = "", ""
        if tardis_exchange(exchange) is not None:
            venue, market = tardis_market(exchange, symbol)
            market = "" if market == UNKNOWN else market  # convert's own guess then
        for kind in kinds:
            root = where[kind]
            for p in periods(start, end, "daily", today):
                day = p.days[0]
                name = f"{exchange}_{kind}_{p.label}_{symbol}.csv.gz"
                # days=(): a day's file replaces no other file's parts (there are no monthly
                # files, and its last rows may fall on the next day by exchange time)
                period = Period(p.label, False, ())
                items.append(
                    Item(
                        venue if root is not None else "",
                        kind,
                        symbol,
                        market,
                        period,
                        f"{url}/v1/{exchange}/{kind}/{day:%Y/%m/%d}/{symbol}.csv.gz",
                        f"tardis/{exchange}/{kind}/{symbol}/{name}",
                        None,
                        root,
                        name,
                    )
                )
    return items


def _empty(path: str) -> bool:
    """Whether a gzip file holds nothing (Tardis's answer for a day without data)."""
    try:
        with gzip.open(path, "rb") as fh:
            return not fh.read(1)
    except OSError:
        return False


class TardisDownloader(Downloader):
    """The :class:`~.run.Downloader` with the API key sent as ``Authorization: Bearer``, a
    refused day reported by name with the hint, and an empty day (no data) recorded as done.

    Parameters
    ----------
    dest : str
        The destination.
    api_key : str or None
        The key (never printed).
    jobs, progress, retries, backoff, echo
        As :class:`~.run.Downloader`.
    """

    def __init__(
        self,
        dest: str,
        api_key: str | None,
        jobs: int = 4,
        progress: bool | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        echo: Callable[[str], None] = print,
    ) -> None:
        super().__init__(dest, integrity_check, jobs, progress, retries, backoff, echo)
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def __repr__(self) -> str:
        return f"TardisDownloader({self.dest!r}, key {'given' if self.headers else 'none'})"

    def _fetch(self, item: Item, path: str) -> bool:
        """As the base's, the key sent; a 401/403 is an error naming the day and the hint."""
        try:
            return super()._fetch(item, path)
        except Refused as exc:
            hint = (
                "the API key was not accepted for it (check the key, and that its "
                "subscription covers this exchange and day)"
                if self.headers
                else KEY_HINT
            )
            raise DownloadError(
                f"{item.what}: refused by the API (HTTP {exc.code}): {hint}"
            ) from None

    def _one(self, item: Item) -> list[Item]:
        """As the base's; a day without data (an empty gzip) is recorded as done, 0 rows."""
        try:
            return super()._one(item)
        except DataError:
            path = staging_path(self.dest, item)
            if item.root is None or not os.path.exists(path) or not _empty(path):
                raise
        record: dict[str, object] = {
            "url": item.url,
            "size": os.path.getsize(path),
            "sha256": sha256_of(path),
            "kind": item.kind,
            "symbol": item.symbol,
            "period": item.period.label,
            "rows": 0,
            "parts": [],
        }
        self.manifest.put(self._key(item), record)
        if self.remote is not None:  # a destination in object storage: its manifest too
            with self._lock:
                self.remote.push_manifest()
        os.remove(path)
        self._say(f"{item.what}: no data that day (an empty file)")
        with self._lock:
            self.summary.fetched.append(item.name)
        return []


def download_tardis(
    exchange: str,
    symbols: list[str],
    kinds: list[str],
    start: dt.date,
    end: dt.date,
    dest: str,
    api_key: str | None = None,
    base_url: str | None = None,
    raw: bool = False,
    jobs: int = 4,
    progress: bool | None = None,
    retries: int = 3,
    backoff: float = 0.5,
    echo: Callable[[str], None] = print,
    today: dt.date | None = None,
) -> DownloadSummary:
    """Download Tardis.dev's CSV datasets into ``dest``, converted (or ``raw``).

    Parameters
    ----------
    exchange : str
        Tardis's exchange id (``binance-futures``, ``binance``, ``bybit``, ``deribit``, ...).
    symbols : list of str
        Tardis's symbols (``BTCUSDT``; Deribit ``BTC-PERPETUAL``).
    kinds : list of str
        Data types: ``trades``, ``incremental_book_L2``, ``book_snapshot_25``,
        ``book_snapshot_5``, ``quotes``, ``derivative_ticker`` (converted); ``liquidations``,
        ``options_chain``, ``book_ticker`` (kept raw).
    start, end : datetime.date
        The days, both included (``end`` is cut at yesterday, UTC).
    dest : str
        The destination: the partitioned layout, ``raw/tardis/...``, ``manifest.json``.
    api_key : str, optional
        The API key (else ``$TARDIS_API_KEY``; without one only the first day of each month
        is served). Sent only as a request header, never printed.
    base_url : str, optional
        The API's base (else ``$BTCH_TARDIS_URL``, else ``https://datasets.tardis.dev``).
    raw : bool
        Keep the files as downloaded instead of converting them.
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
        After the rest was done, when files could not be fetched, were refused (each day
        named, with the hint when no key was given) or were damaged twice.
    """
    from .binance import finish

    if not symbols:
        raise ValueError("--symbol: give at least one symbol")
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    items = tardis_items(exchange, symbols, kinds, start, end, base_url, raw, today)
    if tardis_exchange(exchange) is None and any(it.root is not None for it in items):
        echo(
            f"--exchange {exchange}: no venue of the package is registered for it: converted "
            f"as venue={exchange}, market unknown"
        )
    key = api_key or os.environ.get(ENV_KEY) or None
    if key is None:
        paid = sorted({it.period.label for it in items if not it.period.label.endswith("-01")})
        if paid:
            echo(f"no API key: {KEY_HINT}; asked for {len(paid)} other day(s) ({paid[0]}, ...)")
    run = TardisDownloader(dest, key, jobs, progress, retries, backoff, echo)
    return finish(run.run(items))
