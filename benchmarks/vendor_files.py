"""Synthetic files in each supported format, built from the same seeded trades (for benchmarks)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from backtrader_channels.loopback.synthetic import iter_synthetic_trades


def _write_csv(path: str, n: int, seed: int, shape, include_header: bool = True) -> str:
    with open(path, "wb") as fh:
        first = True
        for table in iter_synthetic_trades(n, seed):
            out = shape(table)
            opts = pacsv.WriteOptions(include_header=include_header and first)
            pacsv.write_csv(out, fh, write_options=opts)
            first = False
    return path


def native_csv(path: str, n: int, seed: int = 5) -> str:
    """The native trade schema as CSV."""
    return _write_csv(path, n, seed, lambda t: t)


def tardis_trades_csv(path: str, n: int, seed: int = 5) -> str:
    """Tardis ``trades`` CSV (microsecond timestamps)."""

    def shape(t: pa.Table) -> pa.Table:
        return pa.table(
            {
                "exchange": pa.array(["binance"] * t.num_rows),
                "symbol": pa.array(["BTCUSDT"] * t.num_rows),
                "timestamp": pc.divide(t.column("timestamp"), 1000),
                "local_timestamp": pc.divide(t.column("recv_timestamp"), 1000),
                "id": t.column("trade_id"),
                "side": t.column("side"),
                "price": t.column("price"),
                "amount": t.column("volume"),
            }
        )

    return _write_csv(path, n, seed, shape)


def binance_trades_csv(path: str, n: int, seed: int = 5) -> str:
    """A headerless Binance spot trades dump (millisecond times)."""

    def shape(t: pa.Table) -> pa.Table:
        return pa.table(
            {
                "id": t.column("trade_id"),
                "price": t.column("price"),
                "qty": t.column("volume"),
                "quote_qty": pc.multiply(t.column("price"), t.column("volume")),
                "time": pc.divide(t.column("timestamp"), 1_000_000),
                "is_buyer_maker": pc.equal(t.column("side"), "sell"),
                "is_best_match": pa.array([True] * t.num_rows),
            }
        )

    return _write_csv(path, n, seed, shape, include_header=False)
