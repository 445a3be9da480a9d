"""cerebro.plot() after a tick-mode run: bar channels, headless, as backtrader users expect.
Each case runs in a fresh interpreter (backtrader switches matplotlib's backend on import)."""

import os
import subprocess
import sys

import pytest

SCRIPT = """
import sys
import backtrader as bt, backtrader_channels as btch
s = btch.datasets.binance_btcusdt_sample()
class S(bt.Strategy):
    def __init__(self):
        self.bars = self.datas[-1]
        self.sma = bt.ind.SMA(self.bars.close, period=5)
    def next(self):
        if not self.position and self.bars.close[0] > self.sma[0]:
            self.buy(data=self.bars, size=0.01)
        elif self.position and self.bars.close[0] < self.sma[0]:
            self.close(data=self.bars)
c = btch.Cerebro(stdstats={stdstats})
c.add_channel("tick", "BTC/USDT", dataname=s.trades)
{bars}
c.addstrategy(S)
c.run(mode=btch.RunMode.TICK)
try:
    figs = c.plot(iplot=False)
except btch.ChannelError as exc:
    print("refused:", exc)
    sys.exit(0)
fig = figs[0][0]
fig.set_size_inches(12, 9)
fig.savefig(sys.argv[1], dpi=50)
print("axes", len(fig.axes))
"""


def _plot(tmp_path, stdstats=True, bars=True, env=None):
    script = SCRIPT.format(
        stdstats=stdstats, bars='c.add_bars("BTC/USDT", every="5s")' if bars else ""
    )
    png = tmp_path / "plot.png"
    full_env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    full_env.update(env or {})
    out = subprocess.run(
        [sys.executable, "-c", script, str(png)],
        capture_output=True,
        text=True,
        timeout=180,
        env=full_env,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout, png


@pytest.mark.parametrize("env", [{"MPLBACKEND": "Agg"}, {}], ids=["MPLBACKEND=Agg", "no display"])
def test_plot_after_a_tick_run_with_bars_headless(tmp_path, env):
    stdout, png = _plot(tmp_path, env=env)
    from PIL import Image

    with Image.open(png) as img:
        assert img.format == "PNG"
        assert img.size == (600, 450)
    assert "axes 4" in stdout  # broker, trades, the bars with their SMA, and its volume twin


def test_plot_without_stdstats(tmp_path):
    stdout, _png = _plot(tmp_path, stdstats=False)
    assert "axes 2" in stdout  # the bars with their SMA, and its volume twin


@pytest.mark.parametrize("env", [{"MPLBACKEND": "Agg"}, {}], ids=["MPLBACKEND=Agg", "no display"])
def test_plot_without_bars_draws_the_run(tmp_path, env):
    # issue 35, item 10: no add_bars needed (it would change what drives next())
    stdout, png = _plot(tmp_path, bars=False, env=env)
    assert "refused" not in stdout
    assert "axes 5" in stdout  # price, position, value with its cash twin, closed trades
    from PIL import Image

    with Image.open(png) as img:
        assert img.format == "PNG"
        assert img.size == (600, 450)
