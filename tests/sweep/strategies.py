"""Strategies the sweep tests run, in worker processes and on Ray workers too."""

from __future__ import annotations

import os

import backtrader as bt


class Every(bt.Strategy):
    """Buys (or closes) every ``every`` trades: deterministic, and its orders count is known."""

    params = (("every", 100), ("size", 0.01))

    def start(self):
        self.n = 0

    def on_tick(self, tick):
        self.n += 1
        if self.n % self.p.every == 0:
            self.close() if self.position else self.buy(size=self.p.size)


class Phased(bt.Strategy):
    """Acts at trade ``every // 2`` of every ``every``: on days whose trade count is an even
    multiple of ``every`` it is flat at each day's end, with its last close filled that day."""

    params = (("every", 100),)

    def start(self):
        self.n = 0

    def on_tick(self, tick):
        self.n += 1
        if self.n % self.p.every == self.p.every // 2:
            self.close() if self.position else self.buy(size=0.01)


class Flaky(bt.Strategy):
    """Fails on its first run for ``fail`` values listed in ``marker``'s folder, then works;
    ``always`` fails every run."""

    params = (("every", 100), ("marker", ""), ("always", -1))

    def start(self):
        if self.p.every == self.p.always:
            raise RuntimeError(f"always fails with every={self.p.every}")
        if self.p.marker:
            path = f"{self.p.marker}.{self.p.every}"
            if not os.path.exists(path):
                with open(path, "w") as fh:
                    fh.write("failed once")
                raise RuntimeError(f"first run of every={self.p.every} fails")
        self.n = 0

    def on_tick(self, tick):
        self.n += 1
        if self.n % self.p.every == 0:
            self.close() if self.position else self.buy(size=0.01)


class WholeEvery(Every):
    """``Every`` under a name no other test uses (whole strategies travel by class name)."""
