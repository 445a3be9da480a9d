"""``backtrader-channels data ls PATH``: what a dataset holds, per venue, market, symbol and
channel type (days, gaps, times, rows), read from its Parquet footers
(:mod:`backtrader_channels.sources.catalog`); ``--json`` for machines."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, TextIO

from ..errors import ChannelError, DataError
from .usage import UsageError

if TYPE_CHECKING:
    from .cli import _Parser

__all__ = ["add_data_parser", "format_catalog", "run_data_command"]

_COLUMNS = (
    "venue",
    "market",
    "symbol",
    "kind",
    "from",
    "to",
    "days",
    "gaps",
    "rows",
    "files",
    "size",
)


def add_data_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    """Add the ``data`` command (with its ``ls`` subcommand) to the CLI's subparsers.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The CLI's ``add_subparsers()``; the new parsers are of its parser class.
    """
    data = sub.add_parser(
        "data",
        help="what a dataset holds (data ls PATH)",
        description="Look at recorded datasets: partitioned directories written by convert or "
        "record (local, or s3://, gs://, file:// URIs) and native Parquet files.",
    )
    data.set_defaults(func=run_data_command, data_command=None)
    cmds = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", parser_class=type(data))
    ls = cmds.add_parser(
        "ls",
        help="per venue, market and symbol: channel types, days, gaps, rows",
        description="List what a dataset holds, per venue, market, symbol and channel type: "
        "its first and last day and timestamps, the days missing inside that range (gaps), "
        "rows, files and bytes. Only the Parquet footers are read (a native file holding "
        "several symbols also reads its symbol, venue, market and timestamp columns).",
    )
    ls.add_argument(
        "path",
        metavar="PATH",
        help="a partitioned directory or URI (s3://bucket/prefix, gs://..., file://...), or a "
        "native Parquet file",
    )
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=run_data_command)


def run_data_command(args: argparse.Namespace) -> int:
    """Run ``data SUBCOMMAND`` (``args`` from the parser :func:`add_data_parser` made).

    Parameters
    ----------
    args : argparse.Namespace
        ``data_command`` (``"ls"``), ``path`` and ``json``.

    Returns
    -------
    int
        The exit code: 0.

    Raises
    ------
    UsageError
        No subcommand, or a ``PATH`` that does not exist or is not a dataset (naming it).
    """
    if args.data_command != "ls":
        raise UsageError("data: give a subcommand: data ls PATH")
    from ..sources.catalog import catalog

    try:
        rows = catalog(args.path)
    except (FileNotFoundError, NotADirectoryError, ChannelError, DataError) as exc:
        text = str(exc)
        raise UsageError(text if args.path in text else f"{args.path}: {text}") from exc
    if args.json:
        out = {"path": args.path, "channels": [r.as_dict() for r in rows]}
        print(json.dumps(out, indent=2))
    else:
        format_catalog(args.path, [r.as_dict() for r in rows], sys.stdout)
    return 0


def format_catalog(path: str, rows: list[dict[str, object]], out: TextIO) -> None:
    """The catalog as a table, then its gaps (runs of days), on ``out``.

    Parameters
    ----------
    path : str
        The dataset, for the heading.
    rows : list of dict
        :meth:`CatalogRow.as_dict` of each row.
    out : TextIO
        Where to write.
    """
    if not rows:
        print(f"{path}: no data (no Parquet parts)", file=out)
        return
    days = sorted({str(d) for r in rows for d in (r["first_day"], r["last_day"]) if d})
    span = f", {days[0]} to {days[-1]} (UTC)" if days else ""
    print(f"{path}: {len(rows)} channel(s){span}", file=out)
    table = [_COLUMNS] + [_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(_COLUMNS))]
    numeric = {"days", "gaps", "rows", "files", "size"}
    for line in table:
        cells = [
            c.rjust(w) if name in numeric else c.ljust(w)
            for c, w, name in zip(line, widths, _COLUMNS)
        ]
        print("  ".join(cells).rstrip(), file=out)
    for r in rows:
        gaps = r["gaps"]
        if isinstance(gaps, list) and gaps:
            print(f"gaps in {_name(r)}: {_runs(gaps)}", file=out)


def _name(r: dict[str, object]) -> str:
    return f"{r['kind']} {r['symbol']} ({r['venue']}/{r['market']})"


def _cells(r: dict[str, object]) -> tuple[str, ...]:
    gaps = r["gaps"]
    return (
        str(r["venue"]),
        str(r["market"]),
        str(r["symbol"]),
        str(r["kind"]),
        _short(r["start"]) or str(r["first_day"] or "-"),
        _short(r["end"]) or str(r["last_day"] or "-"),
        str(r["days"]),
        str(len(gaps) if isinstance(gaps, list) else 0),
        f"{r['rows']:,}",
        str(r["files"]),
        _size(r["bytes"]),
    )


def _size(n: object) -> str:
    """Bytes as ``123 B``, ``4.5 KB``, ``67.8 MB``, ``1.2 GB``."""
    value = float(n) if isinstance(n, (int, float)) else 0.0
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover - the loop returns at GB


def _short(iso: object) -> str:
    """``2024-08-08T23:54:15.342Z`` as ``2024-08-08 23:54:15``."""
    return iso[:19].replace("T", " ") if isinstance(iso, str) else ""


def _runs(gaps: list[str]) -> str:
    from ..sources.catalog import day_ranges

    runs = day_ranges(gaps)
    text = ", ".join(a if a == b else f"{a} to {b}" for a, b in runs[:20])
    more = f" and {len(runs) - 20} more" if len(runs) > 20 else ""
    return f"{text}{more} ({len(gaps)} day{'s' if len(gaps) != 1 else ''})"
