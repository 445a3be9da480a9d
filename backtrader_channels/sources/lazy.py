"""LazyEvents: a chunk's events kept as checked columns until the dispatch loop needs them.

Readers hand the queue ``(timestamps, events)`` chunks. Building a Python event tuple costs about
0.3 µs a row, three times what decoding and checking a Parquet row costs, so tick and quote chunks
carry their columns and build all their events in one C-level pass (``map``/``zip``) the first time
anything reads them: when the merge reaches the chunk, or when a caller iterates it. Events are
built once and cached; chunks that are never dispatched (wholly outside a ``start``/``end``
window, after an early stop) are never built. A waiting row costs its columns' memory (about 40
bytes) instead of its objects'.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar, overload

#: the type of the events (a reader's: TickEvent or QuoteEvent)
_E = TypeVar("_E")


class LazyEvents(Sequence[_E]):
    """A read-only sequence of ``n`` events produced by ``build()`` on first access."""

    __slots__ = ("_build", "_events", "_n")

    def __init__(self, n: int, build: Callable[[], list[_E]]):
        self._n = n
        self._build: Callable[[], list[_E]] | None = build
        self._events: list[_E] | None = None

    def materialize(self) -> list[_E]:
        """The events as a list (built on the first call, then cached)."""
        events = self._events
        if events is None:
            assert self._build is not None
            events = self._events = self._build()
            self._build = None  # drop the columns
            if len(events) != self._n:
                raise RuntimeError(f"built {len(events)} events, expected {self._n}")
        return events

    @property
    def built(self) -> bool:
        """Whether the events exist as objects yet."""
        return self._events is not None

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> _E: ...

    @overload
    def __getitem__(self, i: slice) -> list[_E]: ...

    def __getitem__(self, i: int | slice) -> _E | list[_E]:
        return self.materialize()[i]

    def __iter__(self) -> Iterator[_E]:
        return iter(self.materialize())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyEvents):
            other = other.materialize()
        return isinstance(other, (list, tuple)) and self.materialize() == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        state = "built" if self.built else "columns"
        return f"<LazyEvents n={self._n} {state}>"
