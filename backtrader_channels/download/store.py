"""Where a fetched file goes: kept as downloaded (``raw/<venue>/...``), or converted by the
package's ``convert`` into the partitioned native layout under ``--dest``, its parts named
after the archive file (``part-BTCUSDT-trades-2024-08-08-000.parquet``), so that converting it
again replaces them, and a month replaces the days of it converted before (and the reverse)."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import zipfile

from ..errors import DataError
from ..sources.convert import convert
from ..sources.venues import Market
from .plan import Item

#: where files wait between the download and their conversion (under ``--dest``)
STAGING = ".download"
#: one conversion at a time: ``convert`` sets the collector's thresholds for its run (and is
#: bound by the interpreter's lock anyway); downloads go on meanwhile
_CONVERTING = threading.Lock()


def raw_path(dest: str, item: Item) -> str:
    """Where ``item`` is kept as downloaded: ``dest/raw/<venue>/<its path in the archive>``
    (Binance's leading ``data/`` left out)."""
    rel = item.rel[5:] if item.rel.startswith("data/") else item.rel
    return os.path.join(dest, "raw", item.venue, *rel.split("/"))


def staging_path(dest: str, item: Item) -> str:
    """Where ``item`` waits for its conversion."""
    return os.path.join(dest, STAGING, item.venue, *item.rel.split("/"))


def part_stem(item: Item) -> str:
    """``BTCUSDT-trades-2024-08-08``: what the parts converted from ``item`` are named after."""
    return f"{item.symbol}-{item.kind}-{item.period.label}"


def _extract(path: str, into: str, name: str) -> str:
    """The one CSV of a Binance zip, extracted as ``into/name`` (the readers know a dump by
    its name; a klines zip's member is ``BTCUSDT-1m-...``, without the kind)."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = [n for n in zf.namelist() if not n.endswith("/")]
            if len(members) != 1:
                raise DataError(path, f"a Binance archive zip holds one CSV, this one {members}")
            out = os.path.join(into, name)
            with zf.open(members[0]) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
    except zipfile.BadZipFile as exc:
        raise DataError(path, f"not a readable zip: {exc}") from exc
    return out


def convert_item(item: Item, path: str, dest: str) -> tuple[int, list[str]]:
    """Convert the fetched file ``path`` of ``item`` into ``dest/<item.root>``; returns the
    rows written and the parts (relative to ``dest``)."""
    root = os.path.join(dest, item.root or "")
    work = tempfile.mkdtemp(prefix="convert-", dir=os.path.join(dest, STAGING))
    try:
        src = path
        if item.unzip:
            src = _extract(path, work, item.csv_name)
        out = os.path.join(work, "out")
        market: Market = item.market  # type: ignore[assignment]
        with _CONVERTING:
            summary = convert(src, out, venue=item.venue, market=market, progress=False)
        return summary["rows_written"], _move_parts(out, root, dest, item)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _move_parts(out: str, root: str, dest: str, item: Item) -> list[str]:
    """Move the parts written under ``out`` into ``root``, named after ``item``; in each
    partition folder of a day ``item`` covers, the parts of the same symbol and kind converted
    from the other granularity's file of the same days (a month's, where its days come, and the
    reverse) are removed. Another day's file is never touched: its rows past midnight (a
    Tardis day is cut by local time) live in this day's folder too."""
    stem, kin = part_stem(item), f"part-{item.symbol}-{item.kind}-"
    label = item.period.label
    days = {f"date={d.isoformat()}" for d in item.period.days}
    moved: list[str] = []
    for folder, _, names in sorted(os.walk(out)):
        parts = sorted(n for n in names if n.endswith(".parquet"))
        if not parts:
            continue
        target = os.path.join(root, os.path.relpath(folder, out))
        os.makedirs(target, exist_ok=True)
        for old in os.listdir(target) if os.path.basename(target) in days else ():
            other = old[len(kin) : -len("-000.parquet")]  # its file's period label
            if old.startswith(kin) and len(other) != len(label) and other[:7] == label[:7]:
                os.remove(os.path.join(target, old))
        for i, name in enumerate(parts):
            final = os.path.join(target, f"part-{stem}-{i:03d}.parquet")
            os.replace(os.path.join(folder, name), final)
            moved.append(os.path.relpath(final, dest))
    return moved
