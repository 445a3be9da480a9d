"""A venue's profile: everything the package knows of one venue, declared in one place.

Each layer keeps a registry of its own, typed with its own protocols, and looks a venue's part
up there by name (the ccxt exchange id, or the format's name): the live feed its frames, book
guard and backfill source (``live/venue_parts.py``), the venue session its order dialect
(``execution/dialects.py``), the readers its file formats and names (``sources/registry.py``).
:func:`register` hands a profile's parts to those registries; nothing below this layer names a
venue. The loopback server that speaks the venue's protocol (``loopback/``) is named here too,
for the commands that start one (``--replay-server``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ..execution.dialects import UnifiedDialect, register_dialect
from ..live.venue_parts import CcxtExchange, LiveParts, register_live_parts
from ..sources.registry import FileFormat, Market, register_format, register_names


class ReplayServer(Protocol):
    """A venue's loopback server (``loopback/``): started on a free port (``start()`` returns
    it), stopped; ``lap``: its passes over the recording; the keys of its account."""

    lap: int
    api_key: str
    api_secret: str

    def start(self) -> int: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class Loopback:
    """How to start a venue's loopback server and point an unmodified ccxt.pro client at it.

    Parameters
    ----------
    server : callable
        The server class (``start()`` returns its port; ``stop()``).
    point_at : callable
        ``(exchange instance or ccxt id, port) -> exchange``: only its URLs change.
    symbols : tuple of str
        The unified symbols the server replays.
    one_pass : bool, default False
        The server replays its recording once, paced by ``speed`` (a perpetual's, whose
        funding time falls at its end), instead of lap after lap (``loop_forever``).
    """

    server: Callable[..., ReplayServer]
    point_at: Callable[[CcxtExchange | str, int], CcxtExchange]
    symbols: tuple[str, ...] = ("BTC/USDT",)
    one_pass: bool = False


@dataclass(frozen=True)
class VenueProfile:
    """One venue (see module doc).

    Parameters
    ----------
    name : str
        The venue as the data layout and ``venue=`` name it: its main ccxt id (``"bybit"``).
    ccxt_ids : mapping of str to market or None
        The ccxt ids it covers and the market each trades (``{"binanceusdm": "linear"}``;
        None: the market of the symbol, as ccxt's markets say).
    markets : tuple of str
        The market types covered: ``spot``, ``linear``, ``inverse``.
    live : callable, optional
        Gives what the live feed needs that ccxt.pro does not tell it (its :class:`LiveParts`,
        imported on first use: importing the package imports no ccxt), per ccxt id in
        ``live_ids``.
    live_ids : tuple of str, optional
        The ccxt ids the live parts are verified for (default: every id of ``ccxt_ids``).
    dialect : callable, optional
        Gives the order dialect's class (client ids, queries and cancels by them, the private
        stream's login) where ccxt's unified parameters do not do, per ccxt id in
        ``dialect_ids``.
    dialect_ids : tuple of str, optional
        The ccxt ids the dialect is verified for (default: ``(name,)``).
    formats : tuple of FileFormat
        The venue's own file formats (archives, captures) the readers read.
    tardis : mapping of str to market or None
        Tardis.dev's exchange names for the venue (None: the market from the symbol).
    symbol_market : callable, optional
        The venue's own rule for a derivative's market from its symbol.
    loopback : callable, optional
        Gives its loopback server (:class:`Loopback`).
    loopbacks : mapping of str to callable, optional
        Per ccxt id, a loopback server other than ``loopback`` (Binance USDⓈ-M's own).
    """

    name: str
    ccxt_ids: Mapping[str, Market | None]
    markets: tuple[Market, ...] = ("spot",)
    live: Callable[[], LiveParts] | None = None
    live_ids: tuple[str, ...] | None = None
    dialect: Callable[[], type[UnifiedDialect]] | None = None
    dialect_ids: tuple[str, ...] | None = None
    formats: tuple[FileFormat, ...] = ()
    tardis: Mapping[str, Market | None] = field(default_factory=dict)
    symbol_market: Callable[[str], Market | None] | None = None
    loopback: Callable[[], Loopback] | None = None
    loopbacks: Mapping[str, Callable[[], Loopback]] = field(default_factory=dict)

    def loopback_for(self, exchange_id: str) -> Loopback | None:
        """The loopback server that speaks the ccxt id ``exchange_id`` of this venue."""
        factory = self.loopbacks.get(exchange_id, self.loopback)
        return factory() if factory is not None else None


#: every registered profile, by venue name
PROFILES: dict[str, VenueProfile] = {}


def register(profile: VenueProfile) -> VenueProfile:
    """Register ``profile`` and hand its parts to each layer's registry; returns it."""
    PROFILES[profile.name] = profile
    register_names(
        profile.name, dict(profile.ccxt_ids), dict(profile.tardis), profile.symbol_market
    )
    for fmt in profile.formats:
        register_format(fmt)
    if profile.live is not None:
        ids = profile.live_ids if profile.live_ids is not None else tuple(profile.ccxt_ids)
        for cid in ids:
            register_live_parts(cid, profile.live)
    if profile.dialect is not None:
        for cid in profile.dialect_ids or (profile.name,):
            register_dialect(cid, profile.dialect)
    return profile


def profile(name: str) -> VenueProfile | None:
    """The profile of the venue (or of one of its ccxt ids) ``name``, or None."""
    found = PROFILES.get(name)
    if found is not None:
        return found
    return next((p for p in PROFILES.values() if name in p.ccxt_ids), None)
