"""Command line: ``backtrader-channels`` / ``python -m backtrader_channels``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from typing import NoReturn, TextIO

from .. import __version__
from ..errors import ChannelError, DataError
from ..log import logger
from ..sources.schema import FORMATS as FORMAT_CHOICES
from ..sources.schema import ON_ERROR
from ..sources.venues import MARKETS
from ..sweep.metrics import METRICS
from .spread_commands import add_spread_parser
from .usage import UsageError, user_frames


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
    from ..sources.convert import convert

    summary = convert(
        args.src,
        args.dst,
        format=args.format,
        symbols=args.symbol or None,
        on_error=args.on_error,
        progress=args.progress,
        venue=args.venue,
        market=args.market,
    )
    for key, n in summary["events"].items():
        print(f"{key:<40} {n:>12,} events")
    print(f"wrote {summary['rows_written']:,} rows in {summary['files']} files under {args.dst}")
    for key in summary.get("unknown", []):
        print(f"venue or market unknown for {key}: the data does not say; give --venue/--market")
    for src, reasons in summary["skipped"].items():
        for reason, n in reasons.items():
            print(f"skipped {n:,} rows of {src}: {reason}")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from .backtest_commands import run_backtest_command

    return run_backtest_command(args)


def _inspect(args: argparse.Namespace) -> int:
    from .backtest_commands import run_inspect_command

    return run_inspect_command(args)


def _record(args: argparse.Namespace) -> int:
    from .live_commands import run_record_command

    return run_record_command(args)


def _live(args: argparse.Namespace) -> int:
    from .live_commands import run_live_command

    return run_live_command(args)


def _smoke(args: argparse.Namespace) -> int:
    from .live_commands import run_smoke_command

    return run_smoke_command(args)


def _sweep(args: argparse.Namespace) -> int:
    from .sweep_commands import run_sweep_command

    return run_sweep_command(args)


def _add_data_args(p: argparse.ArgumentParser) -> None:
    """What ``backtest`` and ``sweep`` read: data, symbols, cash, commission, time span."""
    p.add_argument(
        "--data",
        action="append",
        required=True,
        metavar="PATH",
        help="file, directory or glob (repeatable)",
    )
    p.add_argument("--format", choices=FORMAT_CHOICES, help="input format (default: detect)")
    p.add_argument("--symbol", action="append", help="only these symbols (repeatable)")
    p.add_argument("--cash", type=float, default=10_000.0, help="starting cash (default 10000)")
    p.add_argument(
        "--commission",
        type=float,
        default=0.0,
        help="commission per trade, a fraction of value (e.g. 0.001)",
    )
    p.add_argument(
        "--lot",
        type=float,
        metavar="STEP",
        help="size orders from sizers and order_target_* in fractions of a unit, rounded down "
        "to STEP (e.g. 0.00001; default: whole units, as backtrader)",
    )
    p.add_argument(
        "--venue",
        metavar="V",
        help="the venue to read where the data holds a symbol on several (also names the "
        "channels' venue)",
    )
    p.add_argument(
        "--market",
        choices=MARKETS,
        help="the market to read where the data holds a symbol in several",
    )
    p.add_argument("--from", dest="from", metavar="TIME", help="start (ISO time, UTC)")
    p.add_argument("--to", metavar="TIME", help="end, exclusive (ISO time, UTC)")
    p.add_argument(
        "--book-hear",
        default="all",
        metavar="WHAT",
        help="what strategies hear of order books: all (default), best (best-price changes), "
        "none, or N (at most one update per N ms); anything but all takes the fast L2 path",
    )
    p.add_argument(
        "--fill-profile",
        choices=("default", "hftbacktest"),
        default="default",
        help="the broker's fill rules (docs/concepts.md, 'Fill rules')",
    )
    p.add_argument(
        "--on-error",
        choices=ON_ERROR,
        default="raise",
        help="bad rows: stop (default) or skip and count",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: when stderr is a terminal)",
    )


def _add_sweep_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    sw = sub.add_parser(
        "sweep",
        help="run a strategy over a parameter grid (or an Optuna search), ranked by a metric",
        description="Run STRATEGY once per parameter set on recorded data, in worker processes "
        "(--jobs) or on a Ray cluster (--ray), and print the runs ranked by --metric. "
        "Values: n=10,20,30 (a list), k=1..5 (integers), x=0.1..0.5:0.1 (a stepped range).",
    )
    sw.add_argument("strategy", help="module:Class or path/to/file.py:Class")
    _add_data_args(sw)
    sw.add_argument(
        "--param", action="append", metavar="K=VALUES", help="values to sweep (repeatable)"
    )
    where = sw.add_mutually_exclusive_group()
    where.add_argument("--jobs", type=int, help="local worker processes (default: every core)")
    where.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run on the Ray cluster at ADDRESS (HOST:PORT, ray://..., auto; local: start one)",
    )
    sw.add_argument("--metric", choices=METRICS, default="pnl", help="rank by (default pnl)")
    sw.add_argument(
        "--split-days", action="store_true", help="one run per parameter set and day, added up"
    )
    sw.add_argument(
        "--walk-forward",
        metavar="FIT[:TEST]",
        help="walk forward: fit on FIT days, test on the next TEST (default 1)",
    )
    sw.add_argument("--search", type=int, metavar="N", help="N Optuna trials instead of a grid")
    sw.add_argument("--seed", type=int, default=0, help="the search's seed (default 0)")
    sw.add_argument(
        "--retries", type=int, default=1, help="reruns of a failed run before it is reported"
    )
    sw.add_argument("--json", metavar="FILE", help="write the ranked runs as JSON")
    sw.set_defaults(func=_sweep)


def _add_real_args(p: argparse.ArgumentParser) -> None:
    """Keys, journal and risk limits of ``live --real``."""
    p.add_argument("--config", metavar="FILE", help="JSON with apiKey and secret (--real)")
    p.add_argument("--journal", default="orders.jsonl", help="order journal (orders.jsonl)")
    p.add_argument("--max-order-notional", type=float, metavar="Q", help="per order, quote ccy")
    p.add_argument("--max-position", type=float, metavar="B", help="per symbol, base units")
    p.add_argument("--max-open-orders", type=int, metavar="N")
    p.add_argument("--max-orders-per-second", type=float, metavar="R")
    p.add_argument("--kill-after", metavar="N,S", help="N faults within S seconds: stop")


def _add_connection_args(p: argparse.ArgumentParser) -> None:
    """Where live data comes from, and when the run ends (``live`` and ``record``)."""
    p.add_argument("--exchange", default="binance", help="ccxt exchange id (default binance)")
    p.add_argument("--symbol", action="append", help="symbol, e.g. BTC/USDT (repeatable)")
    p.add_argument(
        "--channels",
        default="tick,orderbook,quote",
        help="comma-separated channel types (default: tick,orderbook,quote)",
    )
    p.add_argument(
        "--replay-server",
        action="store_true",
        help="start the loopback replay exchange (a real recording) and connect to it",
    )
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--max-events", type=int, help="stop after this many events")


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the CLI."""
    parser = _Parser(
        prog="backtrader-channels",
        description="Tick and order-book backtests for backtrader strategies.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="on an error, print the whole traceback"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    demo = sub.add_parser("demo", help="backtest an example strategy on the bundled real sample")
    demo.add_argument("--json", action="store_true", help="print the report as JSON")
    demo.set_defaults(func=_demo)
    conv = sub.add_parser(
        "convert",
        help="rewrite recorded data as partitioned native Parquet",
        description="Rewrite any supported input (native CSV/Parquet, Tardis CSV, Binance dumps, "
        "raw Binance WebSocket captures, Bybit archives) into "
        "DST/channel=*/venue=*/market=*/symbol=*/date=*/part-*.parquet.",
    )
    conv.add_argument("src", nargs="+", help="input files, directories or globs")
    conv.add_argument("dst", help="output directory")
    conv.add_argument("--format", choices=FORMAT_CHOICES, help="input format (default: detect)")
    conv.add_argument("--symbol", action="append", help="only this symbol (repeatable)")
    conv.add_argument(
        "--on-error",
        choices=ON_ERROR,
        default="raise",
        help="stop at the first bad row (default) or skip and count bad rows",
    )
    conv.add_argument(
        "--venue", metavar="V", help="venue (ccxt id, e.g. binance) of data that does not say it"
    )
    conv.add_argument("--market", choices=MARKETS, help="market of data that does not say it")
    conv.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: when stderr is a terminal)",
    )
    conv.set_defaults(func=_convert)
    live = sub.add_parser(
        "live",
        help="run a strategy on live ccxt.pro data (paper trading, or --real orders)",
        description="Run a strategy on live WebSocket data through ccxt.pro with the paper broker "
        "(or with real orders through ccxt: --real, keys from --config or the environment). "
        "--replay-server starts a local exchange replaying a real recording, to try live mode "
        "without an account or network. Perpetuals (ccxt's BASE/QUOTE:SETTLE symbols, e.g. "
        "ETH/USDT:USDT) add the derivative channel (mark price, funding), trade on a margin "
        "account (--leverage) and report funding and liquidations; --replay-server --exchange "
        "binanceusdm replays the bundled ETH/USDT:USDT sample (real trades and book, generated "
        "marks and funding) once, with a funding-aware demo strategy.",
    )
    live.add_argument(
        "strategy",
        nargs="?",
        default=None,
        help="module:Class or path.py:Class (default: the demo scalper)",
    )
    _add_connection_args(live)
    mode = live.add_mutually_exclusive_group()
    mode.add_argument("--paper", action="store_true", help="simulated fills (the default)")
    mode.add_argument("--real", action="store_true", help="real orders through ccxt (needs keys)")
    live.add_argument("--record", metavar="DIR", help="record every event under DIR")
    live.add_argument("--param", action="append", metavar="K=V", help="strategy parameter")
    live.add_argument("--cash", type=float, help="paper cash (default 10000; not with --real)")
    live.add_argument(
        "--commission",
        type=float,
        help="paper commission per trade, a fraction of value (e.g. 0.001; a perpetual's maker "
        "and taker rate, else Binance's 0.02%%/0.05%%; not with --real)",
    )
    live.add_argument(
        "--ready-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="--real: seconds to wait for the venue (start reconciliation, private stream) "
        "before the strategy starts; not ready by then: exit 1 (default 30)",
    )
    live.add_argument(
        "--leverage",
        type=int,
        default=10,
        metavar="N",
        help="perpetuals: the leverage of each symbol (default 10; set at the venue with --real)",
    )
    live.add_argument(
        "--replay-rate",
        type=float,
        default=None,
        metavar="N",
        help="--replay-server (spot): the frames per second the looping replay sends (default "
        "200: about the real market's pace)",
    )
    live.add_argument(
        "--replay-speed",
        type=float,
        default=None,
        metavar="S",
        help="--replay-server --exchange binanceusdm: the replay's speed, 1 is real time "
        "(default 10: the 100 s sample in about 10 s)",
    )
    live.add_argument(
        "--alert",
        action="append",
        metavar="SPEC",
        help="send alerts (kill switch, stream down, corrections, unknown orders, near "
        "liquidation, run stopped) to webhook:URL or telegram:BOT_TOKEN:CHAT_ID (repeatable; "
        'also the --config file\'s "alerts" list)',
    )
    live.add_argument(
        "--dashboard",
        metavar="[HOST:]PORT",
        help="serve the run's dashboard (positions, orders, fills, equity, feed health; "
        "pause, resume, cancel all, stop) on 127.0.0.1:PORT (0: a free port); its URL, with "
        "the access token, is printed at the start",
    )
    live.add_argument(
        "--dashboard-allow-remote",
        action="store_true",
        help="let --dashboard bind a host that is not a loopback address (it controls the run)",
    )
    _add_real_args(live)
    live.set_defaults(func=_live)
    smoke = sub.add_parser(
        "smoke",
        help="check the real order path with one tiny order, and print its timeline",
        description="Place a limit buy far below the market, see it open on the exchange, "
        "cancel it and see it cancelled. Exits 0 when every step worked, 1 otherwise.",
    )
    smoke.add_argument("--exchange", default="binance", help="ccxt exchange id (default binance)")
    smoke.add_argument("--symbol", default="BTC/USDT", help="symbol (default BTC/USDT)")
    smoke.add_argument("--qty", type=float, required=True, help="order size (base units)")
    smoke.add_argument(
        "--price-offset", type=float, default=10.0, metavar="PCT", help="%% below the bid (10)"
    )
    smoke.add_argument("--timeout", type=float, default=30.0, metavar="S", help="seconds (30)")
    smoke.add_argument("--config", metavar="FILE", help="JSON with apiKey and secret")
    smoke.add_argument("--replay-server", action="store_true", help="against the loopback venue")
    smoke.add_argument("--bad-keys-for-test", action="store_true", help=argparse.SUPPRESS)
    smoke.set_defaults(func=_smoke)

    bt_ = sub.add_parser(
        "backtest",
        help="backtest a strategy on recorded data (tick mode)",
        description="Backtest STRATEGY (module:Class or path.py:Class) on recorded data; every "
        "channel and symbol found in the data is added. Prints the run report.",
    )
    bt_.add_argument("strategy", help="module:Class or path/to/file.py:Class")
    _add_data_args(bt_)
    bt_.add_argument("--param", action="append", metavar="K=V", help="strategy parameter")
    bt_.add_argument("--plot", metavar="PNG", help="write price/fills, equity and position")
    bt_.add_argument("--json", metavar="FILE", help="write the report as JSON")
    bt_.add_argument(
        "--report", metavar="HTML", help="write the interactive report (needs the report extra)"
    )
    bt_.set_defaults(func=_backtest)
    _add_sweep_parser(sub)
    from .data_commands import add_data_parser
    from .download_commands import add_download_parser

    add_download_parser(sub)
    add_data_parser(sub)
    add_spread_parser(sub)

    ins = sub.add_parser(
        "inspect",
        help="what is in a data file: channels, symbols, span, rows",
        description="Show the channels, symbols, time span, events and "
        "anomalies (bad rows, book gaps) of a data file or directory.",
    )
    ins.add_argument("path", help="file or directory")
    ins.add_argument("--format", choices=FORMAT_CHOICES, help="input format (default: detect)")
    ins.add_argument("--json", action="store_true", help="print JSON")
    ins.set_defaults(func=_inspect)

    rec = sub.add_parser(
        "record",
        help="record live data (no strategy) in the native layout",
        description="Record live WebSocket data through ccxt.pro into "
        "OUT/channel=*/venue=*/market=*/symbol=*/date=*/ Parquet, flushed every second.",
    )
    _add_connection_args(rec)
    rec.add_argument("--out", required=True, metavar="DIR", help="output directory")
    rec.set_defaults(func=_record)
    return parser


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """The CLI's handler on the package logger (added once per process). It writes to
    ``sys.stderr`` as it is at each record, as ``logging.lastResort`` does: ``main`` called in
    a process that swaps stderr later (a test runner's capture) must not keep a closed one."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def _log_to_stderr() -> None:
    """The package's warnings (reconnects, gaps, stalls, rejected events) on stderr."""
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("backtrader-channels: %(levelname)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 run error, 2 usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _log_to_stderr()
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 1
    except (UsageError, FileNotFoundError) as exc:  # the user's input: exit 2
        print(f"backtrader-channels: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the last resort: a clear message, exit code 1
        if args.debug:
            traceback.print_exc()
            return 1
        ours = isinstance(exc, (ChannelError, DataError))  # their messages say what and where
        what = f"{exc}" if ours else f"{type(exc).__name__}: {exc}"
        print(f"backtrader-channels: error: {what}", file=sys.stderr)
        for frame in user_frames(exc)[-5:]:  # where it is in the user's code
            print(f"  {frame.filename}:{frame.lineno} in {frame.name}", file=sys.stderr)
            if frame.line:
                print(f"    {frame.line}", file=sys.stderr)
        print("  (--debug shows the whole traceback)", file=sys.stderr)
        return 1
