"""The ``backtest`` and ``inspect`` commands: recorded data (``live``/``record``: live_commands)."""

from __future__ import annotations

import argparse
import json
import math
import os
from typing import TYPE_CHECKING, NamedTuple

from ..btypes import JsonDict, Kwargs
from .usage import UsageError, load_strategy, parse_params

if TYPE_CHECKING:
    from ..cerebro import Cerebro
    from ..sources.schema import Format


class DataChannel(NamedTuple):
    """One channel found under a ``--data`` path, and what reads it."""

    channel_type: str
    symbol: str
    #: the partitioned directory, or the files holding the channel
    dataname: str | list[str]
    venue: str
    market: str


def _data_channels(
    path: str,
    fmt: Format | None,
    symbols: list[str] | None,
    venue: str | None = None,
    market: str | None = None,
    every: bool = False,
) -> list[DataChannel]:
    """Each channel found under ``path`` (``every``: once per venue and market it is in).

    The symbol is spelled as given with ``--symbol`` (``BTC/USDT`` for a file's ``BTCUSDT``),
    else as the data spells it; the dataname is ``path`` for a partitioned directory, else the
    files that hold that channel (a folder may mix trades, quotes and books). A symbol found in
    several venues or markets needs ``--venue``/``--market``; ``--symbol`` matching nothing is
    an error naming what there is."""
    from ..sources.batches import expand_paths
    from ..sources.contents import file_contents
    from ..sources.layout import is_partitioned, partitions, select

    only = symbols[0] if symbols and len(symbols) == 1 else None
    partitioned = is_partitioned(path)
    found: dict[tuple[str, str], dict[tuple[str, str], list[str]]] = {}
    held: dict[str, None] = {}
    if partitioned:
        listed = [(p.folder, p.venue, p.market) for p in partitions(path)]
    else:
        listed = [(f, "", "") for f in expand_paths(path)]
    for where, ven, mkt in listed:
        sample = expand_paths(where)[0] if partitioned else where
        for c in file_contents(sample, fmt, only):
            symbol = _wanted(c.symbol, symbols)
            if not symbol:
                held[f"{c.channel_type} {c.symbol} ({ven or c.venue}/{mkt or c.market})"] = None
                continue
            key = (ven or c.venue, mkt or c.market)
            found.setdefault((c.channel_type, symbol), {}).setdefault(key, []).append(where)
    if not found:
        if symbols and held:
            raise UsageError(
                f"no channels of {', '.join(symbols)} in {path}; it holds: "
                + ", ".join(list(held)[:12])
                + (f" and {len(held) - 12} more" if len(held) > 12 else "")
            )
        raise UsageError(f"no channels found in {path}")
    out: list[DataChannel] = []
    for (ctype, symbol), places in found.items():
        if every:
            out.extend(
                DataChannel(ctype, symbol, path if partitioned else files, v, m)
                for (v, m), files in places.items()
            )
        elif partitioned:  # the reader's choice, made now: an ambiguity stops before the run
            part = select(path, ctype, symbol, venue, market)
            assert part is not None
            out.append(DataChannel(ctype, symbol, path, part.venue, part.market))
        else:
            (ven, mkt), files = _one_place(path, ctype, symbol, places, venue, market)
            out.append(DataChannel(ctype, symbol, files, ven, mkt))
    return out


def _wanted(symbol: str, symbols: list[str] | None) -> str:
    """``symbol`` as ``--symbol`` spells it, ``""`` if not asked for; itself without it."""
    from ..symbols import same_symbol

    if not symbols:
        return symbol
    return next((s for s in symbols if same_symbol(s, symbol)), "")


