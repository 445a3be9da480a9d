"""The ``live``, ``record`` and ``smoke`` commands: live data through ccxt.pro, the paper
broker or real orders (``--real``), the run report; the order-path smoke check.

Perpetuals (ccxt's ``BASE/QUOTE:SETTLE`` symbols, e.g. ``ETH/USDT:USDT``): the run adds the
derivative channel (mark price, funding), gives the broker a ``PerpetualCommInfo`` per symbol
(the bundled Binance USDⓈ-M leverage brackets, ``--leverage``), runs :class:`PerpFundingDemo`
unless a strategy is given, and the report adds funding, liquidations and the positions.
``--replay-server --exchange binanceusdm`` starts the loopback Binance USDⓈ-M
(``loopback/binance/futures.py``), which replays the bundled ETH/USDT:USDT sample once (at
``--replay-speed``): the run ends when the replay is done.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, TypeAlias

import backtrader as bt

from ..btypes import BtData, BtOrder, BtStrategy, BtStrategyClass
from .usage import UsageError, load_strategy, parse_params

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..alerts import Alerts
    from ..broker.perpcomm import PerpetualCommInfo
    from ..cerebro import Cerebro
    from ..dashboard import Dashboard
    from ..events import TickEvent
    from ..execution.broker import CCXTBroker
    from ..live.ccxt_feed import CCXTLiveFeed
    from ..live.venue_parts import CcxtExchange
    from ..venues.profile import Loopback

#: the exit code of a run ended by Ctrl-C (128 + SIGINT), as a shell reports it
EXIT_INTERRUPTED = 130
#: a venue's loopback server (``--replay-server``) and the keys of its account (``api_key``,
#: ``api_secret``): every registered one has them (``loopback.private_side``), but the venue
#: profile types its servers as the plain ``LoopbackServer``, which has none: left untyped
KeyedServer: TypeAlias = Any


def _check_paper_args(args: argparse.Namespace) -> None:
    """``--cash`` and ``--commission`` are the paper broker's: refused with ``--real``."""
    if not args.real:
        return
    for flag, value in (("--cash", args.cash), ("--commission", getattr(args, "commission", None))):
        if value is not None:
            raise UsageError(
                f"{flag} sets the paper broker's; with --real the account's balance and the "
                "venue's fees count: drop it"
            )


