"""The one-tick-behind quoter of the market-making benchmark (issue 38), for hftbacktest (an
``@njit`` function, run compiled or as its ``.py_func``) and for this package (a
``bt.Strategy``), and the comparison of their fills.

The quoter keeps one bid at best bid - 1 tick and one ask at best ask + 1 tick (tick 0.01), 0.01
ETH each; when the best price moves so that the price it wants differs from the resting one, it
cancels and replaces the quote; no new bid at a position >= 0.1 ETH, no new ask at <= -0.1.
Both engines: a risk-averse queue, zero latencies, no partial fills, fees 0.02% maker / 0.05%
taker. hftbacktest hands the strategy the state after all events of one timestamp
(``wait_next_feed``); this package calls ``on_orderbook`` after each book message and
``notify_order`` after each fill, and the quoter re-quotes in both (after a fill: the side that
filled), so both re-quote on the same changes.

PnL: the cash flow of the fills, minus the fees the engine charged, plus the position marked at
the last mid of the book.
"""

from __future__ import annotations

from bisect import bisect_left

import backtrader as bt
import numpy as np
from numba import njit

import backtrader_channels as btch

from .mm_data import SYMBOL

TICKS = 100  # ticks per unit of price (tick 0.01)
QTY, MAX_POS, EPS = 0.01, 0.1, 1e-9
LOT = 0.001  # ETHUSDT's lot size (hftbacktest's queue: a trade fills beyond half a lot)
MAKER, TAKER = 0.0002, 0.0005
CASH = 1_000_000.0
FILL_CAP = 1 << 21
_FILLED, _CANCELED, _EXPIRED = 3, 4, 2  # hftbacktest.order statuses
_GTC, _LIMIT = 0, 0


# ---- hftbacktest --------------------------------------------------------------------------------
def hbt_backtest(data):
    """hftbacktest on ``data`` (an event array or a list of ``.npz`` files)."""
    import hftbacktest as hbt

    asset = (
        hbt.BacktestAsset()
        .data(data)
        .linear_asset(1.0)
        .constant_order_latency(0, 0)
        .risk_adverse_queue_model()
        .no_partial_fill_exchange()
        .trading_value_fee_model(MAKER, TAKER)
        .tick_size(1.0 / TICKS)
        .lot_size(LOT)
    )
    return hbt.HashMapMarketDepthBacktest([asset])


