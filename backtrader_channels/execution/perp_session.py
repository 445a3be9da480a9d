"""A venue session's perpetual-futures steps, through ccxt's unified calls.

* at start, for each perpetual symbol traded: the account must be in one-way mode (a hedge-mode
  account is refused: :class:`StartRefused`), cross margin is set (an account already in cross
  answers Binance's ``-4046``, ccxt's ``MarginModeAlreadySet``: fine), and the leverage the
  strategy's scheme asks for is set;
* in every reconciliation snapshot: the venue's positions (``fetch_positions``), its wallet
  balance (the venue module's ``wallet``: ccxt's ``total`` includes unrealized profit on some
  venues), the funding payments (``fetch_funding_history``) and liquidations
  (``fetch_my_liquidations``) since the run started.

Venue error codes, not ccxt's classes, say what a refusal means: ccxt maps Binance's futures
codes to its typed errors only for Binance's own host names (:func:`venue_code`).
"""

from __future__ import annotations

import re

import ccxt

from ..errors import BacktraderChannelsError
from ..events import CcxtDict, VenueSnapshot
from ..live.venue_parts import CcxtExchange
from .dialects import Dialect

#: the venue's error code in a ccxt exception's text (Binance ``"code":-2019``, Bybit
#: ``"retCode":110007``)
_CODE = re.compile(r'"(?:code|retCode)"\s*:\s*(-?\d+)')
#: venue error codes -> (what the refusal is, whether it is backtrader's ``Margin``)
REFUSALS: dict[int, tuple[str, bool]] = {
    -2019: ("margin is insufficient", True),
    -2022: ("reduce-only order rejected", False),
    -4164: ("below the minimum notional", False),
    -5022: ("post-only order would take", False),
    -4061: ("position side does not match the account's mode", False),
    110007: ("margin is insufficient", True),  # Bybit: ab not enough for new order
    110017: ("reduce-only order rejected", False),
    110012: ("margin is insufficient", True),
}
#: venue codes meaning the client order id is already taken (the order was placed)
DUPLICATES = {-4116, -2010, 110072}
#: codes meaning "already so" for a margin-mode or leverage request
_ALREADY = {-4046, 110026, 110043}


class StartRefused(BacktraderChannelsError):
    """The account cannot be traded as the run asks (hedge mode, leverage refused)."""


def venue_code(exc: BaseException) -> int | None:
    """The venue's own error code in a ccxt exception, or None."""
    m = _CODE.search(str(exc))
    return int(m.group(1)) if m else None


def perp_symbols(ex: CcxtExchange, symbols: list[str]) -> list[str]:
    """The perpetual (swap) ones of ``symbols``."""
    markets = ex.markets or {}
    return [s for s in symbols if (markets.get(s) or {}).get("swap")]


async def prepare_perps(ex: CcxtExchange, symbols: list[str], leverage: dict[str, float]) -> None:
    """One-way mode verified, cross margin and the leverage set, per symbol (module doc)."""
    for symbol in symbols:
        try:
            hedged = bool((await ex.fetch_position_mode(symbol)).get("hedged"))
        except ccxt.NotSupported:  # Bybit: its positions say (positionIdx 1 and 2)
            hedged = any(p.get("hedged") for p in await ex.fetch_positions([symbol]))
        if hedged:
            raise StartRefused(
                f"{ex.id}: the account is in hedge mode (long and short positions of "
                f"{symbol} at once); the broker trades one-way positions: switch the "
                "account to one-way mode"
            )
        try:
            await ex.set_margin_mode("cross", symbol)
        except (ccxt.MarginModeAlreadySet, ccxt.ExchangeError) as exc:
            if not isinstance(exc, ccxt.MarginModeAlreadySet) and venue_code(exc) not in _ALREADY:
                raise
        lev = leverage.get(symbol)
        if lev:
            try:
                await ex.set_leverage(int(lev), symbol)
            except ccxt.ExchangeError as exc:
                if venue_code(exc) in _ALREADY:
                    continue
                raise StartRefused(
                    f"{ex.id}: leverage {lev:g} refused for {symbol}: {exc}"
                ) from exc


async def perp_snapshot(
    ex: CcxtExchange,
    symbols: list[str],
    since_ms: int,
    dialect: Dialect,
    out: VenueSnapshot,
) -> None:
    """Add the perpetuals' part of a reconciliation snapshot to ``out`` (module doc)."""
    positions = await ex.fetch_positions(symbols)
    out["positions"] = [dict(p) for p in positions if p.get("symbol") in symbols]
    funding: list[CcxtDict] = []
    liquidations: list[CcxtDict] = []
    for s in symbols:
        rows = await ex.fetch_funding_history(s, since_ms)
        # what was paid (negative: received), by the venue's sign (ccxt keeps each venue's)
        funding.extend(dict(f, paid=dialect.funding_paid(dict(f))) for f in rows)
        try:
            got = await ex.fetch_my_liquidations(s, since_ms)
        except ccxt.NotSupported:
            got = []
        liquidations.extend(dict(x) for x in got)
    out["funding"] = funding
    out["liquidations"] = liquidations
    # the balance last: a wallet never older than the funding and liquidations listed with it
    # (a sweep that straddles a liquidation would otherwise pair the list with the wallet
    # from before it, and "correct" the broker's cash back)
    out["balance"] = balance = await ex.fetch_balance()
    settle = {(ex.markets[s] or {}).get("settle") for s in symbols}
    if len(settle) == 1:
        (asset,) = settle
        value = dialect.wallet(dict(balance), str(asset))
        if value is not None:
            out["wallet"] = value
