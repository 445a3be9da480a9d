"""The interactive HTML report of a tick-mode run: one self-contained file (Bokeh, BokehJS
embedded with its licence), written by :func:`write_html` and ``backtest --report FILE``.

It draws what the run left (``cerebro.trace`` through :func:`~..cerebro.plotdata.run_plot_data`,
``cerebro.last_run``) and, when the run had a :class:`ReportRecorder` analyzer, the resting
orders' prices over their lives and each funding payment. Lines are decimated into levels:
level ``k`` keeps the lowest and the highest point of each of ``2000 * 4**k`` equal time buckets
of the run (at most ``4000 * 4**k`` points); the page shows level ``k`` when the visible range
is at most ``1/4**k`` of the run (the finest level a line has when narrower). Trades get up to
``TRADE_LEVELS`` levels, the sampled lines (bid/ask, position, value, drawdown) ``LEVELS``; a
line with fewer points than a level's budget is embedded whole. Fills are all embedded.

The page exposes ``window.BTCH_REPORT`` once drawn: ``fills`` (every fill: ``time`` in ms,
``price``, ``size``, ``symbol``), ``orders`` (resting-order segments drawn), ``summary`` (the
table's rows) and ``levels``; the summary is the table ``#btch-summary``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import backtrader as bt
import numpy as np

from ..btypes import BtData, BtOrder, BtStrategy
from ..cerebro.plotdata import Instrument, RunPlotData, Series, decimate, run_plot_data
from .usage import UsageError

if TYPE_CHECKING:
    from ..cerebro import Cerebro

__all__ = ["EXTRA_HINT", "ReportRecorder", "report_levels", "require_bokeh", "write_html"]

#: what to install for the report
EXTRA_HINT = 'the report needs Bokeh: pip install "backtrader-channels[report]" (bokeh>=3.4)'
#: buckets of the coarsest level; each level has ``ZOOM`` times more than the one before
BUCKETS = 2000
ZOOM = 4
#: levels of the trades' price line, and of every other line
TRADE_LEVELS = 3
LEVELS = 2
#: at most this many resting-order segments are drawn (the first ones; the page says so)
MAX_ORDER_SEGMENTS = 20_000
BUY, SELL = "#2ca02c", "#d62728"


class ReportRecorder(bt.Analyzer):
    """Records what the run's trace does not: each resting order's price over its life (limit
    and stop orders, from their notifications: a segment per price, an amend opening a new one)
    and each funding payment of a perpetual. Add it before the run for the report to draw
    them: ``cerebro.addanalyzer(ReportRecorder, _name="report_recorder")``.

    Times are event time (ns) when the strategy heard the notification (later than the venue's
    with a response latency); an order starts at its activation time.
    """

    def start(self) -> None:
        #: per order ref: [is_buy, price, segment start ns, symbol]
        self._open: dict[int, list[Any]] = {}
        #: segments: (start ns, end ns, price, is_buy, ref, symbol)
        self.segments: list[tuple[int, int, float, bool, int, str]] = []
        #: funding payments: (ns, symbol, rate, payment, mark)
        self.funding: list[tuple[int, str, float, float, float]] = []
        self._listening = False

    def _now(self) -> int:
        broker = self.strategy.broker
        now = getattr(broker, "current_ns", None)
        return int(now()) if now is not None else 0

    def _listen(self) -> None:
        """Join the perpetual account's funding listeners (wired after the analyzers start)."""
        self._listening = True
        perp = getattr(self.strategy.broker, "perp", None)
        if perp is not None and self._on_funding not in perp.listeners:
            perp.listeners.append(self._on_funding)

    def notify_cashvalue(self, cash: float, value: float) -> None:
        """(Sampling clock) join the funding listeners, once."""
        if not self._listening:
            self._listen()

    def _on_funding(self, data: BtData, rate: float, payment: float, mark: float) -> None:
        self.funding.append((self._now(), data._name, rate, payment, mark))

    def notify_order(self, order: BtOrder) -> None:
        """A limit or stop order's notification: open, move (amend) or close its segment."""
        if not self._listening:
            self._listen()
        if order.exectype not in (bt.Order.Limit, bt.Order.Stop, bt.Order.StopLimit):
            return
        now, ref, price = self._now(), order.ref, float(order.created.price)
        rec = self._open.get(ref)
        alive = order.status in (order.Accepted, order.Partial)
        start = int(getattr(order, "active_ns", 0) or now)  # a new order: from its activation
        if rec is not None and (not alive or rec[1] != price):  # ended, or amended
            start = max(now, rec[2])
            self.segments.append((rec[2], start, rec[1], rec[0], ref, rec[3]))
            del self._open[ref]
            rec = None
        if alive and rec is None:
            self._open[ref] = [order.isbuy(), price, start, order.data._name or ""]

    def stop(self) -> None:
        """Orders still resting at the end: their segments end with the run."""
        now = self._now()
        for ref, (buy, price, start, name) in self._open.items():
            self.segments.append((start, max(now, start), price, buy, ref, name))
        self._open.clear()

    def get_analysis(self) -> dict[str, Any]:
        """``{"segments": [...], "funding": [...]}`` (see the attributes)."""
        return {"segments": self.segments, "funding": self.funding}