@njit
def hbt_quoter(b, fills, orders_out):  # noqa: C901 - one loop, as hftbacktest strategies are
    """The quoter on hftbacktest ``b``. ``fills[i]`` = (fill ns, side +1/-1, price ticks,
    placed ns, limit ticks); ``orders_out[i]`` = (placed ns, side, price ticks). Returns
    (fills, orders, position, balance, fee, last mid)."""
    bid_id, ask_id = 0, 0
    bid_tick, ask_tick = 0, 0
    bid_t, ask_t = 0, 0
    next_id, n_orders, n_fills = 1, 0, 0
    feeds = 0
    while True:
        code = b.wait_next_feed(False, 1 << 62)
        orders = b.orders(0)
        if bid_id != 0:
            o = orders.get(bid_id)
            if o is not None:
                if o.status == _FILLED:
                    fills[n_fills, 0], fills[n_fills, 1] = o.exch_timestamp, 1
                    fills[n_fills, 2], fills[n_fills, 3] = o.exec_price_tick, bid_t
                    fills[n_fills, 4] = bid_tick
                    n_fills += 1
                    bid_id = 0
                elif o.status == _CANCELED or o.status == _EXPIRED:
                    bid_id = 0
        if ask_id != 0:
            o = orders.get(ask_id)
            if o is not None:
                if o.status == _FILLED:
                    fills[n_fills, 0], fills[n_fills, 1] = o.exch_timestamp, -1
                    fills[n_fills, 2], fills[n_fills, 3] = o.exec_price_tick, ask_t
                    fills[n_fills, 4] = ask_tick
                    n_fills += 1
                    ask_id = 0
                elif o.status == _CANCELED or o.status == _EXPIRED:
                    ask_id = 0
        if code != 2:
            break
        feeds += 1
        if feeds % 512 == 0:
            b.clear_inactive_orders(0)
        depth = b.depth(0)
        bbp, bap = depth.best_bid, depth.best_ask
        if bbp != bbp or bap != bap:  # a side is empty (NaN)
            continue
        bb, ba = int(np.round(bbp * TICKS)), int(np.round(bap * TICKS))
        pos = b.position(0)
        now = b.current_timestamp
        want = bb - 1
        if bid_id != 0 and (bid_tick != want or pos >= MAX_POS - EPS):
            if b.cancel(0, bid_id, False) == 0:
                bid_id = 0
        if bid_id == 0 and pos < MAX_POS - EPS:
            b.submit_buy_order(0, next_id, want / TICKS, QTY, _GTC, _LIMIT, False)
            bid_id, bid_tick, bid_t = next_id, want, now
            orders_out[n_orders, 0], orders_out[n_orders, 1] = now, 1
            orders_out[n_orders, 2] = want
            next_id += 1
            n_orders += 1
        want = ba + 1
        if ask_id != 0 and (ask_tick != want or pos <= -MAX_POS + EPS):
            if b.cancel(0, ask_id, False) == 0:
                ask_id = 0
        if ask_id == 0 and pos > -MAX_POS + EPS:
            b.submit_sell_order(0, next_id, want / TICKS, QTY, _GTC, _LIMIT, False)
            ask_id, ask_tick, ask_t = next_id, want, now
            orders_out[n_orders, 0], orders_out[n_orders, 1] = now, -1
            orders_out[n_orders, 2] = want
            next_id += 1
            n_orders += 1
    depth = b.depth(0)
    mid = (depth.best_bid + depth.best_ask) / 2.0
    sv = b.state_values(0)
    return n_fills, n_orders, sv.position, sv.balance, sv.fee, mid


def run_hbt(data, jit: bool = True) -> dict:
    """The quoter on hftbacktest (compiled, or its ``.py_func``): the result dict."""
    b = hbt_backtest(data)
    fills = np.zeros((FILL_CAP, 5), dtype=np.int64)
    orders = np.zeros((FILL_CAP * 4, 3), dtype=np.int64)
    fn = hbt_quoter if jit else hbt_quoter.py_func
    n_fills, n_orders, pos, balance, fee, mid = fn(b, fills, orders)
    b.close()
    f = fills[:n_fills]
    return result(
        [(t, s, p / TICKS, pl, lim / TICKS) for t, s, p, pl, lim in f.tolist()],
        orders[:n_orders].tolist(),
        float(pos),
        float(fee),
        float(mid),
        balance=float(balance),
    )


def result(fills, orders, position, fee, mid, **extra) -> dict:
    """One engine's outcome: counts, the position, and PnL (cash flow - fees + position at the
    last mid)."""
    cash = sum(-f[1] * f[2] * QTY for f in fills)
    return {
        "orders": len(orders),
        "fills": len(fills),
        "position": round(position, 9),
        "fees": fee,
        "last_mid": mid,
        "pnl": cash - fee + position * mid,
        "fill_list": fills,
        "order_list": orders,
        **extra,
    }


