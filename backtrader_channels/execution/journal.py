"""The order journal: every order event as one JSON line, flushed as it is written.

A line: ``{"ns", "client_id", "exchange_id", "symbol", "side", "state", "source", "event",
"price", "amount", "filled", "fee", "reason"}`` (plus ``details`` for fills and corrections).
Only order fields are written: never a key, a secret or a request. Lines that are not about an
order have ``client_id`` ``"account"`` (corrections, funding) or ``"run"`` (the dashboard's
controls, :meth:`Journal.note`).
"""

from __future__ import annotations

import json
import os
import time
from typing import IO, TypedDict

from .states import LiveOrder


class _JournalLine(TypedDict):
    ns: int
    client_id: str
    exchange_id: str | None
    symbol: str
    side: str
    kind: str
    state: str
    source: str
    event: str
    price: float | None
    amount: float
    filled: float
    fee: float
    reason: str


class JournalLine(_JournalLine, total=False):
    """One journal line (see module doc); ``venue`` on a several-venue broker, ``details``
    when the event has any, ``venue_client_id`` when a cancel-replace amend gave the order a
    new client id at the venue (``client_id`` stays the first one)."""

    venue: str
    details: dict[str, object]
    venue_client_id: str


class OrderSummary(TypedDict):
    """The run report's order section (:func:`order_summary`)."""

    orders: int
    states: dict[str, int]
    fills: int
    fees: float
    corrections: int


class Journal:
    """Append-only JSON lines (``path`` None: kept in memory only, in :attr:`lines`).

    Parameters
    ----------
    path : str or None
        The file; appended to, so a restarted run continues the same journal.
    fsync : bool, default False
        Also ``os.fsync`` each line (survives a power cut, at ~1 ms per line).
    """

    def __init__(self, path: str | None, fsync: bool = False):
        self.path = path
        self.fsync = fsync
        self.lines: list[JournalLine] = []
        self._fh: IO[str] | None = open(path, "a", encoding="utf-8") if path else None

    def write(self, order: LiveOrder, event: str, source: str, **details: object) -> None:
        """One line for ``order``'s ``event`` (its state after it)."""
        line: JournalLine = {
            "ns": time.time_ns(),
            "client_id": order.origin_id or order.client_id,
            "exchange_id": order.exchange_id,
            "symbol": order.symbol,
            "side": order.side,
            "kind": order.kind,
            "state": order.state.value,
            "source": source,
            "event": event,
            "price": order.price,
            "amount": order.amount,
            "filled": order.filled,
            "fee": order.fee,
            "reason": order.reason,
        }
        if order.venue:
            line["venue"] = order.venue
        if order.origin_id:  # a cancel-replace amend: the venue knows it by a new client id
            line["venue_client_id"] = order.client_id
        if details:
            line["details"] = details
        self.lines.append(line)
        if self._fh is not None:
            self._fh.write(json.dumps(line, default=str) + "\n")
            self._fh.flush()
            if self.fsync:
                os.fsync(self._fh.fileno())

    def note(self, event: str, source: str, **details: object) -> None:
        """One line about the run, not an order (``client_id`` ``"run"``): e.g. the dashboard's
        ``"dashboard: pause"`` with who asked and when in ``details``."""
        self.write(LiveOrder("run", "", "", "", 0.0, None), event, source, **details)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_journal(path: str) -> list[JournalLine]:
    """The journal's lines, in order (a line cut short by a crash is reported, not skipped)."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, text in enumerate(fh, 1):
            if not text.strip():
                continue
            try:
                out.append(json.loads(text))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not a journal line ({e.msg})") from None
    return out


def order_summary(lines: list[JournalLine]) -> OrderSummary:
    """The run report's order section: per state the number of orders, fills, fees, faults."""
    last: dict[str, JournalLine] = {}
    fills = 0
    corrections = 0
    for line in lines:
        corrections += line["event"].startswith("correction")
        if line["client_id"] in ("account", "run"):  # the account's and the run's own lines
            continue
        last[line["client_id"]] = line
        fills += line["event"] == "fill"
    states: dict[str, int] = {}
    for line in last.values():
        states[line["state"]] = states.get(line["state"], 0) + 1
    return {
        "orders": len(last),
        "states": states,
        "fills": fills,
        "fees": sum(line["fee"] for line in last.values()),
        "corrections": corrections,
    }
