"""Synthetic data is seeded: the same seed gives the same trades, in the native schema."""

from backtrader_channels.loopback.synthetic import synthetic_trades, write_synthetic_trades
from backtrader_channels.sources.schema import schema_for


def test_same_seed_same_trades(tmp_path):
    a, b = synthetic_trades(5000, seed=7), synthetic_trades(5000, seed=7)
    assert a.equals(b)
    assert not a.equals(synthetic_trades(5000, seed=8))
    assert a.schema.equals(schema_for("tick"))
    ts = a.column("timestamp").to_pylist()
    assert ts == sorted(ts)
    path = write_synthetic_trades(str(tmp_path / "t.parquet"), 5000, seed=7, row_group_size=1000)
    import pyarrow.parquet as pq

    assert pq.read_table(path).equals(a)