# ---- this package -------------------------------------------------------------------------------
class MMQuoter(bt.Strategy):
    """The quoter as a tick-mode strategy: re-quotes after each book message and each fill."""

    def start(self):
        self.book = self.channels[("orderbook", SYMBOL)]
        self.bid = self.ask = None
        self.bid_tick = self.ask_tick = 0
        self.fills = []  # (fill ns, side, price, placed ns, limit)
        self.placed = []  # (placed ns, side, price ticks)

    def notify_order(self, order):
        if order.status != order.Completed:
            return
        buy = order.isbuy()
        self.record(order, buy)
        if buy and self.bid is not None and order.ref == self.bid.ref:
            self.bid = None
        elif not buy and self.ask is not None and order.ref == self.ask.ref:
            self.ask = None
        self.requote()

    def record(self, order, buy):
        self.fills.append(
            (
                self.broker.current_ns(),
                1 if buy else -1,
                order.executed.price,
                order.created_ns,
                order.created.price,
            )
        )

    def on_orderbook(self, event):
        self.requote()

    def requote(self):
        book = self.book
        bb, ba = book.best_bid_price, book.best_ask_price
        if bb is None or ba is None:
            return
        pos = self.position.size
        now = self.broker.current_ns()
        want = round(bb * TICKS) - 1
        bid = self.bid
        if bid is not None and (self.bid_tick != want or pos >= MAX_POS - EPS):
            self.cancel(bid)
            self.bid = bid = None
        if bid is None and pos < MAX_POS - EPS:
            self.bid = self.buy(size=QTY, price=want / TICKS, exectype=bt.Order.Limit)
            self.bid_tick = want
            self.placed.append((now, 1, want))
        want = round(ba * TICKS) + 1
        ask = self.ask
        if ask is not None and (self.ask_tick != want or pos <= -MAX_POS + EPS):
            self.cancel(ask)
            self.ask = ask = None
        if ask is None and pos > -MAX_POS + EPS:
            self.ask = self.sell(size=QTY, price=want / TICKS, exectype=bt.Order.Limit)
            self.ask_tick = want
            self.placed.append((now, -1, want))


class MMQuoterTraced(MMQuoter):
    """The same decisions, and for each fill what filled it: the trade (its aggressor side,
    price and size, and the queue ahead of the order before it) or a book message. Used by the
    agreement test only (it adds an ``on_tick``)."""

    def start(self):
        super().start()
        self.ticks = self.channels[("tick", SYMBOL)]
        self.ahead = {}  # order ref -> queue ahead after the previous event
        self.how = []  # per fill: (via, aggressor, trade price, trade size, queue ahead before)

    def record(self, order, buy):
        super().record(order, buy)
        clock = self.broker.clock
        if clock is self.ticks and clock.latest is not None:
            ev = clock.latest
            self.how.append(("trade", ev.direction, ev.price, ev.volume, self.ahead.get(order.ref)))
        else:
            self.how.append(("book", "", 0.0, 0.0, None))

    def _note(self):
        for o in (self.bid, self.ask):
            if o is not None:
                self.ahead[o.ref] = getattr(o, "queue_ahead", None)

    def on_tick(self, tick):
        self._note()

    def on_orderbook(self, event):
        self.requote()
        self._note()


def broker_params(rules: str = "default") -> dict:
    """``TickBroker`` arguments: the benchmark's rules, plus ``rules`` ("default",
    "hftbacktest": ``fill_profile="hftbacktest"``, "hftbacktest_halflot": that and
    ``queue_tolerance`` = half a lot, hftbacktest's rounding) when this version has them."""
    keys = set(btch.TickBroker.params._getkeys())
    kw = {
        "queue": "risk_averse",
        "partial_fills": False,
        "fees": btch.MakerTaker(maker=MAKER, taker=TAKER),
        "max_book_age_ns": None,  # hftbacktest has no stale-book rule
    }
    if rules.startswith("hftbacktest"):
        if "fill_profile" not in keys:
            raise LookupError("this TickBroker has no fill_profile")
        kw["fill_profile"] = "hftbacktest"
        if rules.endswith("halflot"):
            if "queue_tolerance" not in keys:
                raise LookupError("this TickBroker has no queue_tolerance")
            kw["queue_tolerance"] = LOT / 2
    return kw


