"""What to fetch for a span of days: the archive files (monthly where a whole month is asked
and published, else daily) and the days a month falls back to when its file is not out yet.

A venue module (:mod:`.binance`, :mod:`.bybit`) turns each :class:`Period` into an
:class:`Item` (its URL, its place under ``--dest``, how it is checked and converted).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

#: how an archive publishes a kind: daily and monthly files, daily only or monthly only
Cadence = Literal["both", "daily", "monthly"]


@dataclass(frozen=True)
class Period:
    """One archive file's span: a day (``label`` ``YYYY-MM-DD``) or a month (``YYYY-MM``)."""

    label: str
    monthly: bool
    #: the days the file covers (a month: every day of it)
    days: tuple[dt.date, ...]


@dataclass
class Item:
    """One archive file to fetch, check and store.

    Parameters
    ----------
    venue : str
        ``binance`` or ``bybit``.
    kind : str
        The archive's name of the data (``trades``, ``aggTrades``, ``fundingRate``, ...).
    symbol : str
        The archive's symbol (``BTCUSDT``).
    market : str
        ``spot``, ``linear`` or ``inverse``.
    period : Period
        The day or month the file covers.
    url : str
        Where it is.
    rel : str
        Its path in the archive (the manifest's key and its place under ``raw/``).
    checksum_url : str or None
        Its published checksum (Binance's ``.CHECKSUM``), None where the venue has none.
    root : str or None
        The partitioned folder (relative to ``--dest``) it is converted into; None: kept as
        downloaded (``raw/<venue>/...``).
    csv_name : str
        The name its data is read under when converted (the readers know a dump by its name).
    unzip : bool
        The file is a zip of that one CSV, extracted before it is converted (Binance's).
    fallback : list of Item
        For a month: its days, fetched instead when the month's file is not published.
    """

    venue: str
    kind: str
    symbol: str
    market: str
    period: Period
    url: str
    rel: str
    checksum_url: str | None = None
    root: str | None = None
    csv_name: str = ""
    unzip: bool = False
    fallback: list[Item] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The file's name."""
        return self.rel.rsplit("/", 1)[-1]

    @property
    def what(self) -> str:
        """``BTCUSDT trades 2024-08-08``: the item as messages name it."""
        return f"{self.symbol} {self.kind} {self.period.label}"


def parse_day(text: str, option: str) -> dt.date:
    """``YYYY-MM-DD`` (or ``YYYY-MM``: its first day) as a date; a ValueError naming
    ``option`` otherwise."""
    try:
        if len(text) == 7:
            return dt.date.fromisoformat(text + "-01")
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option} {text!r}: give a day as YYYY-MM-DD") from None


def day_range(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every day from ``start`` to ``end``, both included."""
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def month_days(year: int, month: int) -> tuple[dt.date, ...]:
    """Every day of a month."""
    last = calendar.monthrange(year, month)[1]
    return tuple(dt.date(year, month, d) for d in range(1, last + 1))


def day_period(day: dt.date) -> Period:
    """The daily file of ``day``."""
    return Period(day.isoformat(), False, (day,))


def periods(
    start: dt.date, end: dt.date, cadence: Cadence = "both", today: dt.date | None = None
) -> list[Period]:
    """The files covering ``start`` .. ``end`` (both included), in time order.

    Parameters
    ----------
    start, end : datetime.date
        The span; ``end`` is cut at yesterday (UTC): a day's file comes out the day after.
    cadence : {"both", "daily", "monthly"}
        ``both``: a month wholly inside the span is one monthly file (unless it is the
        current month), the rest are days; ``daily``: days only; ``monthly``: every month the
        span touches.
    today : datetime.date, optional
        Today (UTC) by default.

    Returns
    -------
    list of Period
    """
    today = today or dt.datetime.now(dt.timezone.utc).date()
    end = min(end, today - dt.timedelta(days=1))
    if end < start:
        return []
    out: list[Period] = []
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        days = month_days(y, m)
        label = f"{y:04d}-{m:02d}"
        inside = tuple(d for d in days if start <= d <= end)
        whole = len(inside) == len(days) and (y, m) != (today.year, today.month)
        if cadence == "monthly":
            out.append(Period(label, True, days))
        elif cadence == "both" and whole:
            out.append(Period(label, True, days))
        else:
            out.extend(day_period(d) for d in inside)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out
