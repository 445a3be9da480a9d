"""The loopback exchanges: Binance and Bybit on 127.0.0.1, replaying a recording through their
own wire protocols (public market data, and a private side whose orders fill on the replay),
with fault switches; unmodified ccxt.pro clients connect once pointed here. The tests, the
benchmarks and ``live`` / ``spread --replay-server`` run on them. Also seeded synthetic data
(:mod:`.synthetic`).

- ``BinanceLoopback``, ``BybitLoopback``: the servers (:mod:`.binance`, :mod:`.bybit`);
- ``BinanceFuturesLoopback``: Binance USDⓈ-M perpetuals, on a margin account of its own
  (:mod:`.binance.futures`), pointed at by ``point_binance_futures_at``;
- ``BybitLinearLoopback``: Bybit USDT perpetuals (``category=linear``) on the same margin account,
  the Binance perp recording re-framed as Bybit's (:mod:`.bybit.linear`), pointed at by
  ``point_bybit_linear_at``;
- ``point_binance_at``, ``point_bybit_at``: point an unmodified ``ccxt.pro`` client at one;
- ``serve_binance_in_subprocess``, ``serve_bybit_in_subprocess``: one in a process of its own
  (:mod:`.serve`);
- ``Faults``, ``PrivateFaults``: the fault switches (``server.faults``,
  ``server.private_faults``).

The earlier names still work: ``ReplayExchange`` (``BinanceLoopback``), ``point_ccxt_at``
(``point_binance_at``), ``BybitExchange`` (``BybitLoopback``), ``serve_in_subprocess``
(``serve_binance_in_subprocess``), and the modules of ``backtrader_channels.testing``.

The names are imported on first use: importing :mod:`.synthetic` loads neither ccxt nor aiohttp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Faults, LoopbackServer, SendTimes, pace_to
    from .binance.exchange import LAP_ID_GAP, BinanceLoopback, point_binance_at
    from .binance.futures import BinanceFuturesLoopback, point_binance_futures_at
    from .bybit.exchange import BybitLoopback, point_bybit_at
    from .bybit.linear import BybitLinearLoopback, point_bybit_linear_at
    from .private_side import PrivateFaults
    from .serve import (
        StopServer,
        serve_binance_in_subprocess,
        serve_bybit_in_subprocess,
        serve_loopback,
    )

    ReplayExchange = BinanceLoopback
    BybitExchange = BybitLoopback
    point_ccxt_at = point_binance_at
    serve_in_subprocess = serve_binance_in_subprocess

#: each public name -> the module that defines it
_HOMES = {
    "BinanceLoopback": ".binance.exchange",
    "LAP_ID_GAP": ".binance.exchange",
    "point_binance_at": ".binance.exchange",
    "BinanceFuturesLoopback": ".binance.futures",
    "point_binance_futures_at": ".binance.futures",
    "BybitLoopback": ".bybit.exchange",
    "point_bybit_at": ".bybit.exchange",
    "BybitLinearLoopback": ".bybit.linear",
    "point_bybit_linear_at": ".bybit.linear",
    "Faults": ".base",
    "LoopbackServer": ".base",
    "SendTimes": ".base",
    "pace_to": ".base",
    "PrivateFaults": ".private_side",
    "StopServer": ".serve",
    "serve_binance_in_subprocess": ".serve",
    "serve_bybit_in_subprocess": ".serve",
    "serve_loopback": ".serve",
}
#: the earlier names -> today's
_ALIASES = {
    "ReplayExchange": "BinanceLoopback",
    "BybitExchange": "BybitLoopback",
    "point_ccxt_at": "point_binance_at",
    "serve_in_subprocess": "serve_binance_in_subprocess",
}


def __getattr__(name: str) -> object:
    """Import each public name's module on first use."""
    target = _ALIASES.get(name, name)
    home = _HOMES.get(target)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), target)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "LAP_ID_GAP",
    "BinanceFuturesLoopback",
    "BinanceLoopback",
    "BybitExchange",
    "BybitLinearLoopback",
    "BybitLoopback",
    "Faults",
    "LoopbackServer",
    "PrivateFaults",
    "ReplayExchange",
    "SendTimes",
    "StopServer",
    "pace_to",
    "point_binance_at",
    "point_binance_futures_at",
    "point_bybit_at",
    "point_bybit_linear_at",
    "point_ccxt_at",
    "serve_binance_in_subprocess",
    "serve_bybit_in_subprocess",
    "serve_in_subprocess",
    "serve_loopback",
]