def available_rules() -> list[str]:
    keys = set(btch.TickBroker.params._getkeys())
    out = ["default"]
    if "fill_profile" in keys:
        out.append("hftbacktest")
        if "queue_tolerance" in keys:
            out.append("hftbacktest_halflot")
    return out


def has_hear() -> bool:
    """Whether this version's book channel takes ``hear=`` (the columnar book path)."""
    try:
        from backtrader_channels.channels.columnar import check_hear  # noqa: F401
    except ImportError:
        return False
    return True


def run_ours(
    orderbook, trades, rules: str = "default", strategy=MMQuoter, hear: str | None = None
) -> dict:
    """The quoter on this package (``orderbook``/``trades``: anything ``dataname`` takes);
    ``hear="best"``: the book channel's columnar path, the strategy hearing only the messages
    that change the best bid or ask (all the quoter needs)."""
    c = btch.Cerebro(stdstats=False)
    c.setbroker(btch.TickBroker(**broker_params(rules)))
    c.broker.setcash(CASH)
    c.add_channel("tick", SYMBOL, dataname=trades)
    extra = {} if hear is None else {"hear": hear}
    c.add_channel("orderbook", SYMBOL, dataname=orderbook, **extra)
    c.addstrategy(strategy)
    s = c.run(mode=btch.RunMode.TICK)[0]
    mid = s.book.mid_price
    refused = dict(getattr(s.book, "refused", {}))
    return result(
        s.fills, s.placed, s.position.size, c.broker.fees_paid, mid,
        how=getattr(s, "how", None), refused=refused, events=c.last_run.get("events"),
    )  # fmt: skip


# ---- fill agreement -----------------------------------------------------------------------------
CAUSES = {
    "a": "same-timestamp ordering: placed and filled in the same millisecond here",
    "b": "aggressor side ignored: a print by our own side filled the order here",
    "c": "queue remainder under half a lot filled it here (hftbacktest rounds to lots)",
    "e": "taker here, maker in hftbacktest: the book moved through the order before its first"
    " event here (a taker fill at the opposite best), hftbacktest acked it at the end of its"
    " timestamp and filled it at its limit on that book message",
    "d_path": "none of the above, after an earlier difference: the engines' positions"
    " differed at that moment (so did their quotes)",
    "d_pair": "the same quote filled in both, at another millisecond",
    "d_other": "other",
}


