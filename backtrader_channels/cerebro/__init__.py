"""The composition point: ``Cerebro`` (``bt.Cerebro`` plus channels and a tick mode) wires
sources, queue, loop, broker, bridges and bars for one run."""

from .core import Cerebro, RunMode
from .recorded import to_ns

__all__ = ["Cerebro", "RunMode", "to_ns"]
