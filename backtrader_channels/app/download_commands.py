"""The ``download`` command: the venues' public archives (Binance's data.binance.vision,
Bybit's public.bybit.com and quote-saver.bycsi.com) and Tardis.dev's CSV datasets into
``--dest``, converted to the partitioned layout ``convert`` writes (``add_channel(...,
dataname=DEST)`` reads it) or kept as downloaded (``--raw``)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TYPE_CHECKING

from ..btypes import Kwargs
from .usage import UsageError

if TYPE_CHECKING:
    from ..download.run import DownloadSummary
    from .cli import _Parser


def _kinds(text: str) -> list[str]:
    return [k.strip() for k in text.split(",") if k.strip()]


def _common(p: argparse.ArgumentParser) -> None:
    """What both venues take."""
    p.add_argument(
        "--symbol",
        action="append",
        metavar="SYMBOL",
        help="archive symbol, e.g. BTCUSDT (repeatable)",
    )
    p.add_argument("--from", dest="start", metavar="DAY", help="first day, YYYY-MM-DD (UTC)")
    p.add_argument("--to", dest="end", metavar="DAY", help="last day, YYYY-MM-DD, included")
    p.add_argument(
        "--dest", metavar="DIR", help="destination folder, or s3://, gs:// URI (a bucket)"
    )
    p.add_argument("--base-url", metavar="URL", help="a mirror of the archive")
    p.add_argument(
        "--raw", action="store_true", help="keep the files as downloaded (under DIR/raw/)"
    )
    p.add_argument("--jobs", type=int, default=4, metavar="N", help="files at once (4)")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: when stderr is a terminal)",
    )


def add_download_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    """Add the ``download`` subcommand (``download binance|bybit|tardis ...``).

    Parameters
    ----------
    sub : argparse subparsers
        The CLI's subcommands (``build_parser``'s).
    """
    dl = sub.add_parser(
        "download",
        help="download a venue's public archive (Binance, Bybit) or Tardis.dev CSV datasets, "
        "converted or raw",
        description="Download the public archives of Binance (data.binance.vision) or Bybit, "
        "or Tardis.dev's CSV datasets, checked (Binance's .CHECKSUM files; Bybit, Tardis: "
        "gzip/zip integrity), resumable and "
        "idempotent (manifest.json in DIR), converted to DIR/channel=*/venue=*/market=*/"
        "symbol=*/date=*/ Parquet (or --raw).",
    )
    venues = dl.add_subparsers(dest="venue", metavar="VENUE")
    bn = venues.add_parser(
        "binance",
        help="data.binance.vision (spot, USDⓈ-M, COIN-M)",
        description="Kinds: trades, aggTrades (tick channel); fundingRate (monthly only), "
        "markPriceKlines, indexPriceKlines, premiumIndexKlines (derivative channel; futures); "
        "bookTicker, bookDepth, metrics (futures; kept raw). A whole month is one monthly "
        "file, or its days when the month is not published yet. Base URL: --base-url or "
        "$BTCH_BINANCE_ARCHIVE_URL.",
    )
    bn.add_argument("--market", default="spot", metavar="spot|um|cm", help="market (spot)")
    bn.add_argument("--kinds", default="trades", metavar="K,K", help="kinds (trades)")
    bn.add_argument("--interval", default="1m", help="klines' interval (1m)")
    _common(bn)
    bn.set_defaults(archive=_binance)
    by = venues.add_parser(
        "bybit",
        help="public.bybit.com trades, quote-saver.bycsi.com order books",
        description="Kinds: trades, orderbook (daily files). Base URL (both hosts' paths): "
        "--base-url or $BTCH_BYBIT_ARCHIVE_URL.",
    )
    by.add_argument(
        "--category", default="linear", metavar="linear|inverse|spot", help="market (linear)"
    )
    by.add_argument("--kinds", default="trades", metavar="K,K", help="trades,orderbook (trades)")
    by.add_argument("--depth", type=int, metavar="500|200", help="book depth (500; spot 200)")
    _common(by)
    by.set_defaults(archive=_bybit)
    td = venues.add_parser(
        "tardis",
        help="Tardis.dev CSV datasets (datasets.tardis.dev; an API key for most days)",
        description="Data types: trades, incremental_book_L2, book_snapshot_25, "
        "book_snapshot_5, quotes, derivative_ticker (converted; venue and market from the "
        "exchange); liquidations, options_chain, book_ticker (kept raw). Daily files. Without "
        "an API key Tardis.dev serves only the first day of each month. Base URL: --base-url "
        "or $BTCH_TARDIS_URL.",
    )
    td.add_argument(
        "--exchange", metavar="ID", help="Tardis exchange id, e.g. binance-futures (required)"
    )
    td.add_argument("--kinds", default="trades", metavar="K,K", help="data types (trades)")
    td.add_argument(
        "--api-key",
        metavar="KEY",
        help="Tardis.dev API key (default $TARDIS_API_KEY; the variable keeps it out of the "
        "process list)",
    )
    _common(td)
    td.set_defaults(archive=_tardis)
    dl.set_defaults(func=run_download_command)


def _binance(args: argparse.Namespace, common: dict[str, Kwargs]) -> DownloadSummary:
    from ..download import download_binance

    return download_binance(market=args.market, interval=args.interval, **common)


def _bybit(args: argparse.Namespace, common: dict[str, Kwargs]) -> DownloadSummary:
    from ..download import download_bybit

    return download_bybit(category=args.category, depth=args.depth, **common)


def _tardis(args: argparse.Namespace, common: dict[str, Kwargs]) -> DownloadSummary:
    from ..download import download_tardis

    if not args.exchange:
        raise UsageError("--exchange is required (Tardis's exchange id, e.g. binance-futures)")
    return download_tardis(exchange=args.exchange, api_key=args.api_key, **common)


def _day(text: str | None, option: str) -> dt.date:
    from ..download.plan import parse_day

    if not text:
        raise UsageError(f"{option} is required (YYYY-MM-DD)")
    try:
        return parse_day(text, option)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _print_summary(summary: DownloadSummary) -> None:
    for line in summary.lines():
        print(line)


def run_download_command(args: argparse.Namespace) -> int:
    """Run ``download binance|bybit|tardis``; the exit code (0 done, 1 files failed).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments (:func:`add_download_parser`).

    Returns
    -------
    int
        0 when every file is there or reported missing, 1 when files failed (each named).

    Raises
    ------
    UsageError
        A bad argument, naming its option.
    """
    from ..download import DownloadError

    archive = getattr(args, "archive", None)  # (each venue's subcommand sets its own)
    if archive is None:
        raise UsageError(
            "download: name the archive: download binance ... or download bybit ... "
            "(or download tardis ...)"
        )
    if not args.symbol:
        raise UsageError("--symbol is required (e.g. --symbol BTCUSDT)")
    if not args.dest:
        raise UsageError("--dest is required (the destination folder)")
    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: give 1 or more")
    start, end = _day(args.start, "--from"), _day(args.end, "--to")
    common = {
        "symbols": args.symbol,
        "kinds": _kinds(args.kinds),
        "start": start,
        "end": end,
        "dest": args.dest,
        "base_url": args.base_url,
        "raw": args.raw,
        "jobs": args.jobs,
        "progress": args.progress,
    }
    try:
        summary = archive(args, common)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except DownloadError as exc:
        failed: DownloadSummary | None = getattr(exc, "summary", None)
        if failed is None:
            raise
        _print_summary(failed)
        for line in failed.failed:
            print(f"backtrader-channels: error: {line}", file=sys.stderr)
        return 1
    _print_summary(summary)
    return 0
