"""How much recorded data a run or a conversion has read, for a progress bar with a total.

The unit is bytes on disk: what every file has, whatever its format. A reader that opens a
file tells the :class:`ReadMeter` how far into it it is: a CSV or capture reader by the position
of the raw (compressed) file, a Parquet reader by the rows it has read (from the row count in the
file's metadata). Nothing here runs per event: readers update their position once per batch,
and the bar asks for :attr:`ReadMeter.position` every few hundred runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from . import storage


class Reading:
    """One file being read: its size and how far the reader is (``probe()``, else ``pos``)."""

    __slots__ = ("pos", "probe", "size")

    def __init__(self, size: int, probe: Callable[[], int] | None = None):
        self.size, self.probe, self.pos = size, probe, 0

    def position(self) -> int:
        """Bytes of the file read so far (at most its size)."""
        pos = self.probe() if self.probe is not None else self.pos
        return max(0, min(pos, self.size))


class ReadMeter:
    """The bytes of recorded files a run will read (``total``) and has read (``position``).

    ``known`` is False when a source of unknown size (a DataFrame, a Table, an iterable of
    events) takes part: a bar then counts events without a total.
    """

    def __init__(self) -> None:
        self.total = 0
        self.known = True
        self._done = 0
        self._reading: list[Reading] = []

    def expect(self, paths: Iterable[str]) -> None:
        """Count the files the run will read into the total."""
        for path in paths:
            self.total += storage.size(path)

    @property
    def position(self) -> int:
        """Bytes read so far: finished files whole, open ones as far as their reader is."""
        return self._done + sum(r.position() for r in self._reading)

    @contextmanager
    def reading(self, path: str, probe: Callable[[], int] | None = None) -> Iterator[Reading]:
        """While a reader reads ``path``: its :class:`Reading` (set ``pos``, or give ``probe``);
        once the reader is done (or closed early), the whole file counts as read."""
        reading = Reading(storage.size(path), probe)
        self._reading.append(reading)
        try:
            yield reading
        finally:
            self._reading.remove(reading)
            self._done += reading.size


class MeterSum:
    """Several meters as one (one bar over a run's sources); unknown if any is, or None."""

    def __init__(self, meters: Iterable[ReadMeter | None]):
        self.meters = list(meters)

    @property
    def known(self) -> bool:
        return all(m is not None and m.known for m in self.meters)

    @property
    def total(self) -> int:
        return sum(m.total for m in self.meters if m is not None)

    @property
    def position(self) -> int:
        return sum(m.position for m in self.meters if m is not None)


def reading(
    meter: ReadMeter | None, path: str, probe: Callable[[], int] | None = None
) -> AbstractContextManager[Reading]:
    """``meter.reading(path, probe)``, or a no-op context without a meter."""
    if meter is None:
        return nullcontext(Reading(0))
    return meter.reading(path, probe)
