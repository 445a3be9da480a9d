"""Tick mode against hftbacktest 2.4.4's Python loop and stock backtrader, in one run, on the
same 1M seeded ticks: (a) count the trades, (b) the 20-tick SMA flip with market orders.

hftbacktest is driven the way a Python user drives it without numba: ``wait_next_feed`` and
``last_trades`` in a plain loop (what its ``@njit`` strategies' ``.py_func`` does). Every engine
must make the same number of decisions in (b), which is the check that they saw the same ticks.
The ratios (``vs_hftbacktest``, ``vs_stock``) are computed from medians measured in this module,
in this session. It needs the bench extra: ``pip install -e ".[bench]"``.

Two floors say what bounds each target, measured in the same session: (a) the same file read
and built into the same events, handed to the same callback in a plain loop (tick mode's GC
settings, none of its bookkeeping); (b) the SMA flip with the tick broker's ``buy``/``sell``
returning at once (the strategy, ``bt.Strategy.buy`` and the loop still run, no order is made).
Each reports the time per tick (per order) that the target leaves above its floor.

The shared machine's speed drifts between the blocks of rounds above (hftbacktest's own loop by
up to 1.5x within an hour), so ``test_c_interleaved_ratios`` also times the engines in turn
within each round and reports each ratio per round: its median and range compare like with like.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np
import pyarrow.parquet as pq
import pytest

from backtrader_channels.broker.tickbroker import TickBroker
from backtrader_channels.gctune import streaming_gc
from backtrader_channels.sources import read_native

from .conftest import N_TICKS
from .strategies import CountBars, CountTicks, SmaFlipBars, SmaFlipTicks
from .test_tick_mode import stock_run, tick_run

hbt = pytest.importorskip("hftbacktest")

_RATE: dict[str, float] = {}


@pytest.fixture(scope="module")
def hbt_events(ticks_path):
    """The Parquet ticks as hftbacktest trade events (exchange and local, with the side)."""
    from hftbacktest.types import event_dtype

    t = pq.read_table(ticks_path)
    arr = np.zeros(t.num_rows, dtype=event_dtype)
    buy = np.asarray(t.column("side").to_numpy(zero_copy_only=False)) == "buy"
    sides = np.where(buy, hbt.BUY_EVENT, hbt.SELL_EVENT)
    arr["ev"] = hbt.EXCH_EVENT | hbt.LOCAL_EVENT | hbt.TRADE_EVENT | sides
    arr["exch_ts"] = t.column("timestamp").to_numpy()
    arr["local_ts"] = t.column("recv_timestamp").to_numpy()
    arr["px"] = t.column("price").to_numpy()
    arr["qty"] = t.column("volume").to_numpy()
    return arr


def hbt_backtest(events, lot_size=0.000001, capacity=100_000):
    """hftbacktest on ``events``: zero latencies, a risk-averse queue, no partial fills, no
    fees (what both benchmark modules compare against)."""
    asset = (
        hbt.BacktestAsset()
        .data(events)
        .linear_asset(1.0)
        .constant_order_latency(0, 0)
        .risk_adverse_queue_model()
        .no_partial_fill_exchange()
        .trading_value_fee_model(0.0, 0.0)
        .tick_size(0.01)
        .lot_size(lot_size)
        .last_trades_capacity(capacity)
    )
    return hbt.HashMapMarketDepthBacktest([asset])


def hbt_count(events):
    bt_ = hbt_backtest(events)
    n = 0
    while True:
        code = bt_.wait_next_feed(False, 1 << 60)
        n += len(bt_.last_trades(0))  # also what arrived with the end of the data
        bt_.clear_last_trades(0)
        if code != 2:
            break
    bt_.close()
    return n


def hbt_sma_flip(events):
    """The same decisions as ``SmaFlipTicks``: market orders, flipping on every crossing."""
    bt_ = hbt_backtest(events)
    window: deque[float] = deque(maxlen=20)
    total, side, orders, oid = 0.0, 0, 0, 0
    while True:
        code = bt_.wait_next_feed(False, 1 << 60)
        for price in bt_.last_trades(0)["px"].tolist():
            if len(window) == 20:
                total -= window[0]
            window.append(price)
            total += price
            if len(window) < 20:
                continue
            sma = total / 20
            if price > sma and side <= 0:
                oid += 1
                qty = 1 if side == 0 else 2
                bt_.submit_buy_order(0, oid, price, qty, hbt.GTC, hbt.MARKET, False)
                side, orders = 1, orders + 1
            elif price < sma and side >= 0:
                oid += 1
                qty = 1 if side == 0 else 2
                bt_.submit_sell_order(0, oid, price, qty, hbt.GTC, hbt.MARKET, False)
                side, orders = -1, orders + 1
        bt_.clear_last_trades(0)
        if oid % 1024 == 0:
            bt_.clear_inactive_orders(0)
        if code != 2:
            break
    bt_.close()
    return orders


def _rate(benchmark, name, n, **info):
    rate = n / benchmark.stats.stats.median
    _RATE[name] = rate
    info = {"ticks_per_s": round(rate), "ticks": n, **info}
    group = name.split(":")[0]
    for other in ("hftbacktest", "stock"):
        if name.endswith(":tick") and f"{group}:{other}" in _RATE:
            info[f"vs_{other}"] = round(rate / _RATE[f"{group}:{other}"], 2)
    benchmark.extra_info.update(info)


# the peers first, so that the tick-mode tests can report their ratios to them
@pytest.mark.benchmark(group="peers-a-count")
def test_a1_count_hftbacktest_python(benchmark, hbt_events):
    n = benchmark.pedantic(hbt_count, args=(hbt_events,), rounds=3, iterations=1)
    assert n == N_TICKS
    _rate(benchmark, "a:hftbacktest", n)


@pytest.mark.benchmark(group="peers-a-count")
def test_a2_count_stock_backtrader(benchmark, stock_ticks):
    benchmark.pedantic(stock_run, args=(stock_ticks, CountBars), rounds=1, iterations=1)
    _rate(benchmark, "a:stock", len(stock_ticks))


@pytest.mark.benchmark(group="peers-a-count")
def test_a3_count_tick_mode(benchmark, ticks_path):
    c = benchmark.pedantic(tick_run, args=(ticks_path, CountTicks), rounds=3, iterations=1)
    assert c.last_run["events"] == N_TICKS
    _rate(benchmark, "a:tick", N_TICKS)


_ORDERS: dict[str, int] = {}


@pytest.mark.benchmark(group="peers-b-sma-flip")
def test_b1_sma_flip_hftbacktest_python(benchmark, hbt_events):
    orders = benchmark.pedantic(hbt_sma_flip, args=(hbt_events,), rounds=3, iterations=1)
    _ORDERS["hftbacktest"] = orders
    _rate(benchmark, "b:hftbacktest", N_TICKS, orders=orders)


@pytest.mark.benchmark(group="peers-b-sma-flip")
def test_b2_sma_flip_stock_backtrader(benchmark, stock_ticks):
    benchmark.pedantic(stock_run, args=(stock_ticks, SmaFlipBars), rounds=1, iterations=1)
    _rate(benchmark, "b:stock", len(stock_ticks))


@pytest.mark.benchmark(group="peers-b-sma-flip")
def test_b3_sma_flip_tick_mode(benchmark, ticks_path):
    c = benchmark.pedantic(tick_run, args=(ticks_path, SmaFlipTicks), rounds=3, iterations=1)
    orders = c.last_run["orders"]
    if "hftbacktest" in _ORDERS:
        assert orders == _ORDERS["hftbacktest"]  # the same ticks, the same decisions
    _rate(benchmark, "b:tick", N_TICKS, orders=orders)


# ---- floors: what bounds each target (see the module doc) -------------------------------------
COUNT_TARGET, FLIP_TARGET = 4.0, 2.0  # x hftbacktest's Python loop (issue 13)


def count_floor(path):
    """Read and build the events as tick mode does, then one callback per event: no channel,
    no data lines, no broker."""
    strat = CountTicks.__new__(CountTicks)  # (only its on_tick and a counter are used)
    strat.n = 0
    cb = strat.on_tick
    with streaming_gc():
        for _, events in read_native(path, "tick", "BTC/USDT"):
            for ev in events:
                cb(ev)
    return strat.n


@pytest.mark.benchmark(group="peers-a-count")
def test_a4_count_floor(benchmark, ticks_path):
    n = benchmark.pedantic(count_floor, args=(ticks_path,), rounds=3, iterations=1)
    assert n == N_TICKS
    _rate(benchmark, "a:floor", n)
    info = benchmark.extra_info
    if "a:hftbacktest" in _RATE:
        info["floor_vs_hftbacktest"] = round(_RATE["a:floor"] / _RATE["a:hftbacktest"], 2)
        # per tick, what the target leaves for the loop's work above the floor
        budget = 1 / (COUNT_TARGET * _RATE["a:hftbacktest"]) - 1 / _RATE["a:floor"]
        info["target_leaves_us_per_tick"] = round(budget * 1e6, 3)
    if "a:tick" in _RATE:
        info["tick_mode_above_floor_us_per_tick"] = round(
            (1 / _RATE["a:tick"] - 1 / _RATE["a:floor"]) * 1e6, 3
        )


def _no_order(self, owner, data, size, *args, **kwargs):
    return None


def flip_floor(path):
    """The SMA flip with the broker's order entry returning at once."""
    buy, sell = TickBroker.buy, TickBroker.sell
    TickBroker.buy = TickBroker.sell = _no_order  # type: ignore[method-assign]
    try:
        return tick_run(path, SmaFlipTicks)
    finally:
        TickBroker.buy, TickBroker.sell = buy, sell  # type: ignore[method-assign]


