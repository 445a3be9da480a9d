"""The ``live``, ``record`` and ``smoke`` commands: live data through ccxt.pro, the paper
broker or real orders (``--real``), the run report; the order-path smoke check."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, TypeAlias

from ..btypes import BtStrategyClass
from .usage import UsageError, load_strategy, parse_params

if TYPE_CHECKING:
    from ..execution.broker import CCXTBroker
    from ..live.venue_parts import CcxtExchange
    from ..venues.profile import Loopback

#: the exit code of a run ended by Ctrl-C (128 + SIGINT), as a shell reports it
EXIT_INTERRUPTED = 130
#: a venue's loopback server (``--replay-server``) and the keys of its account (``api_key``,
#: ``api_secret``): every registered one has them (``loopback.private_side``), but the venue
#: profile types its servers as the plain ``LoopbackServer``, which has none: left untyped
KeyedServer: TypeAlias = Any


def _check_paper_args(args: argparse.Namespace) -> None:
    """``--cash`` and ``--commission`` are the paper broker's: refused with ``--real``."""
    if not args.real:
        return
    for flag, value in (("--cash", args.cash), ("--commission", getattr(args, "commission", None))):
        if value is not None:
            raise UsageError(
                f"{flag} sets the paper broker's; with --real the account's balance and the "
                "venue's fees count: drop it"
            )


