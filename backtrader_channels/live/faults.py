"""What a live stream's errors mean: the anomaly each stands for, a redacted description, and
the error a feed gives up with."""

from __future__ import annotations

import re

import ccxt

from ..errors import BacktraderChannelsError
from .venue_parts import CcxtExchange


class FeedError(BacktraderChannelsError, RuntimeError):
    """A live feed gave up: a stream or ``load_markets`` failed ``max_failures`` times in a row
    with errors that are not network errors, or a symbol is unknown to the venue."""


def describe_error(exc: BaseException, exchange: CcxtExchange) -> str:
    """``Type: message`` of an error, short, with signatures and the exchange's keys redacted
    (ccxt puts the request URL, query included, in its messages)."""
    text = re.sub(r"(signature|apiKey|secret)=[^&\s\"']+", r"\1=***", str(exc))
    for attr in ("apiKey", "secret", "password"):
        value = getattr(exchange, attr, None)
        if isinstance(value, str) and len(value) >= 4:
            text = text.replace(value, "***")
    text = " ".join(text.split())
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def error_family(exc: BaseException) -> str:
    """``network`` for ccxt's network errors (retried for ever), else ``error``."""
    return "network" if isinstance(exc, ccxt.NetworkError) else "error"


def anomaly_of(kind: str, exc: Exception) -> str:
    """The anomaly a ccxt exception stands for on a ``kind`` stream."""
    name = type(exc).__name__
    if name in ("ChecksumError", "InvalidNonce"):
        return "book_resync"  # a sequence gap: ccxt dropped the book, the next watch resyncs
    if kind == "orderbook" and name in ("ExchangeNotAvailable", "OperationFailed"):
        return "snapshot_failed"  # the REST snapshot failed past ccxt's own retries
    if isinstance(exc, ccxt.NetworkError):
        return "disconnect"
    return "error"
