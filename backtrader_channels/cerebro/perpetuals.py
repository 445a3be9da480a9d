"""Wiring a run's perpetual account: one per-event step for each channel of a perpetual data
(funding times, marks, liquidation: ``broker.perpetual``), and the strategies'
``notify_funding``. A spot run (no ``PerpetualCommInfo``) gets nothing."""

from __future__ import annotations

from ..broker.tickbroker import TickBroker
from ..btypes import BtStrategy
from ..channels.base import ChannelKey
from ..dispatch.targets import Targets
from ..lines.bars import BarStep


def perpetual_steps(
    broker: TickBroker,
    targets: Targets,
    strats: list[BtStrategy],
    steps: dict[ChannelKey, list[BarStep]],
) -> dict[ChannelKey, list[BarStep]]:
    """``steps`` (the bars' per-event steps by channel key) with the perpetual account's step
    first on each channel of a perpetual data; the strategies' ``notify_funding`` listen."""
    perp = broker.perp
    if perp is None:
        return steps
    # the derivative channels first: a symbol's mark source is known before its other channels
    ordered = sorted(targets.items(), key=lambda kt: kt[1].channel.channel_type != "derivative")
    for key, target in ordered:
        hook = perp.hook(target.data, target.channel)
        if hook is not None:
            steps[key] = [hook, *steps.get(key, [])]
    perp.listeners = [fn for s in strats if callable(fn := getattr(s, "notify_funding", None))]
    perp.wired()
    return steps
