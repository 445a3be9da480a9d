"""One symbol rule for the whole package: ``BTC/USDT``, ``BTCUSDT``, ``btcusdt`` and
``BTC-USDT`` name the same instrument (a ccxt contract suffix, ``BTC/USDT:USDT``, is dropped)."""

from __future__ import annotations


def plain_symbol(symbol: str) -> str:
    """``BTC/USDT:USDT`` -> ``BTCUSDT``: the exchange-style id most files use."""
    return symbol.split(":")[0].replace("/", "").replace("-", "").replace("_", "").upper()


def symbol_aliases(symbol: str) -> tuple[str, ...]:
    """Spellings of ``symbol`` that files use: ``BTC/USDT`` also matches ``BTCUSDT``,
    ``btcusdt`` and ``BTC-USDT``; a ccxt contract suffix (``BTC/USDT:USDT``) is dropped."""
    base = symbol.split(":")[0]
    plain = plain_symbol(symbol)
    out = [symbol, base, plain, plain.lower(), base.replace("/", "-")]
    return tuple(dict.fromkeys(out))


def same_symbol(a: str, b: str) -> bool:
    """Whether two spellings name the same instrument."""
    return a == b or plain_symbol(a) == plain_symbol(b)
