"""Downloading the venues' public archives (Binance's data.binance.vision, Bybit's
public.bybit.com and quote-saver.bycsi.com, Tardis.dev's datasets API) into the partitioned
native layout (or raw): checked against the published checksums (Bybit, Tardis: the files' own
integrity), resumed, idempotent, several files at once. The ``download`` command's engine
(:mod:`.binance`, :mod:`.bybit`, :mod:`.tardis`)."""

from __future__ import annotations

from .binance import binance_items, download_binance, list_archive
from .bybit import bybit_items, download_bybit
from .fetch import DownloadError, NotFound
from .plan import Item, Period, periods
from .run import Downloader, DownloadSummary
from .tardis import download_tardis, tardis_items

__all__ = [
    "DownloadError",
    "DownloadSummary",
    "Downloader",
    "Item",
    "NotFound",
    "Period",
    "binance_items",
    "bybit_items",
    "download_binance",
    "download_bybit",
    "download_tardis",
    "list_archive",
    "periods",
    "tardis_items",
]
