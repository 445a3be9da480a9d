"""The run plot as a PNG: :func:`save_run_plot` (``cerebro.plot()``'s figure of a tick-mode run)
and :func:`plot_run` (price with fills, equity and position from a ``RunRecorder``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..cerebro import Cerebro
    from .recorder import Recording


def plot_run(recording: Recording, path: str, title: str = "") -> str:
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


def save_run_plot(cerebro: Cerebro, path: str, title: str = "", dpi: int = 110) -> str:
    """Write ``path`` (PNG) with ``cerebro.plot()``'s figure of its latest tick-mode run (the
    first strategy's): the trades with the best bid/ask, buy and sell fills, position, cash
    and value, closed trades' PnL, over UTC time; headless (Agg). Return the path.

    Parameters
    ----------
    cerebro : Cerebro
        A Cerebro after ``run(mode=RunMode.TICK)``.
    path : str
        The PNG to write.
    title : str, optional
        Put above the figure's own title (e.g. the command that ran).
    dpi : int, default 110
        The PNG's resolution.
    """
    import matplotlib.pyplot as plt

    fig = cerebro.plot(iplot=False, use="Agg")[0][0]
    if title:
        # (matplotlib 3.7 has no getter; the attribute is private, so untyped)
        own = fig._suptitle.get_text() if fig._suptitle is not None else ""  # type: ignore[attr-defined,unused-ignore]
        fig.suptitle(f"{title}\n{own}" if own else title, fontsize=10)
    try:
        fig.savefig(path, dpi=dpi)
    finally:
        plt.close(fig)
    return path
