"""``convert``: any supported input rewritten as partitioned native Parquet (see ``layout``).

Each channel a file holds (:mod:`.contents`) is written under its venue and market: what the
format says, else what the caller gives (``venue=``, ``market=``), else ``unknown`` (the
summary lists those).

The destination may be a URI (``s3://bucket/prefix``, ``gs://...``, ``file:///...``; see
:mod:`.storage`): each part is then written as one object, streamed as locally (memory stays
flat), and a bucket that does not exist is an error before any input is read.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TypedDict

from ..errors import ChannelError
from ..gctune import streaming_gc
from ..symbols import same_symbol
from .batches import SkipReport, expand_paths
from .contents import Content, contents, file_contents
from .formats import open_source
from .progress import ReadMeter
from .schema import Format, OnError, Paths
from .storage import check_destination, size
from .venues import UNKNOWN, Market, market_name, venue_name
from .writer import PartitionedWriter

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["FLUSH_EVENTS", "contents", "convert", "plan"]

FLUSH_EVENTS = 1_000_000


class ConvertSummary(TypedDict):
    """What :func:`convert` did (see its Returns)."""

    events: dict[str, int]
    rows_written: int
    files: int
    skipped: dict[str, dict[str, int]]
    unknown: list[str]


def plan(
    files: list[str],
    format: Format | None = None,
    symbols: list[str] | None = None,
    venue: str | None = None,
    market: Market | None = None,
) -> list[tuple[str, Content]]:
    """``(file, channel)`` for every channel to convert: the symbol spelled as in ``symbols``
    when given (only those), venue and market as the file says, else as given, else
    ``unknown``. A ChannelError when a given venue or market contradicts the file, or when no
    file holds any of ``symbols`` (naming what they hold)."""
    ven = venue_name(venue) if venue else UNKNOWN
    mkt = market_name(market) if market else UNKNOWN
    only = symbols[0] if symbols and len(symbols) == 1 else None
    out: list[tuple[str, Content]] = []
    held: dict[str, None] = {}
    for path in files:
        for c in file_contents(path, format, only):
            symbol = c.symbol
            if symbols:
                symbol = next((s for s in symbols if same_symbol(s, c.symbol)), "")
                if not symbol:
                    held[f"{c.channel_type} {c.symbol}"] = None
                    continue
            v = _either(path, c, "venue", c.venue, ven)
            m = _either(path, c, "market", c.market, mkt)
            out.append((path, Content(c.channel_type, symbol, v, m)))
    if symbols and not out:
        raise ChannelError(
            f"no data of {', '.join(symbols)} in {len(files)} file(s); they hold: "
            f"{', '.join(list(held)[:12]) or 'nothing'}"
        )
    return out


def _either(path: str, c: Content, name: str, known: str, given: str) -> str:
    if known != UNKNOWN and given not in (UNKNOWN, known):
        raise ChannelError(
            f"{path}: its {c.symbol} data is of the {name} {known!r}, not {given!r}: leave "
            f"{name}= (--{name}) out, or give it only for data that does not say"
        )
    return known if known != UNKNOWN else given


def convert(
    src: Paths,
    dst: str,
    format: Format | None = None,
    symbols: list[str] | None = None,
    on_error: OnError = "raise",
    progress: bool | None = None,
    venue: str | None = None,
    market: Market | None = None,
) -> ConvertSummary:
    """Rewrite every file of ``src`` into the partitioned native layout under ``dst``.

    Parameters
    ----------
    src : path, list of paths, directory or glob
        The input files, of any supported format.
    dst : str
        The output directory (``DST/channel=*/venue=*/market=*/symbol=*/date=*/``), or a URI:
        ``s3://bucket/prefix``, ``gs://bucket/prefix``, ``file:///path`` (credentials and
        endpoints from the environment or the URI's query, see :mod:`.storage`).
    format : {"native", "tardis", "binance", "binance_futures", "binance_ws", "bybit"} or None
        The input format; None detects it per file.
    symbols : list of str, optional
        Only these symbols (any spelling: ``BTC/USDT`` matches ``BTCUSDT``).
    on_error : {"raise", "skip"}
        A bad row stops the conversion with its location, or is dropped and counted.
    progress : bool or None
        A progress bar on stderr (bytes read of the total, percentage, ETA); None shows it
        when stderr is a terminal.
    venue : str, optional
        The venue (ccxt id, ``"binance"``) of data whose format does not say (native files
        without a ``venue`` column); an error where the data names another.
    market : {"spot", "linear", "inverse"}, optional
        The market of data whose format does not say, as ``venue``.

    Returns
    -------
    dict
        ``events`` per ``"type:SYMBOL@venue/market"``, ``rows_written``, ``files``,
        ``skipped`` rows (``{file: {reason: count}}``) and ``unknown``: the channels written
        with an unknown venue or market.
    """
    check_destination(dst)
    files = expand_paths(src)
    todo = plan(files, format, symbols, venue, market)
    if progress is None:
        progress = sys.stderr.isatty()
    meter = ReadMeter()  # open_source adds each file it reads (once per channel it holds)
    bar: tqdm | None = None
    if progress:
        from tqdm import tqdm

        total = sum(size(path) for path, _ in todo)
        bar = tqdm(total=total, unit="B", unit_scale=True, file=sys.stderr, desc="convert")
    writer = PartitionedWriter(dst)
    skip = SkipReport()
    counts: dict[str, int] = {}
    buffered = 0
    with streaming_gc():
        try:
            for path, c in todo:
                key = f"{c.channel_type}:{c.symbol}@{c.venue}/{c.market}"
                known_venue = c.venue if c.venue != UNKNOWN else ""
                known_market = c.market if c.market != UNKNOWN else None
                for _, events in open_source(
                    path,
                    c.channel_type,
                    c.symbol,
                    format,
                    on_error=on_error,
                    skip=skip,
                    venue=known_venue,
                    market=known_market,
                    meter=meter,
                ):
                    writer.write(c.channel_type, c.symbol, events, c.venue, c.market)
                    buffered += len(events)
                    if buffered >= FLUSH_EVENTS:
                        writer.flush()
                        buffered = 0
                    counts[key] = counts.get(key, 0) + len(events)
                    if bar is not None:
                        bar.update(meter.position - bar.n)
        finally:
            writer.close()
            if bar is not None:
                bar.update(meter.position - bar.n)
                bar.close()
    return {
        "events": counts,
        "rows_written": writer.rows_written,
        "files": len(writer.files),
        "skipped": skip.as_dict(),
        "unknown": sorted(k for k in counts if UNKNOWN in k.partition("@")[2].split("/")),
    }
