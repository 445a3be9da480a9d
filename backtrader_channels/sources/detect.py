"""Which reader a file needs, from its name and first line (``format=`` skips this).

| format | what | detected by |
|---|---|---|
| ``native`` | the package's schema (CSV, .csv.gz, Parquet, partitioned directory, DataFrame) | ``.parquet``; a CSV header with the native required columns |
| ``tardis`` | Tardis.dev CSV: trades, quotes, incremental_book_L2, book_snapshot_25/5 | header starting ``exchange,symbol,timestamp,local_timestamp`` |
| ``binance`` | Binance public dumps: trades, aggTrades (spot, USD-M, COIN-M; with or without header) | ``-trades-`` / ``-aggTrades-`` in the file name |
| ``binance_futures`` | Binance public dumps: fundingRate, markPriceKlines, indexPriceKlines, premiumIndexKlines (plain, gzip or zip) | ``-fundingRate-`` / ``-markPriceKlines-`` / ... in the file name |
| ``binance_ws`` | raw Binance WebSocket capture (``<receive_ns> <json>`` lines; spot and futures, mark price frames included) | first line |
| ``bybit`` | Bybit's public archive: trades (derivatives and spot CSV), ``*_ob500.data.zip`` books | book file name or first message; trade header ``timestamp,symbol,side,size,price`` / ``id,timestamp,price,volume,side`` |

Files no reader reads are named as such: cryptofeed's raw WebSocket captures (a first line
``wss://... <-> <time>``), and files of no known layout.
"""  # noqa: E501

from __future__ import annotations

import gzip
import re

from ..errors import ChannelError, DataError
from . import storage
from .batches import BROKEN, csv_header, is_csv, open_text
from .native import check_columns
from .registry import file_formats, format_names
from .schema import REQUIRED
from .tardis import tardis_kind

#: what the readers' own formats read, for messages (a venue's format describes itself)
_OWN_FORMATS = {
    "native": "the package's schema as CSV, .csv.gz or Parquet",
    "tardis": "Tardis.dev CSV",
}
#: cryptofeed's raw-data recorder: a first line ``<url> <-> <unix time>``, then frames
_CRYPTOFEED = re.compile(r"^(?P<url>(?:wss?|https?)://(?P<host>[^/\s:]+)\S*) <-> \d+(\.\d+)?$")


def supported() -> str:
    """The formats read, as a message lists them."""
    named = {**_OWN_FORMATS, **{f.name: f.describe for f in file_formats()}}
    return "; ".join(f"{k} ({v})" for k, v in named.items())


def detect_format(path: str) -> str:
    """The format of one file, or a ChannelError saying it cannot tell (or that no reader
    reads it)."""
    if storage.split_query(path)[0].endswith(".parquet"):  # (a URI may carry ?options)
        return "native"
    if storage.is_uri(path):
        raise ChannelError(
            f"{path}: over a URI only Parquet is read; convert it (backtrader-channels "
            "convert) or give a local or mounted path"
        )
    for fmt in file_formats():  # a venue's file told by its name, first line or container
        if fmt.sniff(path, None):
            return fmt.name
    _refuse_cryptofeed(path)
    if is_csv(path):
        return _csv_format(path)
    raise ChannelError(f"cannot tell the format of {path}; pass format= one of {format_names()}")


def _csv_format(path: str) -> str:
    """The format of a text file, by its header (and name)."""
    if _is_empty(path):
        raise DataError(path, "the file is empty")
    header = csv_header(path)
    if tardis_kind(header) is not None:
        return "tardis"
    for fmt in file_formats():  # a venue's CSV layout, told by its header (and name)
        if fmt.sniff(path, header):
            return fmt.name
    if any(all(c in header for c in req) for req in REQUIRED.values()):
        return "native"
    near = _nearest_native(header)
    if near is not None:  # a native file missing a column: say which, as format= would
        check_columns(path, header, near, 1)
    raise ChannelError(
        f"cannot tell the format of {path} (first line: {','.join(header)[:120]!r}); "
        f"pass format= one of {format_names()}"
    )


def cryptofeed_url(path: str) -> tuple[str, str] | None:
    """``(url, exchange)`` when ``path`` is a cryptofeed raw capture, else None."""
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                head = fh.readline(1024)
        else:
            with open(path, "rb") as fh:
                head = fh.readline(1024)
    except (*BROKEN, ValueError):
        return None
    m = _CRYPTOFEED.match(head.decode("utf-8", "replace").strip())
    if m is None:
        return None
    labels = m.group("host").split(".")
    return m.group("url"), labels[-2] if len(labels) > 1 else labels[0]


def _refuse_cryptofeed(path: str) -> None:
    found = cryptofeed_url(path)
    if found is not None:
        url, exchange = found
        raise ChannelError(
            f"{path} is a cryptofeed raw WebSocket capture of {exchange} ({url}), which no "
            f"reader of this package reads (nor format= makes it read). The formats read: "
            f"{supported()}; see docs/data.md"
        )


def _is_empty(path: str) -> bool:
    try:
        with open_text(path) as fh:
            return not fh.read(1)
    except BROKEN as exc:
        raise DataError(path, f"file is damaged or truncated: {exc}") from exc


def _nearest_native(header: list[str]) -> str | None:
    """The native channel type whose required columns ``header`` mostly has (at least the
    timestamp, another and half of them), or None."""
    best, best_have = None, 0
    for kind, req in REQUIRED.items():
        have = sum(c in header for c in req)
        if "timestamp" in header and have >= 2 and have * 2 >= len(req) and have > best_have:
            best, best_have = kind, have
    return best
