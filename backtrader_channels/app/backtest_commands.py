"""The ``backtest`` and ``inspect`` commands: recorded data (``live``/``record``: live_commands)."""

from __future__ import annotations

import argparse
import json
import os
from typing import TYPE_CHECKING, Any

from .usage import UsageError, load_strategy, parse_params

if TYPE_CHECKING:
    from ..sources.schema import Format


def _data_channels(
    path: str, fmt: Format | None, symbols: list[str] | None
) -> list[tuple[str, str]]:
    from ..sources.batches import expand_paths
    from ..sources.convert import contents
    from ..sources.formats import is_partitioned, partition_samples

    files = partition_samples(path) if is_partitioned(path) else expand_paths(path)
    pairs = list(dict.fromkeys(pair for f in files for pair in contents(f, fmt)))
    if symbols:
        from ..sources.schema import symbol_aliases

        wanted = {a for s in symbols for a in symbol_aliases(s)} | set(symbols)
        pairs = [(c, s) for c, s in pairs if s in wanted]
    if not pairs:
        raise UsageError(f"no channels found in {path}")
    return pairs


def run_backtest_command(args: argparse.Namespace) -> int:
    """``backtrader-channels backtest STRATEGY --data PATH ...``."""
    import backtrader as bt

    from ..cerebro import Cerebro, RunMode
    from .recorder import RunRecorder
    from .report import format_report, run_report

    for path in args.data:
        if not os.path.exists(path) and not any(c in path for c in "*?["):
            raise UsageError(f"--data {path}: no such file or directory")
    strategy = load_strategy(args.strategy)
    params = parse_params(args.param)
    cerebro = Cerebro(stdstats=False, progress=args.progress)
    cerebro.broker.setcash(args.cash)
    if args.commission:
        cerebro.broker.setcommission(commission=args.commission)
    for path in args.data:
        for ctype, symbol in _data_channels(path, args.format, args.symbol):
            key = (ctype, symbol)
            if key in cerebro.channels:
                continue
            cerebro.add_channel(
                ctype,
                symbol=key[1],
                dataname=path,
                format=args.format,
                on_error=args.on_error,
                start=getattr(args, "from"),
                end=args.to,
            )
    cerebro.addstrategy(strategy, **params)
    cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")
    cerebro.addanalyzer(bt.analyzers.DrawDown, _name="drawdown")
    cerebro.addanalyzer(bt.analyzers.SharpeRatio, _name="sharpe", timeframe=bt.TimeFrame.Minutes)
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
    rows: list[dict[str, Any]] = []
    for ctype, symbol in _data_channels(args.path, args.format, None):
        skip = SkipReport()
        n, first, last = 0, None, None
        book = OrderBookChannel(symbol) if ctype == "orderbook" else None
        for ts, events in open_source(
            args.path, ctype, symbol, args.format, on_error="skip", skip=skip
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
