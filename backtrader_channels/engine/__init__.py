"""The former name of :mod:`backtrader_channels.dispatch` (the event queue, the tick loop, the
notifications), kept so that ``backtrader_channels.engine.queue`` and its siblings still import.
"Engine" now means only where a sweep's tasks run (:mod:`backtrader_channels.parallel`)."""

from __future__ import annotations

import sys

from ..dispatch import hold, loop, notify, protocols, queue, targets

for _module in (hold, loop, notify, protocols, queue, targets):
    sys.modules[f"{__name__}.{_module.__name__.rsplit('.', 1)[1]}"] = _module

__all__ = ["hold", "loop", "notify", "protocols", "queue", "targets"]
