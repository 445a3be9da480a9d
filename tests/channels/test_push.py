"""A channel's own ``push`` is always called: the loop applies trades inline only to channels
whose ``push`` is ``Channel.push`` (``Channel.plain_push``)."""

from __future__ import annotations

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels.channels import Channel, OrderBookChannel, QuoteChannel, TickChannel
from backtrader_channels.dispatch.loop import TICK, SourceTarget

SYMBOL = "BTC/USDT"


class CountingTicks(TickChannel):
    """Counts the calls of its ``push``."""

    calls = 0

    def push(self, event):
        type(self).calls += 1
        return super().push(event)


class StillCounting(CountingTicks):
    """A subclass of a channel with its own ``push``, with none of its own."""


class Insisting(TickChannel):
    """Claims a plain push while overriding it: the claim does not stick."""

    plain_push = True

    def push(self, event):
        return super().push(event)


def test_only_channels_with_channels_push_are_plain():
    assert Channel.plain_push
    assert TickChannel.plain_push
    assert QuoteChannel.plain_push
    assert not OrderBookChannel.plain_push  # (its push checks update ids)
    assert not CountingTicks.plain_push
    assert not StillCounting.plain_push
    assert not Insisting.plain_push


@pytest.mark.parametrize("cls", [CountingTicks, StillCounting])
def test_a_push_of_its_own_is_called_for_every_trade_of_a_run(sample, cls):
    class Count(bt.Strategy):
        def start(self):
            self.n = 0

        def on_tick(self, tick):
            self.n += 1

    cls.calls = 0
    cerebro = btch.Cerebro(stdstats=False)
    channel = cerebro.add_channel(cls, SYMBOL, dataname=sample.trades)
    cerebro.addstrategy(Count)
    [strat] = cerebro.run(mode=btch.RunMode.TICK)
    assert strat.n > 1_000
    assert cls.calls == strat.n == channel.count == cerebro.last_run["events"]


def test_a_push_set_on_the_instance_is_not_skipped_either():
    channel = TickChannel(SYMBOL)
    assert SourceTarget(TICK, channel, None, [], None).inline_push
    channel.push = lambda event: False  # type: ignore[method-assign]
    assert not SourceTarget(TICK, channel, None, [], None).inline_push
    assert not SourceTarget(TICK, CountingTicks(SYMBOL), None, [], None).inline_push


def test_channels_of_no_book_have_no_mid_and_refuse_nothing():
    channel = TickChannel(SYMBOL)
    assert channel.mid_price is None
    assert not channel.refused
    assert channel.push(btch.TickEvent(1, 100.0, 1.0)) is True