def report_levels(series: Series, levels: int) -> list[Series]:
    """``series`` decimated into at most ``levels`` levels (see the module doc): level ``k``
    the envelope of ``BUCKETS * ZOOM**k`` buckets; stops at the first level that keeps every
    point.

    Parameters
    ----------
    series : Series
        A line over time (ns).
    levels : int
        The most levels to make.

    Returns
    -------
    list of Series
        Coarsest first; one Series (the line itself) when it has at most ``2 * BUCKETS``
        points.
    """
    out = []
    for k in range(levels):
        ts, values = decimate(series.ts, series.values, BUCKETS * ZOOM**k)
        out.append(Series(ts, values, series.label))
        if len(ts) == len(series.ts):
            break
    return out


def require_bokeh() -> None:
    """Raise a :class:`UsageError` naming the ``report`` extra when Bokeh is not installed."""
    try:
        import bokeh  # noqa: F401
    except ImportError:
        raise UsageError(EXTRA_HINT) from None


def write_html(
    cerebro: Cerebro,
    path: str,
    title: str = "",
    summary: Mapping[str, object] | None = None,
    strategy: BtStrategy | None = None,
) -> str:
    """Write the interactive report of ``cerebro``'s latest tick-mode run to ``path`` (one
    self-contained HTML file, opens offline); return the path.

    Parameters
    ----------
    cerebro : Cerebro
        A Cerebro after ``run(mode=RunMode.TICK)``.
    path : str
        The HTML file to write.
    title : str, optional
        The page's heading (default: the strategy and the run's span).
    summary : mapping, optional
        The summary table's rows; default: ``strategy_report(cerebro, strategy)`` (the rows
        ``backtest`` prints), with the funding paid per symbol of a perpetual run.
    strategy : bt.Strategy, optional
        Whose fills, orders and report; default the run's first strategy.

    Raises
    ------
    UsageError
        Bokeh is not installed (the ``report`` extra).
    """
    require_bokeh()
    from .report import strategy_report

    strat = strategy if strategy is not None else cerebro.runstrats[0][0]
    data = run_plot_data(cerebro)
    owner = next((i for i, s in enumerate(cerebro.runstrats) if s[0] is strat), 0)
    rows = dict(summary) if summary is not None else dict(strategy_report(cerebro, strat))
    funding = cerebro.last_run.get("funding")
    if funding and "funding_paid" not in rows:
        rows["funding_paid"] = {k: f"{v['paid']:,.4f} ({v['count']})" for k, v in funding.items()}
    recorder = next((a for a in strat.analyzers if isinstance(a, ReportRecorder)), None)
    if not title:
        title = f"{data.strategies[owner]}: {_utc(data.first_ts)} to {_utc(data.last_ts)} UTC"
    page = _page(data, owner, rows, recorder, title)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(page)
    return path


