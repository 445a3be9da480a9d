"""Command line: ``backtrader-channels`` / ``python -m backtrader_channels``."""

from __future__ import annotations

import argparse
import json
import sys

from . import __version__

FORMAT_CHOICES = ("native", "tardis", "binance", "binance_ws")


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo
    from .report import format_report

    report = run_demo()
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print("Order-book scalper on Binance BTC/USDT (bundled real sample, tick mode)\n")
        print(format_report(report))
    return 0


def _convert(args: argparse.Namespace) -> int:
    from .sources.convert import convert

    summary = convert(
        args.src, args.dst, format=args.format, symbols=args.symbol or None, on_error=args.on_error
    )
    for key, n in summary["events"].items():
        print(f"{key:<30} {n:>12,} events")
    print(f"wrote {summary['rows_written']:,} rows in {summary['files']} files under {args.dst}")
    for src, reasons in summary["skipped"].items():
        for reason, n in reasons.items():
            print(f"skipped {n:,} rows of {src}: {reason}")
    return 0


def _live(args: argparse.Namespace) -> int:
    from .live_cli import run_live_command

    return run_live_command(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the CLI."""
    parser = argparse.ArgumentParser(
        prog="backtrader-channels",
        description="Tick and order-book backtests for backtrader strategies.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="backtest an example strategy on the bundled real sample")
    demo.add_argument("--json", action="store_true", help="print the report as JSON")
    demo.set_defaults(func=_demo)
    conv = sub.add_parser(
        "convert",
        help="rewrite recorded data as partitioned native Parquet",
        description="Rewrite any supported input (native CSV/Parquet, Tardis CSV, Binance dumps, "
        "raw Binance WebSocket captures) into DST/channel=*/symbol=*/date=*/part-*.parquet.",
    )
    conv.add_argument("src", nargs="+", help="input files, directories or globs")
    conv.add_argument("dst", help="output directory")
    conv.add_argument("--format", choices=FORMAT_CHOICES, help="input format (default: detect)")
    conv.add_argument("--symbol", action="append", help="only this symbol (repeatable)")
    conv.add_argument(
        "--on-error",
        choices=("raise", "skip"),
        default="raise",
        help="stop at the first bad row (default) or skip and count bad rows",
    )
    conv.set_defaults(func=_convert)
    live = sub.add_parser(
        "live",
        help="run a strategy on live ccxt.pro data (paper trading)",
        description="Run a strategy on live WebSocket data through ccxt.pro with the paper broker. "
        "--replay-server starts a local exchange replaying a real recording, to try live mode "
        "without an account or network.",
    )
    live.add_argument(
        "strategy",
        nargs="?",
        default=None,
        help="module:Class or path.py:Class (default: the demo scalper)",
    )
    live.add_argument("--exchange", default="binance", help="ccxt exchange id (default binance)")
    live.add_argument("--symbol", action="append", help="symbol, e.g. BTC/USDT (repeatable)")
    live.add_argument(
        "--channels",
        default="tick,orderbook,quote",
        help="comma-separated channel types (default: tick,orderbook,quote)",
    )
    mode = live.add_mutually_exclusive_group()
    mode.add_argument("--paper", action="store_true", help="simulated fills (the default)")
    mode.add_argument("--real", action="store_true", help="real orders (not available yet)")
    live.add_argument("--record", metavar="DIR", help="record every event under DIR")
    live.add_argument(
        "--replay-server",
        action="store_true",
        help="start the loopback replay exchange and connect to it",
    )
    live.add_argument("--duration", type=float, help="stop after this many seconds")
    live.add_argument("--max-events", type=int, help="stop after this many events")
    live.add_argument("--cash", type=float, default=10_000.0, help="paper cash (default 10000)")
    live.set_defaults(func=_live)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 run error, 2 usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 1
    except Exception as exc:  # one clear line, not a traceback
        if type(exc).__name__ == "UsageError":
            print(f"backtrader-channels: error: {exc}", file=sys.stderr)
            return 2
        print(f"backtrader-channels: error: {exc}", file=sys.stderr)
        return 1
