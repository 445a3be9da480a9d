"""Perpetual contracts: what a contract is worth, its trading rules and its margin brackets.

An :class:`Instrument` says how a position's size turns into notional value and profit:

* **linear** (Binance USDⓈ-M, Bybit linear): a contract is ``contract_size`` units of the base
  asset (1 on both venues), margined and settled in the quote asset (USDT). Notional =
  ``|size| x contract_size x price``; profit = ``size x contract_size x (exit - entry)``.
* **inverse** (Binance COIN-M): a contract is ``contract_size`` units of the quote (10 USD for
  ETHUSD_PERP), margined and settled in the base asset (ETH). Notional, in the base asset =
  ``|size| x contract_size / price``; profit = ``size x contract_size x (1/entry - 1/exit)``.

A :class:`Bracket` is one of the venue's leverage tiers by notional (Binance
``/fapi/v1/leverageBracket``, Bybit's risk limits): the largest leverage allowed and the
maintenance margin rate and amount (Binance's ``cum``) for a position whose notional falls in
it. Maintenance margin = notional x rate - amount.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..btypes import JsonDict
from ..errors import BacktraderChannelsError, DataError

#: how a contract's value moves with the price
ContractKind = Literal["linear", "inverse"]


class InstrumentError(BacktraderChannelsError, LookupError):
    """A symbol whose contract rules (size, brackets) the run does not know."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Bracket:
    """One leverage tier: positions with ``floor <= notional < cap`` (in the margin asset).

    Parameters
    ----------
    floor, cap : float
        The tier's notional range.
    max_leverage : float
        The largest leverage a position in this tier may use.
    maint_rate : float
        The maintenance margin rate (Binance ``maintMarginRatio``).
    maint_amount : float, default 0.0
        The maintenance amount (Binance ``cum``): maintenance margin = notional x rate - amount.
    """

    floor: float
    cap: float
    max_leverage: float
    maint_rate: float
    maint_amount: float = 0.0


@dataclass(frozen=True)
class Instrument:
    """A perpetual contract (see the module doc).

    Parameters
    ----------
    symbol : str
        The unified symbol (``"ETH/USDT:USDT"``, ``"ETH/USD:ETH"``) or the one the channels use.
    kind : {"linear", "inverse"}
        How the contract's value moves with the price.
    brackets : sequence of Bracket
        The leverage tiers, by increasing notional (at least one).
    contract_size : float, default 1.0
        Base units per contract (linear) or quote units per contract (inverse).
    tick_size, lot_size : float, default 0.0
        Price and size steps (0: not checked).
    min_notional : float, default 0.0
        The smallest order notional the venue takes (in the quote asset; 0: not checked).
    margin_asset : str, default ""
        The asset margin and profit are counted in (USDT; ETH for an inverse ETH contract).
    funding_interval_hours : float, default 8.0
        Hours between fundings.
    """

    symbol: str
    kind: ContractKind
    brackets: tuple[Bracket, ...]
    contract_size: float = 1.0
    tick_size: float = 0.0
    lot_size: float = 0.0
    min_notional: float = 0.0
    margin_asset: str = ""
    funding_interval_hours: float = 8.0
    #: where the rules came from (a file, ``"ccxt"``), for error messages
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.kind not in ("linear", "inverse"):
            raise ValueError(f"{self.symbol}: kind={self.kind!r}: 'linear' or 'inverse'")
        if not self.brackets:
            raise ValueError(f"{self.symbol}: no leverage brackets")
        if not self.contract_size > 0:
            raise ValueError(f"{self.symbol}: contract_size={self.contract_size!r}: must be > 0")
        caps = [b.cap for b in self.brackets]
        if caps != sorted(caps):
            raise ValueError(f"{self.symbol}: brackets must come by increasing notional cap")

    @property
    def inverse(self) -> bool:
        """True for an inverse (coin-margined) contract."""
        return self.kind == "inverse"

    @property
    def max_leverage(self) -> float:
        """The largest leverage of the first tier: no position may use more."""
        return self.brackets[0].max_leverage

    def notional(self, size: float, price: float) -> float:
        """The value of ``size`` contracts at ``price``, in the margin asset (>= 0)."""
        if self.kind == "linear":
            return abs(size) * self.contract_size * price
        return abs(size) * self.contract_size / price

    def pnl(self, size: float, entry: float, price: float) -> float:
        """The profit of ``size`` contracts (negative: short) bought at ``entry``, at
        ``price``, in the margin asset."""
        if self.kind == "linear":
            return size * self.contract_size * (price - entry)
        return size * self.contract_size * (1.0 / entry - 1.0 / price)

    def bracket(self, notional: float) -> Bracket:
        """The tier a position of ``notional`` falls in (the last one beyond every cap)."""
        for b in self.brackets:
            if notional < b.cap:
                return b
        return self.brackets[-1]

    def maintenance_margin(self, notional: float) -> float:
        """Maintenance margin of a position of ``notional``: notional x rate - amount."""
        b = self.bracket(notional)
        return max(notional * b.maint_rate - b.maint_amount, 0.0)

    def allowed_leverage(self, notional: float) -> float:
        """The largest leverage a position of ``notional`` may use."""
        return self.bracket(notional).max_leverage


