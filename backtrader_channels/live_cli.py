"""The ``live`` command: a strategy on live data, paper broker, anomaly report at the end."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
from typing import Any


class UsageError(ValueError):
    """A bad command-line argument (exit code 2)."""


def load_strategy(spec: str) -> Any:
    """``module:Class`` or ``path/to/file.py:Class`` -> the class."""
    if ":" not in spec:
        raise UsageError(f"strategy {spec!r}: use module:Class or path.py:Class")
    where, name = spec.rsplit(":", 1)
    if where.endswith(".py"):
        if not os.path.isfile(where):
            raise UsageError(f"strategy file {where} not found")
        name_ = "btch_user_" + os.path.splitext(os.path.basename(where))[0]
        mod_spec = importlib.util.spec_from_file_location(name_, where)
        if mod_spec is None or mod_spec.loader is None:
            raise UsageError(f"cannot load {where}")
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules[name_] = module  # backtrader registers classes in their module
        mod_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise UsageError(f"cannot import {where}: {exc}") from exc
    if not hasattr(module, name):
        raise UsageError(f"{where} has no {name}")
    return getattr(module, name)


def run_live_command(args: argparse.Namespace, strategy: Any = None) -> int:
    """Run ``backtrader-channels live``; return the exit code."""
    import ccxt.pro as ccxtpro

    from .demo import BookImbalanceScalper
    from .engine.cerebro import Cerebro, RunMode
    from .feeds.ccxt_feed import CCXTLiveFeed
    from .feeds.replay_server import ReplayExchange, point_ccxt_at
    from .report import format_report, run_report

    if args.real:
        print(
            "backtrader-channels: error: real order routing is not available yet; "
            "live runs use the paper broker",
            file=sys.stderr,
        )
        return 2
    symbols = args.symbol or ["BTC/USDT"]
    channels = [c.strip() for c in args.channels.split(",") if c.strip()]
    if strategy is None:
        strategy = load_strategy(args.strategy) if args.strategy else BookImbalanceScalper
    server = None
    if args.replay_server:
        if args.exchange != "binance" or symbols != ["BTC/USDT"]:
            raise UsageError("the replay server speaks Binance and replays BTC/USDT")
        server = ReplayExchange(rate=200.0, start_when=len(channels), loop_forever=True)
        port = server.start()
        exchange: Any = point_ccxt_at(ccxtpro.binance(), port)
        print(f"replay exchange on 127.0.0.1:{port}", file=sys.stderr)
    else:
        exchange = args.exchange
    feed = CCXTLiveFeed(exchange, symbols, channels=channels, record_to=args.record)
    cerebro = Cerebro(stdstats=False)
    cerebro.broker.setcash(args.cash)
    cerebro.add_live_feed(feed)
    cerebro.addstrategy(strategy)
    try:
        strats = cerebro.run(mode=RunMode.TICK, duration=args.duration, max_events=args.max_events)
    finally:
        if server is not None:
            server.stop()
    print(format_report(run_report(cerebro, strats[0])))
    print(
        "anomalies: "
        + json.dumps(
            {
                k: {a: n for a, n in v.items() if a != "details"}
                for k, v in feed.anomaly_report().items()
            }
        )
    )
    return 0