def run_live_command(args: argparse.Namespace, strategy: BtStrategyClass | None = None) -> int:
    """Run ``backtrader-channels live``; return the exit code (130 after Ctrl-C)."""
    from ..cerebro import Cerebro, RunMode
    from ..live.ccxt_feed import CCXTLiveFeed
    from .demo import BookImbalanceScalper
    from .report import format_report, strategy_report

    futures = _futures_loopback(args.exchange) if args.replay_server else None
    symbols = args.symbol or (list(futures.symbols) if futures is not None else ["BTC/USDT"])
    channels = [c.strip() for c in args.channels.split(",") if c.strip()]
    perpetuals = [s for s in symbols if _is_perpetual(s)]
    if perpetuals and "derivative" not in channels:
        channels.append("derivative")  # marks and funding: a perpetual's account needs them
    _check_paper_args(args)
    if strategy is None:
        default = PerpFundingDemo if perpetuals else BookImbalanceScalper
        strategy = load_strategy(args.strategy) if args.strategy else default
    params = parse_params(getattr(args, "param", None), strategy)
    schemes = {s: _perp_scheme(s, args) for s in perpetuals}
    alerts = _alerts(args)
    dashboard = _dashboard(args)
    server, port, exchange = _start_replay(args, futures, symbols, channels)
    cerebro = Cerebro(stdstats=False)
    finished = threading.Event()
    try:
        if args.real:
            # the loopback's funding is read from its income history at each sweep: often
            sweep = 1.0 if futures is not None else None
            cerebro.setbroker(_real_broker(args, server, port, futures, sweep, alerts))
            print("real orders: CCXTBroker, journal " + args.journal, file=sys.stderr)
        else:
            cerebro.broker.setcash(args.cash if args.cash is not None else 10_000.0)
            if getattr(args, "commission", None):
                cerebro.broker.setcommission(commission=args.commission)
            print("paper broker: simulated fills, no order reaches the exchange", file=sys.stderr)
        for symbol, scheme in schemes.items():
            cerebro.broker.addcommissioninfo(scheme, name=symbol)
        feed = CCXTLiveFeed(exchange, symbols, channels=channels, record_to=args.record)
        cerebro.add_live_feed(feed)
        cerebro.addstrategy(strategy, **params)
        if futures is not None:
            _stop_when_replayed(server, cerebro, finished, grace=3.0 if args.real else 1.0)
        strats = _alerted(
            alerts,
            cerebro,
            None if args.real else [feed],  # (a real broker watches its own run)
            lambda: cerebro.run(
                mode=RunMode.TICK,
                duration=args.duration,
                max_events=args.max_events,
                dashboard=dashboard,
            ),
        )
    finally:
        finished.set()
        if server is not None:
            server.stop()
    report = strategy_report(cerebro, strats[0])
    print(format_report(report))
    if perpetuals:
        print(format_report(_perp_report(cerebro, strats[0], perpetuals)))
    ended = cerebro.last_run.get("ended", "")
    if server is not None and server.lap:
        print(
            f"replay exchange: {server.lap + 1} laps of the recording; each new lap restarts "
            "the venue's book (a sequence break: one book_resync per lap)",
            file=sys.stderr,
        )
    execution = cerebro.last_run.get("execution") or {}
    stopped = execution.get("kill_switch") or execution.get("protection", {}).get("reconcile")
    if stopped and not stopped.startswith("reconciliation pending"):
        print(f"backtrader-channels: error: {stopped}", file=sys.stderr)
        return 1
    if ended == "interrupted":
        print("backtrader-channels: interrupted (Ctrl-C): the run stopped early", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _alerts(args: argparse.Namespace) -> Alerts | None:
    """The run's alerts: ``--alert`` specs and the ``--config`` file's ``"alerts"``."""
    from ..alerts import alerts_from_args

    try:
        return alerts_from_args(getattr(args, "alert", None), getattr(args, "config", None))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _dashboard(args: argparse.Namespace) -> Dashboard | None:
    """``--dashboard [HOST:]PORT`` (checked before anything starts)."""
    spec = getattr(args, "dashboard", None)
    if spec is None:
        return None
    from ..dashboard import Dashboard

    try:
        return Dashboard(spec, allow_remote=bool(getattr(args, "dashboard_allow_remote", False)))
    except ValueError as exc:
        raise UsageError(f"--{exc}") from None


def _alerted(
    alerts: Alerts | None,
    cerebro: Cerebro,
    paper_feeds: list[CCXTLiveFeed] | None,
    run: Callable[[], list[BtStrategy]],
) -> list[BtStrategy]:
    """``run()`` with its alerts: a paper run's feeds and perpetuals watched (``paper_feeds``),
    the run-stopped alert with the run's reason and P&L (or its error), everything sent."""
    if alerts is None:
        return run()
    from ..alerts import paper_probe

    if paper_feeds is not None:
        pct, after = alerts.liquidation_pct, alerts.stream_down_s
        alerts.watch(paper_probe(paper_feeds, cerebro.broker, after, pct))
    try:
        strats = run()
    except BaseException as exc:
        alerts.run_stopped(f"error: {type(exc).__name__}: {exc}")
        raise
    else:
        alerts.run_ended(cerebro.last_run)
    finally:
        alerts.close()
    return strats


def _start_replay(
    args: argparse.Namespace, futures: Loopback | None, symbols: list[str], channels: list[str]
) -> tuple[KeyedServer | None, int, str | CcxtExchange]:
    """With ``--replay-server``: start the venue's loopback server; the server, its port and
    the exchange pointed at it (else no server, and ``--exchange``)."""
    if futures is not None:  # one pass over the recording, paced by its exchange times
        _check_replays(args.exchange, futures, symbols)
        streams = len(channels) + (1 if args.real else 0)  # (the user data socket of --real)
        server = futures.server(speed=_replay_speed(args), start_when=streams)
        port = server.start()
        print(
            f"replay exchange on 127.0.0.1:{port}: {args.exchange} {', '.join(symbols)}, the "
            f"bundled sample once at {_replay_speed(args):g}x (its marks and funding are "
            "generated); the run ends when it is replayed",
            file=sys.stderr,
        )
        return server, port, futures.point_at(args.exchange, port)
    if not args.replay_server:
        return None, 0, args.exchange
    loopback = _loopback(args.exchange, symbols)
    rate = getattr(args, "replay_rate", None)
    rate = REPLAY_RATE if rate is None else rate
    if not rate > 0:
        raise UsageError(f"--replay-rate {rate:g}: frames per second, > 0")
    server = loopback.server(rate=rate, start_when=len(channels), loop_forever=True)
    port = server.start()
    print(f"replay exchange on 127.0.0.1:{port}", file=sys.stderr)
    return server, port, loopback.point_at(args.exchange, port)


def _real_broker(
    args: argparse.Namespace,
    server: KeyedServer | None,
    port: int,
    loopback: Loopback | None = None,
    sweep_interval: float | None = None,
    alerts: Alerts | None = None,
) -> CCXTBroker:
    """The CCXTBroker of ``live --real``: keys from --config or the environment (the server's
    with a replay server; ``loopback``: its own, else the venue profile's)."""
    from ..execution.broker import CCXTBroker
    from ..execution.risk import RiskLimits

    ex = _keyed_exchange(args, server, port, loopback=loopback)
    if loopback is not None:
        # a local server: no need for ccxt's pacing to Binance's request weights (a sweep of a
        # perpetual weighs ~70: 3.5 s at 50 ms each, longer than the demo's 1 s sweeps)
        ex.rateLimit = 1
    if not getattr(ex, "apiKey", None) or not getattr(ex, "secret", None):
        raise UsageError(
            f"--real needs API keys: --config FILE (JSON with apiKey and secret) or "
            f"{args.exchange.upper()}_API_KEY and {args.exchange.upper()}_API_SECRET"
        )
    kill = None
    if args.kill_after:
        n, _, seconds = args.kill_after.partition(",")
        try:
            kill = (int(n), float(seconds or 60))
        except ValueError:
            raise UsageError(f"--kill-after {args.kill_after!r}: N,SECONDS, e.g. 3,60") from None
    risk = RiskLimits(
        max_order_notional=args.max_order_notional,
        max_position=args.max_position,
        max_open_orders=args.max_open_orders,
        max_orders_per_second=args.max_orders_per_second,
        kill_after=kill,
    )
    more = {} if sweep_interval is None else {"sweep_interval": sweep_interval}
    return CCXTBroker(
        ex,
        journal=args.journal,
        risk=risk,
        ready_timeout=getattr(args, "ready_timeout", 30.0),
        alerts=alerts,
        **more,
    )


def _loopback(exchange: str, symbols: list[str] | None) -> Loopback:
    """The loopback server of ``exchange`` (its venue profile's), checked to replay
    ``symbols``; a UsageError naming the venues and symbols there are otherwise."""
    from ..venues import PROFILES, profile

    found = profile(exchange)
    loopback = found.loopback_for(exchange) if found is not None else None
    if loopback is None:
        have = ", ".join(n for n, p in PROFILES.items() if p.loopback is not None)
        raise UsageError(f"no replay server speaks {exchange}: the loopback venues are {have}")
    _check_replays(exchange, loopback, symbols)
    return loopback


def _check_replays(exchange: str, loopback: Loopback, symbols: list[str] | None) -> None:
    """A UsageError unless ``loopback`` replays every one of ``symbols``."""
    if symbols is not None and any(s not in loopback.symbols for s in symbols):
        raise UsageError(
            f"the {exchange} replay server replays {', '.join(loopback.symbols)}, not "
            f"{', '.join(s for s in symbols if s not in loopback.symbols)}"
        )


def _keyed_exchange(
    args: argparse.Namespace,
    server: KeyedServer | None,
    port: int,
    secret: str | None = None,
    loopback: Loopback | None = None,
) -> CcxtExchange:
    """A keyed ccxt.pro instance: the loopback venue's own keys (``server``, pointed at by
    ``loopback``, else by the venue profile's), else the keys of ``--config`` or the
    environment (``secret`` overrides the key's secret, for a test)."""
    from ..live.ccxt_feed import exchange_from

    if server is not None:
        keys = {"apiKey": server.api_key, "secret": secret or server.api_secret}
        if loopback is None:
            loopback = _loopback(args.exchange, None)  # (its symbols checked when it started)
        return loopback.point_at(exchange_from(args.exchange, None, **keys), port)
    try:
        return exchange_from(args.exchange, args.config)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def run_smoke_command(args: argparse.Namespace) -> int:
    """``backtrader-channels smoke``: place, see, cancel, see cancelled one tiny order."""
    import asyncio

    from ..execution.smoke import SmokeError, format_timeline, smoke

    server = None
    if args.config:  # read and checked in every mode, the loopback's too
        from ..live.keys import credentials

        try:
            credentials(args.exchange, args.config)
        except (OSError, ValueError) as exc:
            raise UsageError(f"--config: {exc}") from None
    try:
        port = 0
        if args.replay_server:
            server = _loopback(args.exchange, [args.symbol]).server(rate=200.0, loop_forever=True)
            port = server.start()
        wrong = "wrong" if args.bad_keys_for_test else None
        ex = _keyed_exchange(args, server, port, secret=wrong)
        timeline = asyncio.run(smoke(ex, args.symbol, args.qty, args.price_offset, args.timeout))
    except SmokeError as exc:
        print(f"backtrader-channels smoke: FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
    print(format_timeline(timeline))
    print(
        f"smoke: OK ({args.exchange} {args.symbol}: placed, seen open, cancelled, seen cancelled)"
    )
    return 0


def run_record_command(args: argparse.Namespace) -> int:
    """``backtrader-channels record``: live data to the native layout, no strategy."""
    import backtrader as bt

    if not args.out:
        raise UsageError("record needs --out DIR")
    args.record = args.out
    args.real = False
    args.cash, args.commission = 10_000.0, None
    args.strategy = None
    return run_live_command(args, strategy=bt.Strategy)


# ---- perpetuals ---------------------------------------------------------------------------------
#: the bundled Binance USDⓈ-M leverage brackets (``data/README.md``): a perpetual's scheme
_BRACKETS = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "data", "binance_usdm_leverage_brackets.json"
)
#: a perpetual's fees on the paper broker (Binance USDⓈ-M's base tier) without ``--commission``
PERP_MAKER, PERP_TAKER = 0.0002, 0.0005
#: the frames per second of a looping replay server without ``--replay-rate``
REPLAY_RATE = 200.0
#: the replay speed of a one-pass replay server without ``--replay-speed``
REPLAY_SPEED = 10.0


def _is_perpetual(symbol: str) -> bool:
    """ccxt's unified symbol of a swap (``ETH/USDT:USDT``) rather than spot (``ETH/USDT``)."""
    return ":" in symbol


def _replay_speed(args: argparse.Namespace) -> float:
    speed = getattr(args, "replay_speed", None)
    return REPLAY_SPEED if speed is None else float(speed)


def _futures_loopback(exchange: str) -> Loopback | None:
    """The one-pass loopback server of a perpetual venue's ccxt id (its venue profile's
    ``loopbacks``), or None (the venue's own loopback then)."""
    from ..venues import profile

    found = profile(exchange)
    loopback = found.loopback_for(exchange) if found is not None else None
    return loopback if loopback is not None and loopback.one_pass else None


def _perp_scheme(symbol: str, args: argparse.Namespace) -> PerpetualCommInfo:
    """The commission scheme that makes ``symbol``'s data a perpetual: the bundled Binance
    USDⓈ-M brackets, ``--leverage``, ``--commission`` (maker and taker) or Binance's rates."""
    from ..broker.instruments import Instrument, brackets_from_binance
    from ..broker.perpcomm import PerpetualCommInfo

    base_quote, _, settle = symbol.partition(":")
    base, _, quote = base_quote.partition("/")
    if quote != settle:
        raise UsageError(
            f"{symbol}: an inverse perpetual (settled in {settle}); live runs trade the linear "
            "ones (USDⓈ-M) the bundled leverage brackets cover"
        )
    with open(_BRACKETS, encoding="utf-8") as fh:
        rows = {r["symbol"]: r["brackets"] for r in json.load(fh)}
    market_id = base + quote
    if market_id not in rows:
        raise UsageError(
            f"{symbol}: no leverage brackets bundled for {market_id} (there are for "
            f"{', '.join(sorted(rows))})"
        )
    inst = Instrument(symbol, "linear", brackets_from_binance(rows[market_id]), margin_asset=quote)
    fee = getattr(args, "commission", None)
    leverage = getattr(args, "leverage", None) or 10
    try:
        return PerpetualCommInfo(
            inst,
            leverage=leverage,
            maker=PERP_MAKER if fee is None else fee,
            taker=PERP_TAKER if fee is None else fee,
        )
    except ValueError as exc:
        raise UsageError(f"--leverage {leverage:g}: {exc}") from None


def _stop_when_replayed(
    server: KeyedServer, cerebro: Cerebro, finished: threading.Event, grace: float
) -> None:
    """Stop the run ``grace`` seconds after a one-pass replay server has sent its recording
    (time for the last settlement to be seen), unless it has ``finished`` by then."""

    def watch() -> None:
        while not finished.is_set():
            if server.done.wait(0.2):
                if not finished.wait(grace):
                    print("replay exchange: the recording is replayed: stopping", file=sys.stderr)
                    cerebro.runstop()
                return

    threading.Thread(target=watch, name="stop-when-replayed", daemon=True).start()


def _perp_report(cerebro: Cerebro, strategy: BtStrategy, symbols: list[str]) -> dict[str, object]:
    """The report's perpetual part: funding per symbol, liquidations, each position with its
    entry, leverage, liquidation price and unrealized profit."""
    run = cerebro.last_run
    funding = run.get("funding") or {}
    liquidations = run.get("liquidations") or []
    datas = {d._name: d for d in strategy.datas}
    positions: dict[str, str] = {}
    for symbol in symbols:
        data = datas.get(symbol)
        pos = cerebro.broker.perp_position(data) if data is not None else None
        if pos is None or not pos.size:
            positions[symbol] = "flat"
            continue
        liq = pos.liquidation_price
        liq_text = "none" if liq is None or abs(liq) == float("inf") else f"{liq:,.2f}"
        positions[symbol] = (
            f"{pos.size:+g} @ {pos.entry_price:,.2f} {pos.leverage:g}x liquidation {liq_text} "
            f"unrealized {pos.unrealized_pnl:+,.4f} {pos.margin_asset}"
        )
    report: dict[str, object] = {
        "funding": {
            s: f"paid {f.get('paid', 0.0):,.6g} in {f.get('count', 0)} payments"
            + (f", {f['ignored']} ignored" if f.get("ignored") else "")
            for s, f in funding.items()
        },
        "liquidations": len(liquidations),
    }
    for i, liq in enumerate(liquidations, 1):
        report[f"liquidation {i}"] = (
            f"{liq.get('symbol', '?')} {liq.get('size', 0):g} at {liq.get('price', 0):,.2f}"
        )
    report["mark source"] = run.get("mark_source") or {}
    report["perp positions"] = positions
    return report


def _clock(ns: int | None) -> str:
    return "--:--:--" if ns is None else time.strftime("%H:%M:%S", time.gmtime(ns / 1e9))


class PerpFundingDemo(bt.Strategy):
    """The ``live`` demo on a perpetual, aware of funding.

    It keeps ``size`` long: bought when flat, sold (``reduce_only``) every ``every``-th trade
    and bought back on the next. Within ``guard_s`` seconds of the next funding time (the
    derivative channel's ``next_funding_ts``) it opens nothing, and closes (``reduce_only``) a
    position the funding rate in force (``funding_rate``) would make pay (a long, at a
    positive rate); ``hold=True`` keeps it and pays. It prints its decisions, fills, funding
    payments and the position (``broker.perp_position``).
    """

    params = (("size", 0.2), ("every", 400), ("guard_s", 15.0), ("hold", False))

    def start(self) -> None:
        self.deriv = self.channels[("derivative", self.data._name)]
        self.n = 0
        self.order: BtOrder | None = None
        self.guarded: int | None = None
        self.now: int | None = None  # the last trade's time

    def say(self, ns: int | None, text: str) -> None:
        print(f"perp demo {_clock(self.now if ns is None else ns)}  {text}", flush=True)

    def on_tick(self, tick: TickEvent) -> None:
        self.n += 1
        self.now = tick.timestamp
        if not getattr(self.broker, "trading", True):  # a CCXTBroker not ready yet
            return
        if self.order is not None and self.order.alive():
            return
        pos = self.getposition(self.data).size
        nxt, rate = self.deriv.next_funding_ts, self.deriv.funding_rate
        if nxt is not None and rate == rate and nxt - tick.timestamp <= self.p.guard_s * 1e9:
            if self.guarded != nxt:
                self.guarded = nxt
                pays = pos * rate > 0
                verdict = "keep it" if not pos or not pays or self.p.hold else "close it"
                self.say(
                    tick.timestamp,
                    f"funding at {_clock(nxt)}, rate {rate:+.4%}, position {pos:+g}: "
                    f"nothing new; {verdict}",
                )
            if pos and pos * rate > 0 and not self.p.hold:
                self.order = self._send(-pos, tick.timestamp, "close before funding")
            return
        if not pos:
            self.order = self._send(self.p.size, tick.timestamp, "buy")
        elif self.n % self.p.every == 0:
            self.order = self._send(-pos, tick.timestamp, "turn over")

    def _send(self, size: float, ns: int, why: str) -> BtOrder:
        close = bool(self.getposition(self.data).size)
        send = self.buy if size > 0 else self.sell
        self.say(
            ns,
            f"{why}: {'buy' if size > 0 else 'sell'} {abs(size):g}"
            + (" reduce_only" if close else ""),
        )
        return send(size=abs(size), reduce_only=close)

    def notify_order(self, order: BtOrder) -> None:
        if order.status == order.Completed:
            pos = self.broker.perp_position(self.data)
            where = (
                f"position {pos.size:+g} @ {pos.entry_price:,.2f}, {pos.leverage:g}x"
                if pos is not None and pos.size
                else "flat"
            )
            liq = " (liquidation)" if order.info.get("liquidation") else ""
            self.say(
                None,
                f"filled {order.executed.size:+g} @ {order.executed.price:,.2f}{liq}: {where}",
            )
        elif order.status in (order.Rejected, order.Margin, order.Expired):
            self.say(None, f"order {order.getstatusname()}")

    def notify_funding(self, data: BtData, rate: float, payment: float, mark: float) -> None:
        verb = "paid" if payment > 0 else "received"
        self.say(None, f"funding {verb} {abs(payment):,.6g} at rate {rate:+.4%}, mark {mark:,.2f}")
