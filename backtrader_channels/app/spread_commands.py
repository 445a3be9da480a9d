"""The ``spread`` command: the cross-venue spread scanner on recorded data of several venues
(the bundled Binance and Bybit samples by default) or live on several venues' feeds; read-only
unless ``--hedge`` (paper fills)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import TYPE_CHECKING

from ..btypes import JsonDict
from .usage import UsageError

if TYPE_CHECKING:
    from ..cerebro import Cerebro
    from ..execution.broker import CCXTBroker
    from ..live.venue_parts import CcxtExchange
    from ..spread.scanner import Signal
    from .cli import _Parser
    from .live_commands import KeyedServer

#: the bundled Binance recording's first exchange time (ms): where the replays start
ORIGIN_MS = 1_723_161_255_300


def parse_fees(values: list[str] | None, default_bps: float = 1.0) -> dict[str, float]:
    """``--fee 1.5`` (every venue) and ``--fee bybit=2`` (one venue), in bps, as fractions by
    venue (``"*"``: the rest)."""
    fees = {"*": default_bps / 1e4}
    for v in values or []:
        venue, _, bps = v.rpartition("=")
        try:
            fees[venue or "*"] = float(bps) / 1e4
        except ValueError:
            raise UsageError(f"--fee {v!r}: give bps (e.g. 1.5) or VENUE=BPS") from None
    return fees


def _venue_data(values: list[str] | None) -> list[tuple[str, list[str]]]:
    """``--venue NAME=PATH[,PATH...]`` (trades and book files of one venue)."""
    import backtrader_channels as btch

    if not values:
        return [
            (s.venue, [s.trades, s.orderbook])
            for s in (btch.datasets.binance_btcusdt_sample(), btch.datasets.bybit_btcusdt_sample())
        ]
    out = []
    for v in values:
        name, _, paths = v.partition("=")
        if not name or not paths:
            raise UsageError(f"--venue {v!r}: give NAME=FILE[,FILE...] (trades and book)")
        out.append((name, [p for p in paths.split(",") if p]))
    if len(out) < 2:
        raise UsageError("a spread needs two venues or more (--venue twice)")
    return out


def _add_recorded(cerebro: Cerebro, symbol: str, venues: list[tuple[str, list[str]]]) -> None:
    from ..sources.convert import contents

    for venue, paths in venues:
        for path in paths:
            kinds = {k for k, _ in contents(path, symbol=symbol)}
            for kind in sorted(kinds & {"tick", "quote", "orderbook"}):
                cerebro.add_channel(kind, symbol, path, venue=venue)


def _add_live(
    cerebro: Cerebro, args: argparse.Namespace, symbol: str, keyed: dict[str, CcxtExchange]
) -> list[KeyedServer]:
    """Live feeds (trades and books) for each ``--exchange``; with ``--replay-server``, a
    loopback Binance and a loopback Bybit replaying the bundled recordings. With ``--real``,
    ``keyed`` gets each venue's keyed client (the loopback servers' own keys, or the user's:
    ``--keys VENUE=FILE`` or the environment)."""
    from ..live.ccxt_feed import CCXTLiveFeed
    from ..live.keys import exchange_from
    from ..venues import profile

    servers: list[KeyedServer] = []
    exchanges = args.exchange or loopback_venues()
    for name in exchanges:
        exchange: str | CcxtExchange = name
        if args.replay_server:
            found = profile(name)
            if found is None or found.loopback is None:
                raise UsageError(
                    f"no replay server speaks {name}: the loopback venues are "
                    f"{', '.join(loopback_venues())}"
                )
            loopback = found.loopback()
            # every replay in real time on one timeline (the Binance recording's start)
            srv: KeyedServer = loopback.server(
                speed=1.0,
                origin_ms=ORIGIN_MS,
                start_when=2,
                loop_forever=True,
                balances={"USDT": args.cash / 2, "BTC": 5 * args.size},
            )
            port = srv.start()
            servers.append(srv)
            exchange = loopback.point_at(name, port)
            point = loopback.point_at
            if args.real:
                own = exchange_from(name, None, apiKey=srv.api_key, secret=srv.api_secret)
                keyed[name] = point(own, port)
        elif args.real:
            keyed[name] = exchange_from(name, (args.keys or {}).get(name))
            if not keyed[name].apiKey:
                raise UsageError(
                    f"--real needs API keys for {name}: set {name.upper()}_API_KEY and "
                    f"{name.upper()}_API_SECRET, or give --keys {name}=FILE"
                )
        cerebro.add_live_feed(
            CCXTLiveFeed(exchange, [symbol], channels=["tick", "orderbook"], venue=name)
        )
    return servers


def run_spread_command(args: argparse.Namespace) -> int:
    """Run ``backtrader-channels spread``; return the exit code."""
    from ..cerebro import Cerebro, RunMode
    from ..spread import SpreadStrategy

    symbol = args.symbol
    fees = parse_fees(args.fee, args.default_fee_bps)
    if args.real and not (args.live and args.hedge):
        raise UsageError("--real trades the hedges with real orders: give --live and --hedge")
    args.keys = _venue_files(args.keys)
    cerebro = Cerebro(stdstats=False)
    cerebro.broker.setcash(args.cash)
    servers: list[KeyedServer] = []
    keyed: dict[str, CcxtExchange] = {}
    try:
        if args.live:
            servers = _add_live(cerebro, args, symbol, keyed)
            where = "live" + (" (loopback replay servers)" if args.replay_server else "")
            if args.real:
                cerebro.setbroker(_real_broker(args, keyed))
        else:
            venues = _venue_data(args.venue)
            _add_recorded(cerebro, symbol, venues)
            where = "backtest" + ("" if args.venue else " of the bundled two-venue sample")
        cerebro.addstrategy(
            SpreadStrategy,
            symbol=symbol,
            fees=fees,
            threshold_bps=args.threshold_bps,
            stale_after_s=args.stale_after,
            hedge=args.hedge,
            size=args.size,
        )
        strats = cerebro.run(mode=RunMode.TICK, duration=args.duration)
    finally:
        for srv in servers:
            srv.stop()
    strat = strats[0]
    report = strat.report()
    report["mode"] = where
    report["fees"] = fees
    report["run"] = {
        k: cerebro.last_run.get(k) for k in ("events", "fills", "pnl", "exposure", "by_venue")
    }
    if args.real:
        execution = cerebro.last_run.get("execution") or {}
        report["run"]["fills"] = execution.get("fills", 0)
        report["run"]["execution"] = execution
    report["orders"] = "real" if args.real else ("paper" if args.hedge else None)
    if cerebro.last_run.get("anomalies"):
        report["run"]["anomalies"] = cerebro.last_run["anomalies"]
    print(format_spread(report, strat.signals[: args.show], args.hedge, args.real))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2, default=str)
    return 0


def _when(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[
        :-3
    ]


def _venue_files(values: list[str] | None) -> dict[str, str]:
    """``--keys VENUE=FILE`` values as ``{venue: file}``."""
    out = {}
    for value in values or []:
        venue, sep, path = value.partition("=")
        if not sep or not venue or not path:
            raise UsageError(f"--keys {value!r}: expected VENUE=FILE")
        out[venue] = path
    return out


def _real_broker(args: argparse.Namespace, keyed: dict[str, CcxtExchange]) -> CCXTBroker:
    """One CCXTBroker over every venue, each with its own risk limits."""
    from ..execution.broker import CCXTBroker
    from ..execution.risk import RiskLimits

    cap = args.max_position if args.max_position is not None else 10 * args.size
    risk = {v: RiskLimits(max_position=cap, max_orders_per_second=10.0) for v in keyed}
    return CCXTBroker(keyed, risk=risk, journal=args.journal)


def format_spread(report: JsonDict, signals: list[Signal], hedge: bool, real: bool = False) -> str:
    """The scanner's report as text: the signals, then each venue's feed health."""
    venues = sorted(report["health"])
    fee_text = ", ".join(
        f"{v} {report['fees'].get(v, report['fees']['*']) * 1e4:g} bps" for v in venues
    )
    best = report["max_net_bps"]
    lines = [
        f"Spread scanner: {report['symbol']} on {', '.join(venues)} ({report['mode']}; "
        + (
            "hedging with real orders)"
            if real
            else "hedging with paper fills)"
            if hedge
            else "read-only)"
        ),
        f"signals: {report['signals']} (taker fees {fee_text}); best net "
        + (f"{best:.2f} bps" if best is not None else "none above the threshold"),
    ]
    if signals:
        lines.append(
            f"  {'time (UTC)':<23} {'buy on':<8} {'ask':>10} {'sell on':<8} {'bid':>10} "
            f"{'size':>9} {'gross':>6} {'net bps':>7}"
        )
        lines.extend(
            f"  {_when(s.timestamp):<23} {s.buy_venue:<8} {s.buy_price:>10.2f} "
            f"{s.sell_venue:<8} {s.sell_price:>10.2f} {s.size:>9.5f} {s.gross_bps:>6.2f} "
            f"{s.net_bps:>7.2f}"
            for s in signals
        )
        if report["signals"] > len(signals):
            lines.append(f"  ... and {report['signals'] - len(signals)} more")
    lines.append("feeds:")
    lines.append(
        f"  {'venue':<10} {'updates':>8} {'per s':>6} {'mean/s':>7} {'last age s':>10} "
        f"{'longest gap s':>13} {'went stale':>10}  now"
    )
    for v in venues:
        h = report["health"][v]
        lines.append(
            f"  {v:<10} {h['updates']:>8} {h['per_second']:>6} {h['mean_per_second']:>7.1f} "
            f"{h['last_age_s']:>10.3f} {h['longest_gap_s']:>13.3f} {h['went_stale']:>10}  "
            + ("STALE" if h["stale"] else "ok")
        )
    run = report["run"]
    if hedge:
        lines.append(
            f"hedges: {report['hedges']} (skipped {report['skipped']}), fills {run['fills']}, "
            f"pnl {run['pnl']:.4f}, net exposure {run['exposure']}"
        )
        lines.extend(f"  refused: {why}" for why in report["refused"][:5])
    if real:
        by_venue = run["execution"].get("by_venue") or {}
        lines.append(
            "orders: "
            + ", ".join(
                f"{v} {s['orders']} ({s['fills']} fills, protection {s['protection'] or 'none'})"
                for v, s in sorted(by_venue.items())
            )
        )
    for key, counts in (run.get("anomalies") or {}).items():
        lines.append(f"anomalies {key}: {counts}")
    return "\n".join(lines)


def add_spread_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    """The ``spread`` subcommand's arguments."""
    sp = sub.add_parser(
        "spread",
        help="scan the spread of one symbol across venues (bundled two-venue sample by default)",
        description="Each venue's best bid/ask on one timeline, the cross-venue spread net of "
        "each venue's taker fee, a signal when it passes --threshold-bps, and each feed's "
        "health. Read-only: no order is sent (--hedge trades the signals with paper fills). "
        "Recorded data by default (the bundled Binance sample and its Bybit-format copy, 150 "
        "ms later); --live on live feeds (--replay-server: loopback Binance and Bybit).",
    )
    sp.add_argument("--symbol", default="BTC/USDT", help="symbol (default BTC/USDT)")
    sp.add_argument(
        "--venue",
        action="append",
        metavar="NAME=FILES",
        help="a venue's recorded trades/book files, comma-separated (repeatable)",
    )
    sp.add_argument("--live", action="store_true", help="live feeds instead of recorded data")
    sp.add_argument("--exchange", action="append", help="--live: ccxt ids (binance, bybit)")
    sp.add_argument("--replay-server", action="store_true", help="--live: loopback exchanges")
    sp.add_argument("--duration", type=float, help="--live: stop after this many seconds")
    sp.add_argument(
        "--fee", action="append", metavar="[VENUE=]BPS", help="taker fee in bps (repeatable)"
    )
    sp.add_argument(
        "--default-fee-bps", type=float, default=1.0, help="fee of venues not named (1.0)"
    )
    sp.add_argument("--threshold-bps", type=float, default=1.0, help="net spread signal (1.0)")
    sp.add_argument("--stale-after", type=float, default=2.0, metavar="S", help="stale (2.0 s)")
    sp.add_argument("--hedge", action="store_true", help="trade the signals (paper fills)")
    sp.add_argument(
        "--real",
        action="store_true",
        help="--live --hedge: real orders on every venue (keys from --keys or the environment)",
    )
    sp.add_argument("--keys", action="append", metavar="VENUE=FILE", help="--real: a key file")
    sp.add_argument(
        "--max-position", type=float, help="--real: position limit per venue (10 x --size)"
    )
    sp.add_argument("--journal", metavar="FILE", help="--real: the order journal (JSON lines)")
    sp.add_argument("--size", type=float, default=0.001, help="--hedge: size per leg (0.001)")
    sp.add_argument("--cash", type=float, default=100_000.0, help="paper cash (100000)")
    sp.add_argument("--show", type=int, default=10, help="signals to print (10)")
    sp.add_argument("--json", metavar="FILE", help="write the report as JSON")
    sp.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.duration is None and args.live:
        print("live scan until Ctrl-C (or --duration)", file=sys.stderr)
    return run_spread_command(args)


def loopback_venues() -> list[str]:
    """The venues a loopback server speaks (``--replay-server``), from their profiles."""
    from ..venues import PROFILES

    return [name for name, p in PROFILES.items() if p.loopback is not None]
