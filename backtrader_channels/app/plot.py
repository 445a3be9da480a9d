"""The run plot: price with fills marked, equity curve, position (a PNG, via matplotlib)."""

from __future__ import annotations

from typing import Any


def plot_run(recording: dict[str, Any], path: str, title: str = "") -> str:
    """Write ``path`` (PNG) from a :class:`RunRecorder` analysis; return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = recording["times"]
    fig, (ax_price, ax_equity, ax_pos) = plt.subplots(
        3, 1, figsize=(11, 8), sharex=True, gridspec_kw={"height_ratios": [3, 2, 1]}
    )
    for name, prices in recording["prices"].items():
        if any(p == p for p in prices):
            ax_price.plot(times, prices, lw=0.8, label=name)
    buys = [(t, p) for t, _, is_buy, p, _ in recording["fills"] if is_buy]
    sells = [(t, p) for t, _, is_buy, p, _ in recording["fills"] if not is_buy]
    if buys:
        ax_price.scatter(*zip(*buys), marker="^", color="tab:green", s=28, label="buy", zorder=3)
    if sells:
        ax_price.scatter(*zip(*sells), marker="v", color="tab:red", s=28, label="sell", zorder=3)
    ax_price.set_title("Price with fills")
    ax_price.legend(loc="upper left", fontsize=8)
    ax_equity.plot(times, recording["values"], color="tab:blue", lw=1.0)
    ax_equity.set_title("Equity")
    ax_equity.ticklabel_format(axis="y", useOffset=False, style="plain")
    for name, pos in recording["positions"].items():
        if any(pos):
            ax_pos.step(times, pos, where="post", lw=1.0, label=name)
    ax_pos.set_title("Position")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
