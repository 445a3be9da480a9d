"""The ``live`` and ``record`` commands: live data through ccxt.pro, paper broker, report."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .usage import UsageError, load_strategy


def run_live_command(args: argparse.Namespace, strategy: Any = None) -> int:
    """Run ``backtrader-channels live``; return the exit code."""
    from ..cerebro import Cerebro, RunMode
    from ..live.ccxt_feed import CCXTLiveFeed
    from ..testing.replay_exchange import ReplayExchange, point_ccxt_at
    from .demo import BookImbalanceScalper
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
        exchange: Any = point_ccxt_at("binance", port)
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
    return 0


def run_record_command(args: argparse.Namespace) -> int:
    """``backtrader-channels record``: live data to the native layout, no strategy."""
    import backtrader as bt

    if not args.out:
        raise UsageError("record needs --out DIR")
    args.record = args.out
    args.real = False
    args.cash = 10_000.0
    args.strategy = None
    return run_live_command(args, strategy=bt.Strategy)
