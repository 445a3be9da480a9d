"""Where converted parts go: a day's rows past midnight (a file cut by local time, as Tardis's
are) stay beside the next day's own parts; a month's parts replace its days' and back."""

from __future__ import annotations

import datetime as dt

from backtrader_channels.download.plan import Item, Period, month_days
from backtrader_channels.download.store import _move_parts

D = dt.date


def _item(label, days):
    period = Period(label, len(label) == 7, days)
    return Item("tardis", "trades", "BTCUSDT", "linear", period, "u", label, None, "", "x.csv")


def _convert(tmp_path, item, dates, n):
    """What ``convert`` leaves for ``item``: one part per date folder."""
    out = tmp_path / f"out{n}"
    for d in dates:
        folder = out / "channel=tick" / f"date={d}"
        folder.mkdir(parents=True)
        (folder / "part-000000.parquet").write_bytes(b"x")
    return _move_parts(str(out), str(tmp_path / "dest"), str(tmp_path / "dest"), item)


def test_a_days_rows_past_midnight_survive_the_next_days_conversion(tmp_path):
    d1, d2 = D(2024, 7, 1), D(2024, 7, 2)
    _convert(tmp_path, _item("2024-07-01", (d1,)), [d1, d2], 1)  # its last rows spill into d2
    _convert(tmp_path, _item("2024-07-02", (d2,)), [d2], 2)
    folder = tmp_path / "dest" / "channel=tick" / "date=2024-07-02"
    assert sorted(p.name for p in folder.iterdir()) == [
        "part-BTCUSDT-trades-2024-07-01-000.parquet",
        "part-BTCUSDT-trades-2024-07-02-000.parquet",
    ]


def test_a_month_replaces_its_days_and_a_day_replaces_its_month(tmp_path):
    d = D(2024, 7, 5)
    _convert(tmp_path, _item("2024-07-05", (d,)), [d], 1)
    _convert(tmp_path, _item("2024-07", month_days(2024, 7)), [d], 2)
    folder = tmp_path / "dest" / "channel=tick" / "date=2024-07-05"
    assert [p.name for p in folder.iterdir()] == ["part-BTCUSDT-trades-2024-07-000.parquet"]
    _convert(tmp_path, _item("2024-07-05", (d,)), [d], 3)
    assert [p.name for p in folder.iterdir()] == ["part-BTCUSDT-trades-2024-07-05-000.parquet"]
