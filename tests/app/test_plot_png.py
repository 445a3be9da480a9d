"""The run plot as a PNG (app/plot.py): cerebro.plot()'s figure of a tick run, written headless."""

from __future__ import annotations

import pytest
from PIL import Image

import backtrader_channels as btch
from backtrader_channels.app.demo import build_demo
from backtrader_channels.app.plot import save_run_plot


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_save_run_plot_writes_the_tick_runs_figure(tmp_path):
    c = build_demo()
    c.run(mode=btch.RunMode.TICK)
    out = save_run_plot(c, str(tmp_path / "run.png"), title="demo on the bundled sample")
    with Image.open(out) as img:
        assert img.format == "PNG"
        assert img.size == (1320, 880)  # 12 x 8 inches at 110 dpi
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []  # closed once written