@pytest.mark.benchmark(group="peers-b-sma-flip")
def test_b4_sma_flip_order_floor(benchmark, ticks_path):
    c = benchmark.pedantic(flip_floor, args=(ticks_path,), rounds=3, iterations=1)
    assert c.last_run["orders"] == 0
    _rate(benchmark, "b:floor", N_TICKS)
    info = benchmark.extra_info
    orders = _ORDERS.get("hftbacktest")
    if "b:hftbacktest" in _RATE and orders:
        info["floor_vs_hftbacktest"] = round(_RATE["b:floor"] / _RATE["b:hftbacktest"], 2)
        # per order: what the target leaves for making, filling and accounting an order
        budget = N_TICKS / (FLIP_TARGET * _RATE["b:hftbacktest"]) - N_TICKS / _RATE["b:floor"]
        info["target_leaves_us_per_order"] = round(budget / orders * 1e6, 2)
    if "b:tick" in _RATE and orders:
        spent = N_TICKS / _RATE["b:tick"] - N_TICKS / _RATE["b:floor"]
        info["tick_mode_us_per_order"] = round(spent / orders * 1e6, 2)


# ---- the ratios, engines timed in turn within each round ----------------------------------------
INTERLEAVED_ROUNDS = 3


def _cpu(fn, *args):
    t = time.process_time()
    fn(*args)
    return time.process_time() - t