def run_live_command(args: argparse.Namespace, strategy: BtStrategyClass | None = None) -> int:
    """Run ``backtrader-channels live``; return the exit code (130 after Ctrl-C)."""
    from ..cerebro import Cerebro, RunMode
    from ..live.ccxt_feed import CCXTLiveFeed
    from .demo import BookImbalanceScalper
    from .report import format_report, strategy_report

    symbols = args.symbol or ["BTC/USDT"]
    channels = [c.strip() for c in args.channels.split(",") if c.strip()]
    _check_paper_args(args)
    if strategy is None:
        strategy = load_strategy(args.strategy) if args.strategy else BookImbalanceScalper
    params = parse_params(getattr(args, "param", None), strategy)
    server = None
    port = 0
    if args.replay_server:
        loopback = _loopback(args.exchange, symbols)
        server = loopback.server(rate=200.0, start_when=len(channels), loop_forever=True)
        port = server.start()
        exchange: str | CcxtExchange = loopback.point_at(args.exchange, port)
        print(f"replay exchange on 127.0.0.1:{port}", file=sys.stderr)
    else:
        exchange = args.exchange
    cerebro = Cerebro(stdstats=False)
    try:
        if args.real:
            cerebro.setbroker(_real_broker(args, server, port))
            print("real orders: CCXTBroker, journal " + args.journal, file=sys.stderr)
        else:
            cerebro.broker.setcash(args.cash if args.cash is not None else 10_000.0)
            if getattr(args, "commission", None):
                cerebro.broker.setcommission(commission=args.commission)
            print("paper broker: simulated fills, no order reaches the exchange", file=sys.stderr)
        feed = CCXTLiveFeed(exchange, symbols, channels=channels, record_to=args.record)
        cerebro.add_live_feed(feed)
        cerebro.addstrategy(strategy, **params)
        strats = cerebro.run(mode=RunMode.TICK, duration=args.duration, max_events=args.max_events)
    finally:
        if server is not None:
            server.stop()
    report = strategy_report(cerebro, strats[0])
    print(format_report(report))
    ended = cerebro.last_run.get("ended", "")
    if server is not None and server.lap:
        print(
            f"replay exchange: {server.lap + 1} laps of the recording; each new lap restarts "
            "the venue's book (a sequence break: one book_resync per lap)",
            file=sys.stderr,
        )
    execution = cerebro.last_run.get("execution") or {}
    stopped = execution.get("kill_switch") or execution.get("protection", {}).get("reconcile")
    if stopped and not stopped.startswith("reconciliation pending"):
        print(f"backtrader-channels: error: {stopped}", file=sys.stderr)
        return 1
    if ended == "interrupted":
        print("backtrader-channels: interrupted (Ctrl-C): the run stopped early", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _real_broker(args: argparse.Namespace, server: KeyedServer | None, port: int) -> CCXTBroker:
    """The CCXTBroker of ``live --real``: keys from --config or the environment."""
    from ..execution.broker import CCXTBroker
    from ..execution.risk import RiskLimits

    ex = _keyed_exchange(args, server, port)
    if not getattr(ex, "apiKey", None) or not getattr(ex, "secret", None):
        raise UsageError(
            f"--real needs API keys: --config FILE (JSON with apiKey and secret) or "
            f"{args.exchange.upper()}_API_KEY and {args.exchange.upper()}_API_SECRET"
        )
    kill = None
    if args.kill_after:
        n, _, seconds = args.kill_after.partition(",")
        try:
            kill = (int(n), float(seconds or 60))
        except ValueError:
            raise UsageError(f"--kill-after {args.kill_after!r}: N,SECONDS, e.g. 3,60") from None
    risk = RiskLimits(
        max_order_notional=args.max_order_notional,
        max_position=args.max_position,
        max_open_orders=args.max_open_orders,
        max_orders_per_second=args.max_orders_per_second,
        kill_after=kill,
    )
    return CCXTBroker(
        ex, journal=args.journal, risk=risk, ready_timeout=getattr(args, "ready_timeout", 30.0)
    )


def _loopback(exchange: str, symbols: list[str] | None) -> Loopback:
    """The loopback server of ``exchange`` (its venue profile's), checked to replay
    ``symbols``; a UsageError naming the venues and symbols there are otherwise."""
    from ..venues import PROFILES, profile

    found = profile(exchange)
    if found is None or found.loopback is None:
        have = ", ".join(n for n, p in PROFILES.items() if p.loopback is not None)
        raise UsageError(f"no replay server speaks {exchange}: the loopback venues are {have}")
    loopback = found.loopback()
    if symbols is not None and any(s not in loopback.symbols for s in symbols):
        raise UsageError(
            f"the {exchange} replay server replays {', '.join(loopback.symbols)}, not "
            f"{', '.join(s for s in symbols if s not in loopback.symbols)}"
        )
    return loopback


def _keyed_exchange(
    args: argparse.Namespace, server: KeyedServer | None, port: int, secret: str | None = None
) -> CcxtExchange:
    """A keyed ccxt.pro instance: the loopback venue's own keys (``server``), else the keys of
    ``--config`` or the environment (``secret`` overrides the key's secret, for a test)."""
    from ..live.ccxt_feed import exchange_from

    if server is not None:
        keys = {"apiKey": server.api_key, "secret": secret or server.api_secret}
        loopback = _loopback(args.exchange, None)  # (its symbols checked when it started)
        return loopback.point_at(exchange_from(args.exchange, None, **keys), port)
    try:
        return exchange_from(args.exchange, args.config)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def run_smoke_command(args: argparse.Namespace) -> int:
    """``backtrader-channels smoke``: place, see, cancel, see cancelled one tiny order."""
    import asyncio

    from ..execution.smoke import SmokeError, format_timeline, smoke

    server = None
    if args.config:  # read and checked in every mode, the loopback's too
        from ..live.keys import credentials

        try:
            credentials(args.exchange, args.config)
        except (OSError, ValueError) as exc:
            raise UsageError(f"--config: {exc}") from None
    try:
        port = 0
        if args.replay_server:
            server = _loopback(args.exchange, [args.symbol]).server(rate=200.0, loop_forever=True)
            port = server.start()
        wrong = "wrong" if args.bad_keys_for_test else None
        ex = _keyed_exchange(args, server, port, secret=wrong)
        timeline = asyncio.run(smoke(ex, args.symbol, args.qty, args.price_offset, args.timeout))
    except SmokeError as exc:
        print(f"backtrader-channels smoke: FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
    print(format_timeline(timeline))
    print(
        f"smoke: OK ({args.exchange} {args.symbol}: placed, seen open, cancelled, seen cancelled)"
    )
    return 0


def run_record_command(args: argparse.Namespace) -> int:
    """``backtrader-channels record``: live data to the native layout, no strategy."""
    import backtrader as bt

    if not args.out:
        raise UsageError("record needs --out DIR")
    args.record = args.out
    args.real = False
    args.cash, args.commission = 10_000.0, None
    args.strategy = None
    return run_live_command(args, strategy=bt.Strategy)
