"""Idempotent client order ids and the local store that remembers them across restarts.

The store also keeps every fill the run applied (by venue, symbol and trade id) and the run's
position per symbol after it, in one transaction: a restarted run resumes its position and never
counts a fill twice.

An id is derived from what the decision was: the strategy, symbol, side, size, price, the event
the strategy was handling (channel, exchange time, trade or update id) and how many orders it had
already made on that event. The same decision, retried or replayed after a restart, gets the
same id, and the store (SQLite, one row per id) says it was already sent: it is never placed a
second time. Binance takes at most 36 characters of ``[A-Za-z0-9_-]`` and accepts an id again
once its order is closed, so the store, not the venue, is what makes an id single-use.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from typing import TypedDict

#: the id's prefix: orders this package placed are told from foreign ones by it
PREFIX = "btch"
#: Binance's limit; Bybit's orderLinkId takes 36 too
MAX_LEN = 36


def client_order_id(
    strategy: str,
    symbol: str,
    side: str,
    size: float,
    price: float | None,
    event: tuple[object, ...],
    nth: int,
    prefix: str = PREFIX,
) -> str:
    """The client id of one decision (see module doc): ``prefix`` + ``-`` + 26 hex digits.

    >>> client_order_id("S", "BTC/USDT", "buy", 0.001, None, ("tick", 1, 7), 0)[:5]
    'btch-'
    """
    key = "|".join(map(repr, (strategy, symbol, side, float(size), price, *event, nth)))
    digest = hashlib.blake2b(key.encode(), digest_size=13).hexdigest()
    out = f"{prefix}-{digest}"
    if len(out) > MAX_LEN or not all(c.isalnum() or c in "-_" for c in out):
        raise ValueError(f"client id prefix {prefix!r}: at most 9 characters of [A-Za-z0-9_-]")
    return out


class StoredOrder(TypedDict):
    """An order as the store remembers it (``symbol``: ``"BTC/USDT@bybit"`` on a several-venue
    broker)."""

    client_id: str
    symbol: str
    side: str
    kind: str
    amount: float
    price: float | None
    state: str
    exchange_id: str | None


class IdStore:
    """The client ids sent so far, with their orders' last known state (SQLite).

    Parameters
    ----------
    path : str
        The database file (``":memory:"`` for a store that ends with the run).
    """

    def __init__(self, path: str):
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS orders (client_id TEXT PRIMARY KEY, symbol TEXT, "
            "side TEXT, kind TEXT, amount REAL, price REAL, state TEXT, exchange_id TEXT, "
            "created_ns INTEGER)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS fills (venue TEXT, symbol TEXT, trade_id TEXT, "
            "client_id TEXT, amount REAL, price REAL, fee REAL, fee_base REAL, "
            "PRIMARY KEY (venue, symbol, trade_id))"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS positions (venue TEXT, symbol TEXT, size REAL, "
            "price REAL, PRIMARY KEY (venue, symbol))"
        )

    def claim(self, client_id: str, symbol: str, side: str, kind: str, amount: float,
              price: float | None) -> bool:  # fmt: skip
        """Record ``client_id`` before it is sent; False when it was sent before (any run)."""
        try:
            self._db.execute(
                "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, 'SUBMITTING', NULL, ?)",
                (client_id, symbol, side, kind, amount, price, time.time_ns()),
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def update(self, client_id: str, state: str, exchange_id: str | None) -> None:
        """The order's latest state (and venue id)."""
        self._db.execute(
            "UPDATE orders SET state = ?, exchange_id = COALESCE(?, exchange_id) "
            "WHERE client_id = ?",
            (state, exchange_id, client_id),
        )

    def get(self, client_id: str) -> StoredOrder | None:
        row = self._db.execute(
            "SELECT client_id, symbol, side, kind, amount, price, state, exchange_id "
            "FROM orders WHERE client_id = ?",
            (client_id,),
        ).fetchone()
        return None if row is None else _row(row)

    def unfinished(self) -> list[StoredOrder]:
        """Orders whose last known state is not terminal: to be resumed at start."""
        rows = self._db.execute(
            "SELECT client_id, symbol, side, kind, amount, price, state, exchange_id FROM orders "
            "WHERE state NOT IN ('FILLED', 'CANCELLED', 'REJECTED', 'EXPIRED') "
            "ORDER BY created_ns"
        ).fetchall()
        return [_row(r) for r in rows]

    # ---- fills and positions -------------------------------------------------------------------
    def fill_seen(self, venue: str, symbol: str, trade_id: str) -> bool:
        """Whether this fill was applied already (in this run or an earlier one)."""
        row = self._db.execute(
            "SELECT 1 FROM fills WHERE venue = ? AND symbol = ? AND trade_id = ?",
            (venue, symbol, trade_id),
        ).fetchone()
        return row is not None

    def record_fill(
        self,
        venue: str,
        symbol: str,
        trade_id: str,
        client_id: str,
        signed: float,
        price: float,
        fee: float,
        fee_base: float,
        position: tuple[float, float],
    ) -> None:
        """One applied fill (``signed``: + bought, - sold) and the position after it (size,
        price), together."""
        db = self._db
        db.execute("BEGIN")
        try:
            db.execute(
                "INSERT OR IGNORE INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (venue, symbol, trade_id, client_id, signed, price, fee, fee_base),
            )
            db.execute(
                "INSERT OR REPLACE INTO positions VALUES (?, ?, ?, ?)", (venue, symbol, *position)
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def set_position(self, venue: str, symbol: str, size: float, price: float) -> None:
        """The run's position, corrected (a cut to what the account holds)."""
        self._db.execute(
            "INSERT OR REPLACE INTO positions VALUES (?, ?, ?, ?)", (venue, symbol, size, price)
        )

    def positions(self, venue: str) -> dict[str, tuple[float, float]]:
        """The run's positions at ``venue`` by symbol, as the last run left them."""
        rows = self._db.execute(
            "SELECT symbol, size, price FROM positions WHERE venue = ?", (venue,)
        ).fetchall()
        return {symbol: (size, price) for symbol, size, price in rows}

    def close(self) -> None:
        self._db.close()


#: a row of the store's orders, as its queries select it
_Row = tuple[str, str, str, str, float, "float | None", str, "str | None"]


def _row(row: _Row) -> StoredOrder:
    client_id, symbol, side, kind, amount, price, state, exchange_id = row
    return {
        "client_id": client_id,
        "symbol": symbol,
        "side": side,
        "kind": kind,
        "amount": amount,
        "price": price,
        "state": state,
        "exchange_id": exchange_id,
    }
