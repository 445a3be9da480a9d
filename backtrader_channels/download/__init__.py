"""Downloading the venues' public archives (Binance's data.binance.vision, Bybit's
public.bybit.com and quote-saver.bycsi.com) into the partitioned native layout (or raw):
checked against the published checksums (Bybit: the files' own integrity), resumed, idempotent,
several files at once. The ``download`` command's engine (:mod:`.binance`, :mod:`.bybit`)."""

from __future__ import annotations

from .binance import binance_items, download_binance, list_archive
from .bybit import bybit_items, download_bybit
from .fetch import DownloadError, NotFound
from .plan import Item, Period, periods
from .run import Downloader, DownloadSummary

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
    "list_archive",
    "periods",
]
