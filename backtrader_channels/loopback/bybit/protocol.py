"""What both sides of the loopback Bybit share: the one instrument it lists (and its rules as
the matching engine reads them), and Bybit v5's answer envelope and error."""

from __future__ import annotations

import time

from aiohttp import web

from ...btypes import JsonDict
from ...errors import BacktraderChannelsError

SYMBOL = "BTCUSDT"
#: the spot instrument, as ``/v5/market/instruments-info`` lists it
INSTRUMENT = {
    "symbol": SYMBOL,
    "baseCoin": "BTC",
    "quoteCoin": "USDT",
    "innovation": "0",
    "status": "Trading",
    "marginTrading": "utaOnly",
    "lotSizeFilter": {
        "basePrecision": "0.000001",
        "quotePrecision": "0.00000001",
        "minOrderQty": "0.000048",
        "maxOrderQty": "71.73956243",
        "minOrderAmt": "1",
        "maxOrderAmt": "2000000",
    },
    "priceFilter": {"tickSize": "0.01"},
}


def spot_rules(instrument: JsonDict) -> JsonDict:
    """A Bybit instrument's lotSizeFilter and priceFilter as the matching engine reads them
    (Binance's filter names)."""
    lot, tick = instrument["lotSizeFilter"], instrument["priceFilter"]["tickSize"]
    return {
        "symbol": instrument["symbol"],
        "baseAsset": instrument["baseCoin"],
        "quoteAsset": instrument["quoteCoin"],
        "filters": [
            {
                "filterType": "LOT_SIZE",
                "minQty": lot["minOrderQty"],
                "maxQty": lot["maxOrderQty"],
                "stepSize": lot["basePrecision"],
            },
            {"filterType": "PRICE_FILTER", "minPrice": tick, "tickSize": tick},
            {"filterType": "NOTIONAL", "minNotional": lot["minOrderAmt"]},
        ],
    }


#: the listed instrument's rules, for the account's matching engine
SPOT_RULES = spot_rules(INSTRUMENT)


class BybitError(BacktraderChannelsError):
    """A Bybit error answer (HTTP 200 with a non-zero ``retCode``, unless ``status``).

    Parameters
    ----------
    code : int
        Bybit's ``retCode``.
    msg : str
        Its ``retMsg``.
    status : int, default 200
        The HTTP status.
    """

    def __init__(self, code: int, msg: str, status: int = 200):
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


def body(result: JsonDict, code: int = 0, msg: str = "OK") -> JsonDict:
    """Bybit v5's answer envelope around ``result`` (``retCode`` 0: success)."""
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {},
            "time": int(time.time() * 1000)}  # fmt: skip


def ok(result: JsonDict) -> web.Response:
    """A successful answer."""
    return web.json_response(body(result))


def error(e: BybitError) -> web.Response:
    """An error answer: ``retCode`` and ``retMsg``, an empty ``result``."""
    return web.json_response(body({}, e.code, e.msg), status=e.status)
