"""ChannelBridge cost: SMA(bridge) against a hand-written SMA in on_tick, and the plain
backtrader way (next() over bridged lines) against stock backtrader fed one bar per tick.

Run: ``python -m pytest benchmarks/test_bridge.py --benchmark-only``.
"""

from __future__ import annotations

import pytest

import backtrader_channels as btch

from .conftest import N_TICKS
from .strategies import (
    BridgeCrossTicks,
    BridgeEmaTicks,
    BridgeRsiTicks,
    BridgeSmaNext,
    BridgeSmaTicks,
    RawCrossTicks,
    RawEmaTicks,
    RawRsiTicks,
    RawSmaTicks,
    StockSmaBars,
)
from .test_tick_mode import report, stock_run


def tick_run(path, strategy):
    cerebro = btch.Cerebro(stdstats=False)
    cerebro.add_channel(btch.TickChannel, symbol="BTC/USDT", dataname=path)
    cerebro.addstrategy(strategy)
    return cerebro.run(mode=btch.RunMode.TICK)[0]


@pytest.mark.benchmark(group="bridge-sma")
@pytest.mark.parametrize(
    "strategy",
    [RawSmaTicks, BridgeSmaTicks, BridgeSmaNext],
    ids=["raw_on_tick", "bridge_on_tick", "bridge_next"],
)
def test_sma_tick_mode(benchmark, ticks_path, strategy):
    strat = benchmark.pedantic(tick_run, args=(ticks_path, strategy), rounds=3, iterations=1)
    report(benchmark, N_TICKS, above=strat.above)


@pytest.mark.benchmark(group="bridge-sma")
def test_sma_stock_backtrader(benchmark, stock_ticks):
    cerebro = benchmark.pedantic(
        stock_run,
        args=(stock_ticks, StockSmaBars),
        kwargs={"runonce": True},
        rounds=1,
        iterations=1,
    )
    assert cerebro is not None
    report(benchmark, len(stock_ticks))


_INC: dict[str, float] = {}


@pytest.fixture(scope="module")
def tick_events(ticks_path):
    """The ticks as an in-memory list of events: an iterable source, so bridges run the
    incremental path (what live data runs) instead of the precomputed one."""
    from backtrader_channels.sources import read_native

    return [ev for _, evs in read_native(ticks_path, "tick", "BTC/USDT") for ev in evs]


INCREMENTAL = {
    "sma": (RawSmaTicks, BridgeSmaTicks),
    "ema": (RawEmaTicks, BridgeEmaTicks),
    "rsi": (RawRsiTicks, BridgeRsiTicks),
    "crossover": (RawCrossTicks, BridgeCrossTicks),
}


@pytest.mark.benchmark(group="bridge-incremental")
@pytest.mark.parametrize("side", ["raw_on_tick", "bridge_on_tick"])
@pytest.mark.parametrize("indicator", list(INCREMENTAL))
def test_incremental(benchmark, tick_events, indicator, side):
    """Each indicator read in ``on_tick`` from a bridge on the incremental path, against the
    same computed by hand in ``on_tick`` (``vs_raw``, from medians of this session)."""
    raw, bridged = INCREMENTAL[indicator]
    strategy = raw if side == "raw_on_tick" else bridged
    strat = benchmark.pedantic(tick_run, args=(tick_events, strategy), rounds=3, iterations=1)
    _INC[strategy.__name__] = benchmark.stats.stats.median
    info = {"above": strat.above}
    if strategy is bridged and raw.__name__ in _INC:
        info["vs_raw"] = round(_INC[strategy.__name__] / _INC[raw.__name__], 2)
    report(benchmark, N_TICKS, **info)
