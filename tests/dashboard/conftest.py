"""A live run with its dashboard, on the loopback venue (127.0.0.1): the real ccxt.pro client,
the paper broker or the real CCXTBroker on the loopback's private protocol."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import backtrader as bt
import ccxt.pro as ccxtpro
import pytest

import backtrader_channels as btch
from backtrader_channels.dashboard import Dashboard
from backtrader_channels.loopback import ReplayExchange, point_ccxt_at

KEY, SECRET = "loopback-key", "loopback-secret"


class Quoter(bt.Strategy):
    """Buys 0.001 at the 20th trade, then every 400 trades places a limit buy 5% below the
    market (a resting order); every order's status is kept."""

    def start(self):
        self.env.test_strategy = self  # the test reads it during the run
        self.n = 0
        self.statuses = []
        self.reasons = []

    def notify_order(self, order):
        self.statuses.append(order.getstatusname())
        if order.status == order.Rejected:
            self.reasons.append(order.info.get("reason"))

    def on_tick(self, t):
        self.n += 1
        if self.n == 20:
            self.buy(size=0.001)
        elif self.n > 20 and self.n % 400 == 0:
            self.buy(size=0.001, price=round(t.price * 0.95, 2), exectype=bt.Order.Limit)


class LiveRun:
    """``cerebro.run(..., dashboard=...)`` in a thread; the strategy, the dashboard, the server."""

    def __init__(self, server, real=False, duration=30.0, backoff=0.25, strategy=Quoter, **broker):
        self.server = server
        port = server.port
        feed = btch.feeds.CCXTLiveFeed(
            point_ccxt_at(ccxtpro.binance(), port),
            ["BTC/USDT"],
            channels=("tick",),
            backoff_initial=backoff,
            backoff_max=max(backoff, 1.0),
        )
        self.cerebro = cerebro = btch.Cerebro(stdstats=False)
        cerebro.add_live_feed(feed)
        if real:
            keyed = point_ccxt_at(
                ccxtpro.binance({"apiKey": KEY, "secret": SECRET, "rateLimit": 5}), port
            )
            cerebro.setbroker(btch.brokers.CCXTBroker(keyed, unknown_retry_s=0.05, **broker))
        cerebro.addstrategy(strategy)
        self.dashboard = Dashboard(0, out=None, interval=0.2)
        self.strats = None
        self.error = None
        self._thread = threading.Thread(target=self._run, args=(duration,), daemon=True)

    def _run(self, duration):
        try:
            self.strats = self.cerebro.run(
                mode=btch.RunMode.TICK, duration=duration, dashboard=self.dashboard
            )
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            self.error = exc

    def start(self):
        self._thread.start()
        end = time.monotonic() + 10
        while self.dashboard.url is None and time.monotonic() < end:
            time.sleep(0.02)
        return self

    def join(self, timeout=40.0):
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the run did not end"
        if self.error is not None:
            raise self.error
        return self.strats[0]

    @property
    def base(self):
        return self.dashboard.url.split("/?")[0]

    @property
    def token(self):
        return self.dashboard.server.token

    @property
    def strategy(self):
        return self.wait_for(lambda: getattr(self.cerebro, "test_strategy", None), what="start")

    def state(self):
        return get_json(f"{self.base}/api/state?token={self.token}")

    def control(self, action, who="tester"):
        return post_json(f"{self.base}/api/control", {"action": action, "who": who}, self.token)

    def wait_for(self, predicate, timeout=15.0, what="a condition"):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")


def get_json(url, token=None):
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def post_json(url, body, token=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


@pytest.fixture
def venue():
    srv = ReplayExchange(
        rate=1_000,
        start_when=1,
        loop_forever=True,
        lap_pause=0.2,
        balances={"USDT": 10_000.0, "BTC": 0.01},
    )
    srv.start()
    yield srv
    srv.stop()
