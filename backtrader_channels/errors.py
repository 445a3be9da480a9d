"""Exceptions raised by the package, and the check of mode strings.

Every exception the package defines derives from :class:`BacktraderChannelsError`, and also
from the builtin its callers have always caught (``DataError`` is a ``ValueError``, ``NotReady``
a ``RuntimeError``, ...): ``except btch.BacktraderChannelsError`` catches all of the package's
own, ``except ValueError`` still catches a ``DataError``.
"""

from __future__ import annotations

from typing import TypeVar, overload

#: an allowed value of :func:`check_choice` (what it returns)
T = TypeVar("T")


class BacktraderChannelsError(Exception):
    """The base of every exception the package defines (``DataError``, ``ChannelError``,
    ``NotReady``, ``FeedError``, ``SweepError``, ``SmokeError``, ``UsageError``, ...)."""


class DataError(BacktraderChannelsError, ValueError):
    """Bad input data, located as precisely as the format allows.

    ``source`` is the file (or ``"<DataFrame>"``), ``line`` the 1-based text line for CSV (the
    header is line 1), ``row`` the 0-based data row for Parquet and DataFrames.
    """

    def __init__(
        self,
        source: str,
        reason: str,
        *,
        line: int | None = None,
        row: int | None = None,
        column: str | None = None,
        value: object = None,
    ) -> None:
        self.source, self.reason = source, reason
        self.line, self.row, self.column, self.value = line, row, column, value
        where = source
        if line is not None:
            where += f", line {line}"
        elif row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column '{column}'"
        msg = f"{where}: {reason}"
        if value is not None:
            msg += f" (value: {value!r})"
        super().__init__(msg)


class ChannelError(BacktraderChannelsError, ValueError):
    """A channel was configured wrongly (unknown type, missing source, duplicate key)."""


@overload
def check_choice(name: str, value: object, allowed: tuple[T, ...]) -> T: ...
@overload
def check_choice(name: str, value: object, allowed: tuple[T, ...], error: type[Exception]) -> T: ...
def check_choice(
    name: str, value: object, allowed: tuple[object, ...], error: type[Exception] = ValueError
) -> object:
    """``value`` if it is one of ``allowed``; else ``error`` naming the parameter and the choices.

    Every mode string of the package goes through here, so ``TickBroker(market_fill="bok")``
    fails at once with ``market_fill='bok': must be one of 'auto', 'book', 'trade'`` instead of
    running as the default."""
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise error(f"{name}={value!r}: must be one of {choices}")
    return value
