"""The run report: what a tick-mode run did, as a dict and as a compact text table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, TypedDict

from ..btypes import BtStrategy

# the minute-return Sharpe ratio lives with the sweeps, which rank by it; kept importable here
from ..sweep.metrics import MIN_RETURNS, MINUTES_PER_YEAR, annualized_sharpe

if TYPE_CHECKING:
    from ..cerebro import Cerebro

__all__ = [
    "MINUTES_PER_YEAR",
    "MIN_RETURNS",
    "annualized_sharpe",
    "format_report",
    "run_report",
    "strategy_report",
]


def _iso(ts: int | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts / 1e9, tz=dt.timezone.utc).isoformat(
        timespec="milliseconds"
    )


class _EveryRun(TypedDict):
    """What every run reports (see :class:`StrategyReport`)."""

    events: int
    #: events per channel, by ``"type:symbol"``
    events_by_channel: dict[str, int]
    #: the first and last event's time (ISO, UTC; ``"-"`` without events)
    start: str
    end: str
    seconds: float
    events_per_second: int
    orders: int
    fills: int
    fills_at_trades_book_stale: int
    slippage_beyond_best: float
    fees: float
    starting_value: float
    final_value: float
    pnl: float
    #: ``"SIZE @ PRICE"`` by data feed name
    open_positions: dict[str, str]
    #: book updates refused, per channel key: ``{reason: count}``
    refused_book_updates: dict[tuple[str, ...], dict[str, int]]
    #: by ``"file: reason"``
    skipped_rows: dict[str, int]


class StrategyReport(_EveryRun, total=False):
    """The run report (:func:`strategy_report`): what every run has, then what the strategy's
    analyzers, a live run or real orders add."""

    #: with a ``TradeAnalyzer`` named ``trades``
    trades_closed: int
    trades_won: int
    fees_closed_trades: float
    #: with a ``DrawDown`` named ``drawdown``
    max_drawdown_pct: float
    #: with a ``SharpeRatio`` named ``sharpe`` (as backtrader computes it)
    sharpe: float | None
    #: with one-minute returns named ``minute_returns``: the ratio, or ``"n/a (why)"``
    sharpe_annualized: float | str
    #: a live run: how it ended, what its feeds saw
    ended: str
    anomalies: dict[str, int]
    queue_dropped: int
    no_data_from: dict[str, str]
    frames_to_events: dict[str, str]
    #: real orders (from the journal): orders by state, fills, fees, the account's holdings
    venue_orders: dict[str, int]
    venue_fills: int
    venue_fees: float
    holdings: dict[str, str]
    corrections: int
    foreign_orders: int
    protection: dict[str, str]
    kill_switch: str


def strategy_report(cerebro: Cerebro, strategy: BtStrategy) -> StrategyReport:
    """Summarise a finished tick-mode run of ``cerebro`` for ``strategy``."""
    run = dict(cerebro.last_run)
    broker = cerebro.broker
    value, start = broker.getvalue(), broker.startingcash
    report: StrategyReport = {
        "events": run.get("events", 0),
        "events_by_channel": {
            f"{k[0]}:{k[1]}": n for k, n in run.get("events_by_channel", {}).items()
        },
        "start": _iso(run.get("first_ts")),
        "end": _iso(run.get("last_ts")),
        "seconds": round(run.get("seconds", 0.0), 3),
        "events_per_second": round(run.get("events_per_second", 0.0)),
        "orders": run.get("orders", 0),
        "fills": run.get("fills", 0),
        "fills_at_trades_book_stale": run.get("stale_book_fills", 0),
        "slippage_beyond_best": round(run.get("slippage", 0.0), 8),
        "fees": round(run.get("fees", 0.0), 8),
        "starting_value": start,
        "final_value": value,
        "pnl": value - start,
        "open_positions": {
            name: f"{p['size']:g} @ {p['price']:,.2f}"
            for name, p in run.get("open_positions", {}).items()
        },
        "refused_book_updates": run.get("refused", {}),
        "skipped_rows": {
            f"{src}: {reason}": n
            for src, reasons in run.get("skipped", {}).items()
            for reason, n in reasons.items()
        },
    }
    analyzers = getattr(strategy, "analyzers", None)
    ta = getattr(analyzers, "trades", None)
    if ta is not None:
        a = ta.get_analysis()
        total = a.get("total", {})
        won = a.get("won", {}).get("total", 0)
        report["trades_closed"] = total.get("closed", 0)
        report["trades_won"] = won
        pnl = a.get("pnl", {})
        report["fees_closed_trades"] = pnl.get("gross", {}).get("total", 0.0) - pnl.get(
            "net", {}
        ).get("total", 0.0)
    dd = getattr(analyzers, "drawdown", None)
    if dd is not None:
        report["max_drawdown_pct"] = dd.get_analysis().get("max", {}).get("drawdown", 0.0)
    sharpe = getattr(analyzers, "sharpe", None)
    if sharpe is not None:  # a backtrader SharpeRatio the user added: as it computes it
        report["sharpe"] = sharpe.get_analysis().get("sharperatio")
    minute = getattr(analyzers, "minute_returns", None)
    if minute is not None:
        returns = list(minute.get_analysis().values())
        value, why = annualized_sharpe(returns, MINUTES_PER_YEAR)
        report["sharpe_annualized"] = value if value is not None else f"n/a ({why})"
    if run.get("ended"):  # a live run: how it ended (Ctrl-C, duration, the kill switch...)
        report["ended"] = run["ended"]
    if run.get("anomalies") is not None:
        report["anomalies"] = {  # by kind: a disconnect and a backfill are not one number
            f"{ch} {kind}": n
            for ch, counts in run["anomalies"].items()
            for kind, n in counts.items()
            if kind != "details"
        }
        report["queue_dropped"] = run.get("queue_dropped", 0)
        report["no_data_from"] = run.get("silent_streams", {})
        report["frames_to_events"] = {  # how many venue frames each stream's events stand for
            ch: f"{n['frames']:,}->{n['events']:,}"
            for ch, n in run.get("stream_frames", {}).items()
        }
    execution = run.get("execution")
    if execution is not None:  # real orders: from the journal
        report["venue_orders"] = execution["states"]
        report["venue_fills"] = execution["fills"]
        report["venue_fees"] = execution["fees"]
        report["holdings"] = {a: f"{x:g}" for a, x in execution.get("holdings", {}).items()}
        report["corrections"] = execution["corrections"]
        report["foreign_orders"] = len(execution["foreign_orders"])
        report["protection"] = execution["protection"]
        report["kill_switch"] = execution["kill_switch"] or "-"
    return report


def format_report(report: Mapping[str, object]) -> str:
    """The report as an aligned two-column table."""
    lines = []
    for key, val in report.items():
        if isinstance(val, float):
            val = f"{val:,.6g}" if abs(val) < 1 else f"{val:,.2f}"
        elif isinstance(val, int):
            val = f"{val:,}"
        elif isinstance(val, dict):
            val = (
                ", ".join(
                    f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in val.items()
                )
                or "-"
            )
        lines.append(f"{key.replace('_', ' '):<22} {val}")
    return "\n".join(lines)


#: the former name of :func:`strategy_report`, kept for callers that use it
run_report = strategy_report
