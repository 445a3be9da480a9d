"""Command line: ``backtrader-channels`` / ``python -m backtrader_channels``."""

from __future__ import annotations

import argparse
import json
import sys

from . import __version__


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
    except Exception as exc:  # one clear line, not a traceback
        print(f"backtrader-channels: error: {exc}", file=sys.stderr)
        return 1