def test_c_interleaved_ratios(benchmark, ticks_path, hbt_events, stock_ticks):
    """Per round, every engine once, one after the other (CPU time); each ratio per round.
    A first round warms every engine up and is not counted."""
    n, n_stock = N_TICKS, len(stock_ticks)
    engines = {  # name: (run, ticks it handles)
        "a:hftbacktest": (lambda: hbt_count(hbt_events), n),
        "a:tick": (lambda: tick_run(ticks_path, CountTicks), n),
        "a:floor": (lambda: count_floor(ticks_path), n),
        "a:stock": (lambda: stock_run(stock_ticks, CountBars), n_stock),
        "b:hftbacktest": (lambda: hbt_sma_flip(hbt_events), n),
        "b:tick": (lambda: tick_run(ticks_path, SmaFlipTicks), n),
        "b:floor": (lambda: flip_floor(ticks_path), n),
        "b:stock": (lambda: stock_run(stock_ticks, SmaFlipBars), n_stock),
    }
    rates: dict[str, list[float]] = {k: [] for k in engines}

    def rounds():
        for r in range(INTERLEAVED_ROUNDS + 1):
            for name, (fn, ticks) in engines.items():
                seconds = _cpu(fn)
                if r:
                    rates[name].append(ticks / seconds)

    benchmark.pedantic(rounds, rounds=1, iterations=1)
    info = benchmark.extra_info
    for group in ("a", "b"):
        for who, base in (
            ("tick", "hftbacktest"),
            ("tick", "stock"),
            ("floor", "hftbacktest"),
        ):
            per_round = sorted(
                x / y for x, y in zip(rates[f"{group}:{who}"], rates[f"{group}:{base}"])
            )
            info[f"{group}_{who}_vs_{base}"] = {
                "median": round(float(np.median(per_round)), 2),
                "range": [round(per_round[0], 2), round(per_round[-1], 2)],
            }
    for name, values in rates.items():
        info[f"{name}_ticks_per_s"] = round(float(np.median(values)))