def brackets_from_binance(rows: Iterable[Mapping[str, object]]) -> tuple[Bracket, ...]:
    """Brackets from Binance's ``leverageBracket`` entries (``notionalFloor``,
    ``notionalCap``, ``initialLeverage``, ``maintMarginRatio``, ``cum``; COIN-M's
    ``qtyFloor``/``qtyCap`` alike)."""
    out = []
    for row in rows:
        floor = row.get("notionalFloor", row.get("qtyFloor", 0))
        cap = row.get("notionalCap", row.get("qtyCap"))
        out.append(
            Bracket(
                float(str(floor)),
                float(str(cap)),
                float(str(row["initialLeverage"])),
                float(str(row["maintMarginRatio"])),
                float(str(row.get("cum", 0.0))),
            )
        )
    return tuple(sorted(out, key=lambda b: b.cap))


def instrument_from_dict(entry: JsonDict, source: str = "") -> Instrument:
    """One entry of an instruments file (``docs/perpetuals.md``): ``symbol``, ``kind``,
    ``contract_size``, ``tick_size``, ``lot_size``, ``min_notional``, ``margin_asset``,
    ``funding_interval_hours`` and ``brackets`` as Binance gives them."""
    name = entry.get("symbol", "?")
    try:
        symbol = str(entry["symbol"])
        return Instrument(
            symbol=symbol,
            kind=entry["kind"],
            brackets=brackets_from_binance(entry["brackets"]),
            contract_size=float(entry.get("contract_size", 1.0)),
            tick_size=float(entry.get("tick_size", 0.0)),
            lot_size=float(entry.get("lot_size", 0.0)),
            min_notional=float(entry.get("min_notional", 0.0)),
            margin_asset=str(entry.get("margin_asset", "")),
            funding_interval_hours=float(entry.get("funding_interval_hours", 8.0)),
            source=source,
        )
    except KeyError as exc:
        raise DataError(source or "<instruments>", f"instrument {name!r}: no {exc}") from None
    except (TypeError, ValueError) as exc:
        raise DataError(source or "<instruments>", f"instrument {name!r}: {exc}") from None


def load_instruments(path: str | Path) -> dict[str, Instrument]:
    """The instruments of a JSON file: a list of entries (:func:`instrument_from_dict`), by
    symbol."""
    text = Path(path).read_text()
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(str(path), f"not valid JSON ({exc.msg})", line=exc.lineno) from None
    if not isinstance(rows, list):
        raise DataError(str(path), "a list of instruments expected")
    return {i.symbol: i for i in (instrument_from_dict(r, str(path)) for r in rows)}


class Instruments:
    """The contracts a run knows, by symbol; :meth:`get` names what is missing."""

    def __init__(self, instruments: Mapping[str, Instrument] | None = None) -> None:
        self._by_symbol: dict[str, Instrument] = dict(instruments or {})

    def add(self, instrument: Instrument) -> None:
        """Know ``instrument`` (replacing one of the same symbol)."""
        self._by_symbol[instrument.symbol] = instrument

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._by_symbol

    def get(self, symbol: str) -> Instrument:
        """The instrument of ``symbol``; an :class:`InstrumentError` naming the known ones."""
        try:
            return self._by_symbol[symbol]
        except KeyError:
            known = ", ".join(sorted(self._by_symbol)) or "none"
            raise InstrumentError(
                f"{symbol!r}: its contract rules (size, brackets) are unknown (known: {known}); "
                "load them with Instruments.load(path) or from the venue"
            ) from None

    @classmethod
    def load(cls, path: str | Path) -> Instruments:
        """The instruments of a JSON file (:func:`load_instruments`)."""
        return cls(load_instruments(path))
