"""Tick mode against hftbacktest 2.4.4's Python loop and stock backtrader, in one run, on the
same 1M seeded ticks: (a) count the trades, (b) the 20-tick SMA flip with market orders.

hftbacktest is driven the way a Python user drives it without numba: ``wait_next_feed`` and
``last_trades`` in a plain loop (what its ``@njit`` strategies' ``.py_func`` does). Every engine
must make the same number of decisions in (b), which is the check that they saw the same ticks.
The ratios (``vs_hftbacktest``, ``vs_stock``) are computed from medians measured in this module,
in this session. It needs the bench extra: ``pip install -e ".[bench]"``.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pyarrow.parquet as pq
import pytest

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
