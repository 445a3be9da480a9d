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
