"""The loopback exchanges' earlier names and module paths still import, and are the very objects
of ``backtrader_channels.loopback``."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import backtrader_channels as btch
from backtrader_channels import loopback
from backtrader_channels.loopback import account, base, private_side, serve, synthetic
from backtrader_channels.loopback.binance import exchange as binance
from backtrader_channels.loopback.binance import private as binance_private
from backtrader_channels.loopback.binance import rest as binance_rest
from backtrader_channels.loopback.book import LevelBook
from backtrader_channels.loopback.bybit import exchange as bybit
from backtrader_channels.loopback.bybit import private as bybit_private

#: old module path -> {old name: the object it must be}
OLD_PATHS = {
    "backtrader_channels.testing.replay_exchange": {
        "ReplayExchange": binance.BinanceLoopback,
        "point_ccxt_at": binance.point_binance_at,
        "serve_in_subprocess": serve.serve_binance_in_subprocess,
        "Faults": base.Faults,
        "LAP_ID_GAP": binance.LAP_ID_GAP,
        "pace_to": base.pace_to,
        "load_capture": binance.load_capture,
        "exchange_times": binance.exchange_times,
        "DEFAULT_CAPTURE": binance.DEFAULT_CAPTURE,
        "DEFAULT_EXCHANGE_INFO": binance.DEFAULT_EXCHANGE_INFO,
    },
    "backtrader_channels.testing.bybit_exchange": {
        "BybitExchange": bybit.BybitLoopback,
        "point_bybit_at": bybit.point_bybit_at,
        "serve_bybit_in_subprocess": serve.serve_bybit_in_subprocess,
        "load_recording": bybit.load_recording,
        "SYMBOL": bybit.SYMBOL,
        "INSTRUMENT": bybit.INSTRUMENT,
    },
    "backtrader_channels.testing.loopback": {
        "LoopbackServer": base.LoopbackServer,
        "SendTimes": base.SendTimes,
        "pace_to": base.pace_to,
        "quiet_collector": base.quiet_collector,
    },
    "backtrader_channels.testing.binance_account": {
        "Account": account.Account,
        "VenueError": account.VenueError,
        "TERMINAL": account.TERMINAL,
        "public_order": account.public_order,
    },
    "backtrader_channels.testing.binance_rest": {
        "BinanceRest": binance_rest.BinanceRest,
        "TradeHistory": binance_rest.TradeHistory,
        "RECENT": binance_rest.RECENT,
    },
    "backtrader_channels.testing.binance_private": {
        "BinancePrivate": binance_private.BinancePrivate,
        "PrivateFaults": private_side.PrivateFaults,
    },
    "backtrader_channels.testing.private_side": {
        "PrivateFaults": private_side.PrivateFaults,
        "PrivateSide": private_side.PrivateSide,
        "drain": private_side.drain,
    },
    "backtrader_channels.testing.bybit_private": {
        "BybitPrivate": bybit_private.BybitPrivate,
        "BybitError": bybit_private.BybitError,
        "SPOT_RULES": bybit_private.SPOT_RULES,
        "bybit_error": bybit_private.bybit_error,
        "bybit_order": bybit_private.bybit_order,
        "bybit_execution": bybit_private.bybit_execution,
    },
    "backtrader_channels.testing.synthetic": {
        "START_NS": synthetic.START_NS,
        "iter_synthetic_trades": synthetic.iter_synthetic_trades,
        "synthetic_trades": synthetic.synthetic_trades,
        "write_synthetic_trades": synthetic.write_synthetic_trades,
        "write_synthetic_days": synthetic.write_synthetic_days,
    },
}


@pytest.mark.parametrize("path", sorted(OLD_PATHS))
def test_every_old_module_path_still_gives_its_names(path):
    module = importlib.import_module(path)
    for name, obj in OLD_PATHS[path].items():
        assert getattr(module, name) is obj, f"{path}.{name}"
    assert set(OLD_PATHS[path]) <= set(module.__all__)


def test_the_package_exports_the_symmetric_names_and_the_old_ones_as_aliases():
    assert loopback.BinanceLoopback is binance.BinanceLoopback
    assert loopback.BybitLoopback is bybit.BybitLoopback
    assert loopback.point_binance_at is binance.point_binance_at
    assert loopback.point_bybit_at is bybit.point_bybit_at
    assert loopback.serve_binance_in_subprocess is serve.serve_binance_in_subprocess
    assert loopback.serve_bybit_in_subprocess is serve.serve_bybit_in_subprocess
    assert loopback.ReplayExchange is loopback.BinanceLoopback
    assert loopback.BybitExchange is loopback.BybitLoopback
    assert loopback.point_ccxt_at is loopback.point_binance_at
    assert loopback.serve_in_subprocess is loopback.serve_binance_in_subprocess
    assert loopback.Faults is base.Faults
    assert loopback.PrivateFaults is private_side.PrivateFaults
    assert loopback.LAP_ID_GAP == 1_000
    for name in loopback.__all__:
        assert getattr(loopback, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = loopback.Nope


def test_btch_feeds_keeps_its_names_and_gains_the_new_ones():
    assert btch.feeds.ReplayExchange is loopback.BinanceLoopback
    assert btch.feeds.point_ccxt_at is loopback.point_binance_at
    assert btch.feeds.BinanceLoopback is loopback.BinanceLoopback
    assert btch.feeds.BybitLoopback is loopback.BybitLoopback
    assert btch.feeds.point_binance_at is loopback.point_binance_at
    assert btch.feeds.point_bybit_at is loopback.point_bybit_at


def test_both_servers_share_one_book_one_lifecycle_and_one_private_side():
    for server in (binance.BinanceLoopback, bybit.BybitLoopback):
        assert issubclass(server, base.LoopbackServer)
        assert issubclass(server, private_side.PrivateSide)
    assert isinstance(binance.BinanceLoopback().book, LevelBook)
    assert isinstance(bybit.BybitLoopback().book, LevelBook)


def test_the_synthetic_data_loads_neither_ccxt_nor_aiohttp():
    code = (
        "import sys\n"
        "import backtrader_channels.loopback.synthetic\n"
        "import backtrader_channels.testing.synthetic\n"
        "print(sorted(m for m in ('ccxt', 'aiohttp') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_subprocess_server_of_an_unknown_kind_or_mode_is_refused_by_name():
    with pytest.raises(ValueError, match="kind='kraken': must be one of 'binance', 'bybit'"):
        serve.serve_loopback("kraken")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="trades_only"):
        serve.serve_loopback("bybit", trades_only=True)
