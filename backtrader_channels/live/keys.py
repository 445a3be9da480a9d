"""API keys for ccxt: from a config file the user points at, or from the environment; never
logged, reported or recorded."""

from __future__ import annotations

import json
import os

import ccxt.pro as ccxtpro

from ..btypes import Kwargs
from .venue_parts import CcxtExchange


def credentials(exchange_id: str, config: str | None) -> dict[str, str]:
    """API keys from ``config`` (a JSON file with ``apiKey``, ``secret`` and optionally
    ``password``), else from ``<ID>_API_KEY`` / ``<ID>_API_SECRET`` / ``<ID>_API_PASSWORD``;
    empty when there are none. The values are never logged or echoed."""
    if config:
        try:
            with open(config, encoding="utf-8") as fh:
                data = json.load(fh)
        except json.JSONDecodeError as e:
            raise ValueError(f"{config}:{e.lineno}: not JSON ({e.msg})") from None
        if not isinstance(data, dict) or not data.get("apiKey") or not data.get("secret"):
            raise ValueError(f"{config}: needs the fields apiKey and secret")
        return {k: str(data[k]) for k in ("apiKey", "secret", "password") if data.get(k)}
    prefix = exchange_id.upper()
    creds = {
        "apiKey": os.environ.get(f"{prefix}_API_KEY"),
        "secret": os.environ.get(f"{prefix}_API_SECRET"),
        "password": os.environ.get(f"{prefix}_API_PASSWORD"),
    }
    return {k: v for k, v in creds.items() if v}


def exchange_from(exchange_id: str, config: str | None = None, **options: Kwargs) -> CcxtExchange:
    """A new ccxt.pro instance of ``exchange_id`` with the keys of :func:`credentials`."""
    if not hasattr(ccxtpro, exchange_id):
        raise ValueError(f"ccxt.pro has no exchange {exchange_id!r}")
    return getattr(ccxtpro, exchange_id)({**credentials(exchange_id, config), **options})
