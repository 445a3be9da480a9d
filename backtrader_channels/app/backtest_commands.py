"""The ``backtest`` and ``inspect`` commands: recorded data (``live``/``record``: live_commands)."""

from __future__ import annotations

import argparse
import json
import math
import os
from typing import TYPE_CHECKING, Any

from .usage import UsageError, load_strategy, parse_params

if TYPE_CHECKING:
    from ..sources.schema import Format


def _data_channels(
    path: str, fmt: Format | None, symbols: list[str] | None
) -> list[tuple[str, str, Any]]:
    """``(channel type, symbol, dataname)`` for each channel found under ``path``. The symbol
    is spelled as given with ``--symbol`` (``BTC/USDT`` for a file's ``BTCUSDT``), else as the
    data spells it; the dataname is ``path`` for a partitioned directory, else the files that
    hold that channel (a folder may mix trades, quotes and books)."""
    from ..sources.batches import expand_paths
    from ..sources.convert import contents
    from ..sources.formats import is_partitioned, partition_samples
    from ..symbols import same_symbol

    partitioned = is_partitioned(path)
    files = partition_samples(path) if partitioned else expand_paths(path)
    found: dict[tuple[str, str], list[str]] = {}
    for f in files:
        only = symbols[0] if symbols and len(symbols) == 1 else None
        for ctype, symbol in contents(f, fmt, only):
            if symbols:
                symbol = next((s for s in symbols if same_symbol(s, symbol)), "")
                if not symbol:
                    continue
            found.setdefault((ctype, symbol), []).append(f)
    if not found:
        raise UsageError(f"no channels found in {path}")
    return [(c, s, path if partitioned else fs) for (c, s), fs in found.items()]


def check_data(args: argparse.Namespace) -> None:
    """Each ``--data`` exists (or is a glob, or a URI), before anything else is read."""
    from ..sources.storage import is_uri

    for path in args.data:
        if not os.path.exists(path) and not is_uri(path) and not any(c in path for c in "*?["):
            raise UsageError(f"--data {path}: no such file or directory")


def add_data(cerebro: Any, args: argparse.Namespace) -> None:
    """Cash, commission and a channel for every channel found under each ``--data``."""
    cerebro.broker.setcash(args.cash)
    if args.lot is not None:
        from ..broker.comminfo import FractionalCommInfo

        if not math.isfinite(args.lot) or args.lot < 0:
            raise UsageError(f"--lot {args.lot:g}: must be a number >= 0 (0: fractions, unrounded)")
        cerebro.broker.addcommissioninfo(
            FractionalCommInfo(commission=args.commission, lot=args.lot)
        )
    elif args.commission:
        cerebro.broker.setcommission(commission=args.commission)
    for path in args.data:
        for ctype, symbol, dataname in _data_channels(path, args.format, args.symbol):
            if (ctype, symbol) in cerebro.channels:
                continue
            cerebro.add_channel(
                ctype,
                symbol=symbol,
                dataname=dataname,
                format=args.format,
                on_error=args.on_error,
                start=getattr(args, "from"),
                end=args.to,
            )


def run_backtest_command(args: argparse.Namespace) -> int:
    """``backtrader-channels backtest STRATEGY --data PATH ...``."""
    import backtrader as bt

    from ..cerebro import Cerebro, RunMode
    from .recorder import RunRecorder
    from .report import format_report, run_report

    check_data(args)
    strategy = load_strategy(args.strategy)
    params = parse_params(args.param, strategy)
    cerebro = Cerebro(stdstats=False, progress=args.progress)
    add_data(cerebro, args)
    cerebro.addstrategy(strategy, **params)
    cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")
    cerebro.addanalyzer(bt.analyzers.DrawDown, _name="drawdown")
    # one-minute returns: the report's annualised Sharpe (app/report.py:annualized_sharpe)
    cerebro.addanalyzer(
        bt.analyzers.TimeReturn, _name="minute_returns", timeframe=bt.TimeFrame.Minutes
    )
    cerebro.addanalyzer(RunRecorder, _name="recorder")
    strat = cerebro.run(mode=RunMode.TICK)[0]
    report = run_report(cerebro, strat)
    print(format_report(report))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2, default=str)
    if args.plot:
        from .plot import plot_run

        plot_run(
            strat.analyzers.recorder.get_analysis(),
            args.plot,
            title=f"{args.strategy} on {', '.join(args.data)}",
        )
        print(f"plot written to {args.plot}")
    return 0


def run_inspect_command(args: argparse.Namespace) -> int:
    """``backtrader-channels inspect PATH``: channels, symbols, span, rows, anomalies."""
    import datetime as dt

    from ..channels import OrderBookChannel
    from ..sources.batches import SkipReport
    from ..sources.formats import detect_format, open_source

    if not os.path.exists(args.path):
        raise UsageError(f"{args.path}: no such file or directory")
    fmt = args.format
    if fmt is None and os.path.isfile(args.path):
        fmt = detect_format(args.path)
    elif fmt is None:  # a directory: partitioned native, or the formats of its files
        from ..sources.batches import expand_paths
        from ..sources.formats import is_partitioned

        if not is_partitioned(args.path):
            fmt = ", ".join(sorted({detect_format(p) for p in expand_paths(args.path)}))
    rows: list[dict[str, Any]] = []
    for ctype, symbol, dataname in _data_channels(args.path, args.format, None):
        skip = SkipReport()
        n, first, last = 0, None, None
        book = OrderBookChannel(symbol) if ctype == "orderbook" else None
        for ts, events in open_source(
            dataname, ctype, symbol, args.format, on_error="skip", skip=skip
        ):
            n += len(events)
            first = ts[0] if first is None else first
            last = ts[-1]
            if book is not None:
                for ev in events:
                    book.push(ev)
        anomalies = {
            f"{reason}": c for counts in skip.as_dict().values() for reason, c in counts.items()
        }
        if book is not None:
            anomalies.update({f"book {k}": v for k, v in book.refused.items()})
        rows.append(
            {
                "channel": ctype,
                "symbol": symbol,
                "events": n,
                "start": None
                if first is None
                else dt.datetime.fromtimestamp(first / 1e9, tz=dt.timezone.utc).isoformat(),
                "end": None
                if last is None
                else dt.datetime.fromtimestamp(last / 1e9, tz=dt.timezone.utc).isoformat(),
                "anomalies": anomalies,
            }
        )
    if args.json:
        print(json.dumps({"path": args.path, "format": fmt, "channels": rows}, indent=2))
        return 0
    print(f"{args.path}  (format: {fmt or 'native, partitioned'})")
    for r in rows:
        bad = ", ".join(f"{k}={v}" for k, v in r["anomalies"].items()) or "none"
        print(
            f"  {r['channel']:<10} {r['symbol']:<12} {r['events']:>10,} events  "
            f"{r['start']} -> {r['end']}  anomalies: {bad}"
        )
    return 0
