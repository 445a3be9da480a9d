"""Faithfully shaped vendor files written from the real Binance capture (same trades, quotes
and book), so each reader can be checked against the native reading of the same market data."""

from __future__ import annotations

import gzip

from backtrader_channels import OrderBookChannel
from backtrader_channels.sources import read_native


def _write(path, lines):
    text = "\n".join(lines) + "\n"
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return str(path)


def _num(x):
    return repr(float(x))


def tardis_trades(tables, path, extra_symbol=False):
    t = tables["tick"].to_pydict()
    lines = ["exchange,symbol,timestamp,local_timestamp,id,side,price,amount"]
    for i in range(len(t["timestamp"])):
        row = (
            f"binance,BTCUSDT,{t['timestamp'][i] // 1000},{t['recv_timestamp'][i] // 1000},"
            f"{t['trade_id'][i]},{t['side'][i]},{_num(t['price'][i])},{_num(t['volume'][i])}"
        )
        lines.append(row)
        if extra_symbol and i % 3 == 0:  # an interleaved second symbol
            lines.append(
                f"binance,ETHUSDT,{t['timestamp'][i] // 1000},"
                f"{t['recv_timestamp'][i] // 1000},{i},buy,2600.5,1.0"
            )
    return _write(path, lines)


def tardis_quotes(tables, path):
    q = tables["quote"].to_pydict()
    lines = ["exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount"]
    lines.extend(
        f"binance,BTCUSDT,{q['timestamp'][i] // 1000},{q['recv_timestamp'][i] // 1000},"
        f"{_num(q['ask_size'][i])},{_num(q['ask_price'][i])},"
        f"{_num(q['bid_price'][i])},{_num(q['bid_size'][i])}"
        for i in range(len(q["timestamp"]))
    )
    return _write(path, lines)


def tardis_l2(tables, path):
    b = tables["orderbook"].to_pydict()
    lines = ["exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount"]
    lines.extend(
        f"binance,BTCUSDT,{b['timestamp'][i] // 1000},{b['recv_timestamp'][i] // 1000},"
        f"{'true' if b['is_snapshot'][i] else 'false'},{b['side'][i]},"
        f"{_num(b['price'][i])},{_num(b['size'][i])}"
        for i in range(len(b["timestamp"]))
    )
    return _write(path, lines)


def tardis_snapshots(tables, path, depth=5):
    """book_snapshot_<depth>: the top levels after each real book update; also returns them."""
    book = OrderBookChannel("BTCUSDT")
    header = ["exchange", "symbol", "timestamp", "local_timestamp"]
    for i in range(depth):
        header += [f"asks[{i}].price", f"asks[{i}].amount", f"bids[{i}].price", f"bids[{i}].amount"]
    lines, tops = [",".join(header)], []
    for _, chunk in read_native(tables["orderbook"], "orderbook", "BTCUSDT"):
        for ev in chunk:
            book.push(ev)
            bids, asks = book.levels(depth)
            cells = [f"binance,BTCUSDT,{ev.timestamp // 1000},{ev.recv_timestamp // 1000}"]
            for i in range(depth):
                cells += [
                    _num(asks[i].price),
                    _num(asks[i].size),
                    _num(bids[i].price),
                    _num(bids[i].size),
                ]
            lines.append(",".join(cells))
            tops.append((bids, asks))
    return _write(path, lines), tops


def binance_trades(tables, path, layout="spot", unit="ms"):
    """A Binance trades dump: spot (no header, 7 fields) or futures (header, 6 fields)."""
    t = tables["tick"].to_pydict()
    div = 1_000_000 if unit == "ms" else 1_000
    lines = [] if layout == "spot" else ["id,price,qty,quote_qty,time,is_buyer_maker"]
    for i in range(len(t["timestamp"])):
        maker = "True" if t["side"][i] == "sell" else "False"
        cells = [
            str(t["trade_id"][i]),
            _num(t["price"][i]),
            _num(t["volume"][i]),
            _num(t["price"][i] * t["volume"][i]),
            str(t["timestamp"][i] // div),
            maker,
        ]
        if layout == "spot":
            cells.append("True")
        else:
            cells[5] = cells[5].lower()
        lines.append(",".join(cells))
    return _write(path, lines)


def binance_agg_trades(tables, path, layout="spot"):
    t = tables["tick"].to_pydict()
    lines = (
        []
        if layout == "spot"
        else [
            "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
        ]
    )
    for i in range(len(t["timestamp"])):
        maker = "True" if t["side"][i] == "sell" else "False"
        cells = [
            str(1000 + i),
            _num(t["price"][i]),
            _num(t["volume"][i]),
            str(t["trade_id"][i]),
            str(t["trade_id"][i]),
            str(t["timestamp"][i] // 1_000_000),
            maker,
        ]
        if layout == "spot":
            cells.append("True")
        lines.append(",".join(cells))
    return _write(path, lines)