def _one_place(
    path: str,
    ctype: str,
    symbol: str,
    places: dict[tuple[str, str], list[str]],
    venue: str | None,
    market: str | None,
) -> tuple[tuple[str, str], list[str]]:
    """The ``(venue, market)`` and files of a channel found in loose files: the one there
    is, or the one ``--venue``/``--market`` choose (files that do not say stand in)."""
    from ..sources.venues import UNKNOWN, venue_key

    keys = list(places)
    for i, want in ((0, venue_key(venue) if venue else None), (1, market)):
        if want:
            keys = [k for k in keys if k[i] == want] or [k for k in keys if k[i] == UNKNOWN]
    if len(keys) != 1:
        have = ", ".join(f"{v}/{m}" for v, m in (keys or places))
        why = "is in" if keys else "is not on the venue/market asked for; it is in"
        raise UsageError(
            f"{path}: {symbol} {ctype} data {why} {have}: choose with --venue and --market"
        )
    return keys[0], places[keys[0]]


def check_data(args: argparse.Namespace) -> None:
    """Each ``--data`` exists (or is a glob, or a URI), before anything else is read."""
    from ..sources.storage import is_uri

    for path in args.data:
        if not os.path.exists(path) and not is_uri(path) and not any(c in path for c in "*?["):
            raise UsageError(f"--data {path}: no such file or directory")


def add_data(cerebro: Cerebro, args: argparse.Namespace) -> None:
    """Cash, commission and a channel for every channel found under each ``--data``."""
    profile = getattr(args, "fill_profile", "default")
    if profile != "default":
        from ..broker.tickbroker import TickBroker

        cerebro.setbroker(TickBroker(fill_profile=profile))
    hear = _hear(getattr(args, "book_hear", "all"))
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
    venue, market = getattr(args, "venue", None), getattr(args, "market", None)
    for path in args.data:
        for ch in _data_channels(path, args.format, args.symbol, venue, market):
            if (ch.channel_type, ch.symbol) in cerebro.channels:
                continue
            book: dict[str, Kwargs] = (
                {"hear": hear} if ch.channel_type == "orderbook" and hear != "all" else {}
            )
            cerebro.add_channel(
                ch.channel_type,
                symbol=ch.symbol,
                dataname=ch.dataname,
                format=args.format,
                on_error=args.on_error,
                start=getattr(args, "from"),
                end=args.to,
                venue=venue,
                market=market,
                **book,
            )


def _hear(text: str) -> str | int:
    """``--book-hear``: all, best, none or a number of milliseconds; else a UsageError."""
    from ..channels.columnar import check_hear

    value: str | int = int(text) if text.strip().isdigit() else text.strip()
    try:
        return check_hear(value)
    except ValueError as exc:
        raise UsageError(f"--book-hear {text}: {exc}") from None


def run_backtest_command(args: argparse.Namespace) -> int:
    """``backtrader-channels backtest STRATEGY --data PATH ...``."""
    import backtrader as bt

    from ..cerebro import Cerebro, RunMode
    from .recorder import RunRecorder
    from .report import format_report, strategy_report

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
    if args.report:  # resting orders and funding payments, for the HTML report
        from .html_report import ReportRecorder, require_bokeh

        require_bokeh()
        cerebro.addanalyzer(ReportRecorder, _name="report_recorder")
    strat = cerebro.run(mode=RunMode.TICK)[0]
    report = strategy_report(cerebro, strat)
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
    if args.report:
        from .html_report import write_html

        write_html(cerebro, args.report, summary=report, strategy=strat)
        print(f"report written to {args.report}")
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
    rows: list[JsonDict] = []
    for ctype, symbol, dataname, venue, market in _data_channels(
        args.path, args.format, None, every=True
    ):
        skip = SkipReport()
        n, first, last = 0, None, None
        book = OrderBookChannel(symbol) if ctype == "orderbook" else None
        for ts, events in open_source(
            dataname,
            ctype,
            symbol,
            args.format,
            on_error="skip",
            skip=skip,
            venue=venue if isinstance(dataname, str) else "",
            market=market if isinstance(dataname, str) else None,
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
                "venue": venue,
                "market": market,
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
        where = f"{r['venue']}/{r['market']}"
        print(
            f"  {r['channel']:<10} {r['symbol']:<12} {where:<16} {r['events']:>10,} events  "
            f"{r['start']} -> {r['end']}  anomalies: {bad}"
        )
    return 0
