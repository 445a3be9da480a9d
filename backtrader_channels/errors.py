"""Exceptions raised by the package."""

from __future__ import annotations

from typing import Any


class DataError(ValueError):
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
        value: Any = None,
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


class ChannelError(ValueError):
    """A channel was configured wrongly (unknown type, missing source, duplicate key)."""


def check_choice(name: str, value: Any, allowed: tuple[Any, ...], error: type = ValueError) -> Any:
    """``value`` if it is one of ``allowed``; else ``error`` naming the parameter and the choices.

    Every mode string of the package goes through here, so ``TickBroker(market_fill="bok")``
    fails at once with ``market_fill='bok': must be one of 'auto', 'book', 'trade'`` instead of
    running as the default."""
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise error(f"{name}={value!r}: must be one of {choices}")
    return value
