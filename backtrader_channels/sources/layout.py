"""The partitioned native layout that ``convert`` writes and live recording records::

    ROOT/channel=<type>/venue=<venue>/market=<market>/symbol=<SYMBOL>/date=<YYYY-MM-DD>/part-NNNNNN.parquet

``venue`` is the ccxt exchange id (``binance``), ``market`` one of ``spot``, ``linear``,
``inverse`` (:mod:`.venues`); either is ``unknown`` when nobody said. Folders written by earlier
versions, ``ROOT/channel=<type>/symbol=<SYMBOL>/date=<...>/``, still read: their venue and market
are unknown.

A reader asks for a channel type and a symbol, and optionally a venue and a market. When only one
``(venue, market)`` holds the symbol, that is the one read; when several do, the venue and market
asked for choose (an ``unknown`` folder stands in for a venue or market asked for that no folder
names), and without them it is an error naming the choices.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..errors import ChannelError
from ..symbols import same_symbol, symbol_aliases
from . import storage
from .batches import expand_paths
from .venues import UNKNOWN, market_name, venue_key

Window = tuple[int | None, int | None]  #: ``(start_ns, end_ns)``, either open (None)


def safe_symbol(symbol: str) -> str:
    """A symbol as a directory name (``BTC/USDT:USDT`` -> ``BTC-USDT-USDT``)."""
    return symbol.replace("/", "-").replace(":", "-")


def partition_folder(
    root: str, channel_type: str, venue: str, market: str, symbol: str, day: str
) -> str:
    """The folder of one partition: a channel type, venue, market, symbol and UTC day."""
    return storage.join(
        root,
        f"channel={channel_type}",
        f"venue={venue}",
        f"market={market}",
        f"symbol={safe_symbol(symbol)}",
        f"date={day}",
    )


@dataclass(frozen=True)
class Partition:
    """The folder of one channel type, venue, market and symbol (its days are below it)."""

    channel_type: str
    venue: str
    market: str
    #: the symbol as its folder spells it (path-safe: ``BTC-USDT`` for ``BTC/USDT``)
    symbol: str
    folder: str

    @property
    def where(self) -> str:
        """``venue/market``, as messages name it."""
        return f"{self.venue}/{self.market}"

    def days(self) -> list[str]:
        """Its days, ``YYYY-MM-DD``, sorted."""
        return sorted(n[5:] for n in storage.listdir(self.folder) if n.startswith("date="))


def is_partitioned(root: str) -> bool:
    """Whether ``root`` is a partitioned native directory (``channel=T/...``)."""
    return storage.isdir(root) and any(n.startswith("channel=") for n in storage.listdir(root))


def partitions(root: str, channel_type: str | None = None) -> list[Partition]:
    """Every symbol folder of a partitioned directory (of one channel type, if given), in the
    new layout and the old one, sorted."""
    out: list[Partition] = []
    for ch in sorted(storage.listdir(root)):
        if not ch.startswith("channel=") or channel_type not in (None, ch[8:]):
            continue
        ch_dir = storage.join(root, ch)
        for name in sorted(storage.listdir(ch_dir)):
            if name.startswith("symbol="):  # the layout of earlier versions
                out.append(
                    Partition(ch[8:], UNKNOWN, UNKNOWN, name[7:], storage.join(ch_dir, name))
                )
            elif name.startswith("venue="):
                out.extend(_venue_partitions(ch[8:], name[6:], storage.join(ch_dir, name)))
    return out


def _venue_partitions(channel_type: str, venue: str, venue_dir: str) -> list[Partition]:
    out: list[Partition] = []
    for m in sorted(storage.listdir(venue_dir)):
        if not m.startswith("market="):
            continue
        m_dir = storage.join(venue_dir, m)
        out.extend(
            Partition(channel_type, venue, m[7:], s[7:], storage.join(m_dir, s))
            for s in sorted(storage.listdir(m_dir))
            if s.startswith("symbol=")
        )
    return out


def select(
    root: str,
    channel_type: str,
    symbol: str,
    venue: str | None = None,
    market: str | None = None,
) -> Partition | None:
    """The partition of a channel type and symbol (and venue, market), None when ``root`` is
    not partitioned; a ChannelError when none is, or when several are and nothing chooses."""
    if not is_partitioned(root):
        return None
    every = partitions(root, channel_type)
    found = _matching(every, symbol)
    if venue:
        found = _narrow(found, "venue", venue_key(venue))
    if market:
        found = _narrow(found, "market", market if market == UNKNOWN else market_name(market))
    if len(found) == 1:
        return found[0]
    if not found:
        raise ChannelError(_missing(root, channel_type, symbol, venue, market, every))
    names = [
        name
        for name, vals in (
            ("venue", {p.venue for p in found}),
            ("market", {p.market for p in found}),
        )
        if len(vals) > 1
    ]
    raise ChannelError(
        f"{root}: {symbol} {channel_type!r} data is in {_and([p.where for p in found])}: pass "
        f"{' and '.join(n + '=' for n in names)} (on the command line: "
        f"{' and '.join('--' + n for n in names)})"
    )


def _matching(every: list[Partition], symbol: str) -> list[Partition]:
    """The folders of ``symbol``: per venue and market, the one of its first-listed spelling
    (then any other spelling of it: ``BTC-USDT`` for ``BTCUSDT``)."""
    aliases = [safe_symbol(a) for a in symbol_aliases(symbol)]
    order = {a: i for i, a in reversed(list(enumerate(aliases)))}
    best: dict[tuple[str, str], Partition] = {}
    for p in every:
        if p.symbol not in order and not (
            same_symbol(p.symbol, symbol) or same_symbol(_perpetual_pair(p.symbol), symbol)
        ):
            continue
        have = best.get((p.venue, p.market))
        rank = order.get(p.symbol, len(order))
        if have is None or rank < order.get(have.symbol, len(order)):
            best[(p.venue, p.market)] = p
    return list(best.values())


def _perpetual_pair(folder_symbol: str) -> str:
    """The pair of a perpetual's folder name (``ETH-USDT-USDT``, written for ``ETH/USDT:USDT``:
    ``ETH-USDT``), so that ``ETHUSDT`` finds it; other names unchanged (a delivery contract's,
    ``ETH-USD-ETH-240927``, has a date: it is not the pair's)."""
    parts = folder_symbol.split("-")
    return "-".join(parts[:2]) if len(parts) == 3 else folder_symbol


def _narrow(found: list[Partition], attr: str, want: str) -> list[Partition]:
    """The partitions whose ``attr`` is ``want``; else those where it is unknown."""
    exact = [p for p in found if getattr(p, attr) == want]
    return exact or [p for p in found if getattr(p, attr) == UNKNOWN]


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _missing(
    root: str,
    channel_type: str,
    symbol: str,
    venue: str | None,
    market: str | None,
    every: list[Partition],
) -> str:
    """Why nothing matched, and what there is."""
    on = "/".join(x for x in (venue, market) if x)
    what = f"{root} has no {channel_type!r} data for {symbol!r}" + (f" on {on}" if on else "")
    if not every:
        kinds = sorted({p.channel_type for p in partitions(root)})
        return f"{what}; it has data of the channel types {kinds}"
    have = [f"{p.symbol} ({p.where})" for p in every]
    more = f" and {len(have) - 12} more" if len(have) > 12 else ""
    return f"{what}; its {channel_type!r} data: {', '.join(have[:12])}{more}"


def partition_files(
    root: str,
    channel_type: str,
    symbol: str,
    window: Window | None = None,
    venue: str | None = None,
    market: str | None = None,
) -> list[str] | None:
    """Files of a partitioned native directory for this channel and symbol (see
    :func:`select`), or None when ``root`` is not such a directory. With ``window``
    (``start_ns, end_ns``, either None), only the days that overlap it: none, if none does."""
    part = select(root, channel_type, symbol, venue, market)
    if part is None:
        return None
    if window is None or window == (None, None):
        return expand_paths(part.folder)
    days = [d for d in part.days() if _overlaps(d, window)]
    return [f for d in days for f in expand_paths(storage.join(part.folder, f"date={d}"))]


def partition_days(
    root: str,
    channel_type: str,
    symbol: str,
    venue: str | None = None,
    market: str | None = None,
) -> list[str] | None:
    """The days (``YYYY-MM-DD``, sorted) of a partitioned directory's channel and symbol, or
    None when ``root`` is not partitioned."""
    part = select(root, channel_type, symbol, venue, market)
    return None if part is None else part.days()


def partition_samples(root: str) -> list[str]:
    """One file per partition of a partitioned directory: its rows name their symbol in a
    column (folder names are the symbol made path-safe, not always reversible)."""
    return [expand_paths(p.folder)[0] for p in partitions(root)]


def day_window(day: str) -> tuple[int, int]:
    """``[start_ns, end_ns)`` of a UTC day ``YYYY-MM-DD``."""
    start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.timezone.utc)
    ns = int(start.timestamp()) * 1_000_000_000
    return ns, ns + 86_400_000_000_000


def _overlaps(day: str, window: Window) -> bool:
    d0, d1 = day_window(day)
    start, end = window
    return (start is None or start < d1) and (end is None or end > d0)