def _key(f):
    return (f[0] // 1_000_000, f[1], round(f[2] * TICKS))


def _positions(fills):
    """(times, position after each fill) for a fill list (fills in time order)."""
    ts = [f[0] for f in fills]
    pos, out = 0, []
    for f in fills:
        pos += f[1]
        out.append(pos)
    return ts, out


def _pos_at(timeline, t):
    """The position (in quotes) just before ``t``."""
    ts, pos = timeline
    i = bisect_left(ts, t)
    return pos[i - 1] if i else 0


class _Unmatched:
    """hftbacktest's fills that found no twin, looked up by (side, price) and by key; a fill
    taken here is paired with one of ours (the same quote, another outcome)."""

    def __init__(self, other: list, only: list[int]) -> None:
        self.other, self.taken = other, set()
        self.by_side_px: dict = {}
        self.by_key: dict = {}
        for j in only:
            f = other[j]
            self.by_side_px.setdefault((f[1], round(f[2] * TICKS)), []).append(j)
            self.by_key.setdefault(_key(f), []).append(j)

    def take(self, j: int | None):
        if j is None:
            return None
        self.taken.add(j)
        return self.other[j]

    def at_limit(self, f) -> int | None:
        """The same millisecond and side, at our fill's order limit (a maker fill there)."""
        lst = self.by_key.get((f[0] // 1_000_000, f[1], round(f[4] * TICKS)), [])
        return next((j for j in lst if j not in self.taken), None)

    def near(self, f, window_ms: int) -> int | None:
        """The same side and price within ``window_ms``, placed before our fill."""
        ms = f[0] // 1_000_000
        for j in self.by_side_px.get((f[1], round(f[2] * TICKS)), []):
            g = self.other[j]
            if (
                j not in self.taken
                and abs(g[0] // 1_000_000 - ms) <= window_ms
                and (g[3] // 1_000_000 <= ms)
            ):
                return j
        return None


def _cause(f, h, same_position: bool, twin_at_limit: bool) -> str:
    """Why our fill ``f`` (with ``h``, what filled it) has no twin in hftbacktest."""
    if f[2] != f[4] and twin_at_limit:
        return "e"
    trade = h is not None and h[0] == "trade"
    if trade and h[1] == ("buy" if f[1] > 0 else "sell"):
        return "b"
    if f[3] // 1_000_000 == f[0] // 1_000_000:
        return "a"
    if trade and h[4] is not None and round(h[2] * TICKS) == round(f[2] * TICKS):
        if h[3] - h[4] <= LOT / 2:
            return "c"
    return "d_other" if same_position else "d_path"


def compare(ours: dict, theirs: dict, window_ms: int = 2_000) -> dict:
    """Match our fills against hftbacktest's on (millisecond, side, price) and classify the
    rest (``CAUSES``). ``ours`` should come from :class:`MMQuoterTraced` (its ``how``)."""
    mine, other = ours["fill_list"], theirs["fill_list"]
    how = ours.get("how") or [None] * len(mine)
    pool: dict = {}
    for i, f in enumerate(other):
        pool.setdefault(_key(f), []).append(i)
    matched, only_ours = 0, []
    for i, f in enumerate(mine):
        lst = pool.get(_key(f))
        if lst:
            lst.pop(0)
            matched += 1
        else:
            only_ours.append(i)
    only_theirs = sorted(j for lst in pool.values() for j in lst)
    tl_ours, tl_theirs = _positions(mine), _positions(other)
    left = _Unmatched(other, only_theirs)
    causes: dict[str, int] = dict.fromkeys(CAUSES, 0)
    examples: dict[str, list] = {k: [] for k in CAUSES}
    for i in only_ours:
        f, h = mine[i], how[i]
        same_pos = _pos_at(tl_ours, f[0]) == _pos_at(tl_theirs, f[0])
        at_limit = left.at_limit(f)
        cause = _cause(f, h, same_pos, at_limit is not None)
        twin = left.take(at_limit if cause == "e" else left.near(f, window_ms))
        if cause == "d_other" and twin is not None:
            cause = "d_pair"
        causes[cause] += 1
        if len(examples[cause]) < 5:
            examples[cause].append({"ours": f, "how": h, "theirs": twin})
    theirs_causes: dict[str, int] = {"paired_with_ours_only": len(left.taken)}
    examples["theirs_other"] = []
    for j in only_theirs:
        if j in left.taken:
            continue
        f = other[j]
        k = "d_path" if _pos_at(tl_ours, f[0]) != _pos_at(tl_theirs, f[0]) else "d_other"
        theirs_causes[k] = theirs_causes.get(k, 0) + 1
        if k == "d_other" and len(examples["theirs_other"]) < 5:
            examples["theirs_other"].append({"theirs": f})
    return {
        "ours": len(mine),
        "theirs": len(other),
        "matched": matched,
        "ours_only": len(only_ours),
        "theirs_only": len(only_theirs),
        "ours_only_causes": causes,
        "theirs_only_causes": theirs_causes,
        "examples": examples,
        "first_difference_ms": _first_difference(mine, other),
    }


def _first_difference(mine, other):
    """The millisecond of the first fill that is not in both lists (None: identical)."""
    for f, g in zip(mine, other):
        if _key(f) != _key(g):
            return min(f[0], g[0]) // 1_000_000
    if len(mine) != len(other):
        longer = mine if len(mine) > len(other) else other
        return longer[min(len(mine), len(other))][0] // 1_000_000
    return None