def _utc(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _ms(ts: np.ndarray) -> np.ndarray:
    return ts.astype(np.float64) / 1e6


def _cell(val: object) -> str:
    """A summary value as ``format_report`` prints it."""
    if isinstance(val, float):
        return f"{val:,.6g}" if abs(val) < 1 else f"{val:,.2f}"
    if isinstance(val, bool):
        return str(val)
    if isinstance(val, int):
        return f"{val:,}"
    if isinstance(val, dict):
        parts = (f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in val.items())
        return ", ".join(parts) or "-"
    return str(val)


def _drawdown(value: Series) -> Series:
    """The value's drawdown from its running peak, in percent (<= 0)."""
    peak = np.fmax.accumulate(value.values) if len(value.values) else value.values
    with np.errstate(invalid="ignore", divide="ignore"):
        dd = np.where(peak > 0, (value.values / peak - 1.0) * 100.0, 0.0)
    return Series(value.ts, dd, "drawdown %")


class _Figures:
    """The figures of one page, their level groups (for the zoom callback) and sources."""

    def __init__(self, data: RunPlotData) -> None:
        from bokeh.models import Range1d

        pad = max((data.last_ts - data.first_ts) // 100, 100_000_000)
        self.x_range = Range1d(
            start=(data.first_ts - pad) / 1e6, end=(data.last_ts + pad) / 1e6, bounds="auto"
        )
        self.span_ms = max((data.last_ts - data.first_ts) / 1e6, 1e-3)
        self.groups: list[list[Any]] = []
        self.fill_sources: list[Any] = []
        self.figures: list[Any] = []

    def figure(self, label: str, height: int, name: str) -> Any:
        from bokeh.models.annotations import Legend
        from bokeh.models.formatters import BasicTickFormatter
        from bokeh.plotting import figure

        fig = figure(
            x_axis_type="datetime",
            x_range=self.x_range,
            height=height,
            sizing_mode="stretch_width",
            tools="xpan,xwheel_zoom,box_zoom,reset,save",
            active_scroll="xwheel_zoom",
            name=name,
            output_backend="canvas",
        )
        fig.yaxis.axis_label = label
        fig.yaxis.formatter = BasicTickFormatter(use_scientific=False)
        fig.toolbar.logo = None
        fig.add_layout(Legend(location="top_left", click_policy="hide"), "center")
        self.figures.append(fig)
        return fig

    def line(
        self, fig: Any, series: Series, levels: int, color: str, step: bool = False, **kw: Any
    ) -> None:
        """``series`` drawn from a source holding its coarsest level; the finer levels ride
        along for the zoom callback to swap in."""
        from bokeh.models import ColumnDataSource
        from bokeh.models.annotations import LegendItem

        sources = [
            ColumnDataSource({"x": _ms(s.ts), "y": s.values.astype(np.float32)})
            for s in report_levels(series, levels)
        ]
        shown = ColumnDataSource(dict(sources[0].data), name=f"line:{series.label}", tags=[0])
        if step:
            r = fig.step("x", "y", source=shown, mode="after", color=color, **kw)
        else:
            r = fig.line("x", "y", source=shown, color=color, **kw)
        self.groups.append([shown, sources[1:]])
        fig.legend[0].items.append(LegendItem(label=series.label, renderers=[r]))

    def zoom_callback(self) -> None:
        """Swap each line's level as the visible range changes (the module doc's rule)."""
        from bokeh.models import CustomJS

        code = """
        const v = xr.end - xr.start;
        let k = 0;
        while (v <= span / zoom ** (k + 1) && k < 8) k++;
        for (const [shown, finer] of groups) {
            const kk = Math.min(k, finer.length);
            if (shown.tags[0] === kk) continue;
            if (shown.tags[0] === 0) level0.set(shown, shown.data);
            shown.data = kk === 0 ? level0.get(shown) : finer[kk - 1].data;
            shown.tags = [kk];
        }
        """
        cb = CustomJS(
            args={"xr": self.x_range, "span": self.span_ms, "zoom": ZOOM, "groups": self.groups},
            code="const level0 = (window.BTCH_LEVEL0 ??= new Map());\n" + code,
        )
        self.x_range.js_on_change("start", cb)
        self.x_range.js_on_change("end", cb)


def _price_figure(
    figs: _Figures, inst: Instrument, data: RunPlotData, owner: int, segments: list[Any]
) -> int:
    """One symbol's price panel: trades, best bid/ask, resting orders, fills; returns the
    number of resting-order segments drawn."""
    from bokeh.models import ColumnDataSource, CustomJSTransform, HoverTool
    from bokeh.models.annotations import LegendItem
    from bokeh.transform import linear_cmap, transform

    fig = figs.figure(inst.name, 360, f"price:{inst.name}")
    if inst.price is not None:
        figs.line(fig, inst.price, TRADE_LEVELS, "#333333", line_width=1)
    for s, color in ((inst.bid, "#1f77b4"), (inst.ask, "#ff7f0e")):
        if s is not None:
            figs.line(fig, s, LEVELS, color, step=True, line_width=1, alpha=0.7)
    # buy green, sell red from the sign of a column (no per-point colour strings to embed)
    sign = linear_cmap("side", [SELL, BUY], low=-1e-300, high=1e-300)
    mine = [seg for seg in segments if seg[5] in (inst.name, "")][:MAX_ORDER_SEGMENTS]
    if mine:
        seg = np.array([(s[0], s[1], s[2], s[3]) for s in mine], dtype=np.float64)
        src = ColumnDataSource(
            {
                "x0": seg[:, 0] / 1e6,
                "x1": seg[:, 1] / 1e6,
                "y": seg[:, 2],
                "side": np.where(seg[:, 3] > 0, 1.0, -1.0).astype(np.float32),
            },
            name=f"orders:{inst.name}",
        )
        r = fig.segment("x0", "y", "x1", "y", source=src, color=sign, line_width=2, alpha=0.5)
        fig.legend[0].items.append(LegendItem(label=f"resting orders ({len(mine)})", renderers=[r]))
    marks = inst.fills.get(owner)
    ts, price, size = (
        (_ms(marks.ts), marks.values, marks.size) if marks is not None else (np.zeros(0),) * 3
    )
    n = len(ts)
    src = ColumnDataSource({"x": ts, "price": price, "side": size}, name=f"fills:{inst.name}")
    figs.fill_sources.append((inst.name, src))
    angle = transform("side", CustomJSTransform(v_func="return xs.map((x) => x > 0 ? 0 : Math.PI)"))
    r = fig.scatter(
        "x", "price", source=src, marker="triangle", angle=angle, size=10,
        fill_color=sign, line_color="black", line_width=0.5,
    )  # fmt: skip
    fig.legend[0].items.append(LegendItem(label=f"fills ({n})", renderers=[r]))
    fig.add_tools(
        HoverTool(
            renderers=[r],
            tooltips=[("time", "@x{%F %T.%3N}"), ("price", "@price{0,0.00}"), ("size", "@side")],
            formatters={"@x": "datetime"},
        )
    )
    return len(mine)


def _layout(
    data: RunPlotData, owner: int, recorder: ReportRecorder | None
) -> tuple[Any, _Figures, int]:
    from bokeh.layouts import column
    from bokeh.models import ColumnDataSource

    figs = _Figures(data)
    segments = recorder.segments if recorder is not None else []
    drawn = sum(_price_figure(figs, inst, data, owner, segments) for inst in data.instruments)
    fig = figs.figure("position", 160, "position")
    for inst, color in zip(data.instruments, ("#1f77b4", "#9467bd", "#8c564b", "#e377c2")):
        figs.line(fig, Series(inst.position.ts, inst.position.values, inst.name), LEVELS, color,
                  step=True)  # fmt: skip
    fig = figs.figure("value", 200, "value")
    figs.line(fig, data.value, LEVELS, "#1f77b4", line_width=1.5)
    fig = figs.figure("drawdown %", 140, "drawdown")
    figs.line(fig, _drawdown(data.value), LEVELS, "#d62728")
    funding = recorder.funding if recorder is not None else []
    if funding:
        fig = figs.figure("funding paid", 140, "funding")
        src = ColumnDataSource(
            {"x": [f[0] / 1e6 for f in funding], "paid": [f[3] for f in funding]}, name="funding"
        )
        fig.vbar(x="x", top="paid", width=max(figs.span_ms / 400, 1.0), source=src,
                 color="#8c564b")  # fmt: skip
    for f in figs.figures[:-1]:
        f.xaxis.visible = False
    figs.zoom_callback()
    return column(*figs.figures, sizing_mode="stretch_width"), figs, drawn


_TEMPLATE = """{% extends base %}
{% block preamble %}
<!-- Embedded BokehJS {{ bokeh_version }} (https://bokeh.org), BSD-3-Clause licence:
{{ licence }}
-->
<style>
body { font-family: sans-serif; margin: 12px 24px; color: #222; height: auto; }
h1 { font-size: 18px; }
#btch-summary { font-size: 13px; margin-bottom: 12px; width: 100%; }
#btch-summary tbody { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr));
  gap: 0 32px; }
#btch-summary tr { display: flex; border-bottom: 1px solid #ddd; }
#btch-summary td { padding: 2px 12px 2px 0; overflow-wrap: anywhere; }
#btch-summary td:first-child { width: 170px; flex-shrink: 0; }
#btch-summary td:first-child { color: #555; }
.note { font-size: 12px; color: #666; }
</style>
{% endblock %}
{% block contents %}
<h1>{{ heading }}</h1>
<table id="btch-summary">
{% for key, value in rows %}<tr><td>{{ key }}</td><td>{{ value }}</td></tr>
{% endfor %}</table>
<p class="note">{{ note }}</p>
{{ super() }}
{% endblock %}
"""

_READY = """
const fills = [];
for (const [symbol, src] of sources) {
    const d = src.data;
    for (let i = 0; i < d.x.length; i++) {
        fills.push({time: d.x[i], price: d.price[i], size: d.side[i], symbol: symbol});
    }
}
window.BTCH_REPORT = {fills: fills, orders: orders, summary: summary, levels: levels};
document.body.setAttribute("data-btch-fills", String(fills.length));
"""

_LICENCE = """Copyright (c) Anaconda, Inc., and Bokeh Contributors. All rights reserved.
Redistribution and use in source and binary forms, with or without modification, are permitted
provided that the following conditions are met: Redistributions of source code must retain the
above copyright notice, this list of conditions and the following disclaimer. Redistributions in
binary form must reproduce the above copyright notice, this list of conditions and the following
disclaimer in the documentation and/or other materials provided with the distribution. Neither
the name of Anaconda nor the names of any contributors may be used to endorse or promote products
derived from this software without specific prior written permission. THIS SOFTWARE IS PROVIDED
BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES,
INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A
PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT OWNER OR CONTRIBUTORS BE
LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES
(INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA,
OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN
CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF
THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE."""


def _page(
    data: RunPlotData,
    owner: int,
    rows: Mapping[str, object],
    recorder: ReportRecorder | None,
    title: str,
) -> str:
    import bokeh
    from bokeh.core.templates import FILE, get_env
    from bokeh.document import Document
    from bokeh.embed import file_html
    from bokeh.models import CustomJS
    from bokeh.resources import Resources

    layout, figs, drawn = _layout(data, owner, recorder)
    cells = {k.replace("_", " "): _cell(v) for k, v in rows.items()}
    doc = Document()
    doc.add_root(layout)
    ready = CustomJS(
        args={
            "sources": [[name, src] for name, src in figs.fill_sources],
            "orders": drawn,
            "summary": cells,
            "levels": {"buckets": BUCKETS, "zoom": ZOOM},
        },
        code=_READY,
    )
    doc.js_on_event("document_ready", ready)
    if recorder is None:
        note = "Resting orders and funding payments: not recorded (the run had no ReportRecorder)."
    else:
        note = f"Resting-order segments drawn: {drawn}."
    note += (
        f" Lines: the envelope of {BUCKETS:,} time buckets, {ZOOM}x finer each time the visible"
        f" range narrows {ZOOM}x (trades {TRADE_LEVELS} levels, other lines {LEVELS})."
    )
    return file_html(
        doc,
        resources=Resources(mode="inline"),
        title=title,
        template=get_env().from_string(_TEMPLATE),
        template_variables={
            "base": FILE,  # (Bokeh's page template, whatever its file is named)
            "bokeh_version": bokeh.__version__,
            "licence": _LICENCE,
            "heading": title,
            "rows": list(cells.items()),
            "note": note,
        },
    )
