"""LivePlot: a plotly FigureWidget that keeps updating from a stream, one trace per ``color`` key."""

from __future__ import annotations

import difflib
import html
import textwrap
from collections import OrderedDict, deque
from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any

from reactivex import Observable

from .._time import time_value, utc_datetime
from ..core import ViewState
from .view import TIME_NAMES, LiveView, is_time_value, rows_of

__all__ = ["KINDS", "LivePlot", "PlotState", "closest_first"]

#: The chart kinds a :class:`LivePlot` draws (its ``kind``): ``LivePlot(source, x="t", y="v", kind="bar")``.
KINDS = ("line", "scatter", "bar", "histogram")
#: Most field names a plot remembers while looking for its ``y`` (to say which exist when it never comes).
MAX_FIELDS = 500

#: The chart follows the notebook's theme, live, with no round trip to the kernel: its backgrounds are
#: transparent (the cell's shows through) and this CSS, which anywidget puts in the page once, colours its text,
#: grid and toolbar with JupyterLab's ``--jp-*`` variables (they change with the theme; VS Code sets them too).
#: Where they are not set, the fallbacks are plotly_white's colours. Plotly writes its colours as inline
#: styles, hence ``!important``.
THEME_CSS = """
.sk-plot .main-svg :is(.gtitle, .xtitle, .ytitle, .legendtitletext) {
  fill: var(--jp-ui-font-color1, #2a3f5f) !important;
}
.sk-plot .main-svg :is(.xtick, .ytick) text, .sk-plot .main-svg .legendtext {
  fill: var(--jp-ui-font-color2, #2a3f5f) !important;
}
.sk-plot .main-svg .gridlayer path { stroke: var(--jp-border-color2, #ebf0f8) !important; }
.sk-plot .main-svg .zerolinelayer path { stroke: var(--jp-border-color1, #ebf0f8) !important; }
.sk-plot .modebar-btn path { fill: var(--jp-ui-font-color3, rgba(68, 68, 68, 0.3)) !important; }
.sk-plot .modebar-btn:hover path, .sk-plot .modebar-btn.active path {
  fill: var(--jp-ui-font-color1, rgba(68, 68, 68, 0.7)) !important;
}
"""
_CLEAR = "rgba(0,0,0,0)"
#: The chart's own messages, in colours that read on light and dark backgrounds alike.
_NOTE_COLOURS = {"error": "#e5484d", "note": "#8b8d98"}
_FIGURE_WIDGET: Any = None


def _figure_widget() -> Any:
    """plotly's ``FigureWidget`` with :data:`THEME_CSS` (made once: plotly is imported when a chart is drawn).

    >>> import reactivex
    >>> figure = LivePlot(reactivex.never(), x="t", y="v").figure
    >>> figure._dom_classes, figure.layout.paper_bgcolor, "var(--jp-ui-font-color1" in figure._css
    (('sk-plot',), 'rgba(0,0,0,0)', True)
    """
    global _FIGURE_WIDGET
    if _FIGURE_WIDGET is None:
        import plotly.graph_objects as go

        class FigureWidget(go.FigureWidget):  # type: ignore[misc]
            _css = THEME_CSS

        _FIGURE_WIDGET = FigureWidget
    return _FIGURE_WIDGET


def closest_first(name: str, known: Iterable[str]) -> list[str]:
    """``known`` names with the ones closest to ``name`` first (difflib), then the rest in their order.

    >>> closest_first("rssii", ["mac", "rssi", "snr", "rx_rssi"])
    ['rssi', 'rx_rssi', 'mac', 'snr']
    """
    names = list(dict.fromkeys(known))
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
    return close + [n for n in names if n not in close]


class PlotState:
    """The points a live plot holds: per trace (``color`` key) the newest ``max_points`` (x, y) pairs; for
    ``bar`` the latest y per key; for ``histogram`` the newest y values per trace. Pure: no plotly here.

    ``x_time=None`` decides from the first x value (:func:`~streamkit.sinks.view.is_time_value`) unless ``x`` is
    named like a time. Records without ``y`` are skipped, and their fields remembered for :meth:`missing`:

    >>> state = PlotState(x="t", y="rssii", color=None, kind="line", max_points=10, x_time=None)
    >>> state.add([{"t": 1_795_455_844, "rssi": -60, "mac": "a"}])
    >>> state.missing()
    "no field 'rssii' in the 1 record(s) so far; fields: rssi, t, mac"
    >>> state.add([{"t": 1_795_455_845, "rssii": -61}])
    >>> state.x_time, state.traces["rssii"][0][0].isoformat(), state.missing()
    (True, '2026-11-23T17:44:05+00:00', None)
    """

    def __init__(
        self, *, x: str | None, y: str, color: str | None, kind: str, max_points: int, x_time: bool | None
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind is one of {', '.join(KINDS)}, not {kind!r}")
        if kind in ("line", "scatter") and x is None:
            raise ValueError(f"a {kind} plot needs x= (e.g. x='_time')")
        if max_points < 1:
            raise ValueError(f"max_points must be at least 1, not {max_points}")
        self.x, self.y, self.color, self.kind = x, y, color, kind
        self.max_points = max_points
        #: Whether x is shown as time; None until the first x value decides.
        self.x_time = True if x_time is None and x in TIME_NAMES else x_time
        self.fields: dict[str, None] = {}  # seen in records without y, while no y has come
        self.plotted = 0
        self.traces: OrderedDict[Hashable, tuple[deque[Any], deque[Any]]] = OrderedDict()
        self.latest: OrderedDict[Hashable, Any] = OrderedDict()  # bar: key -> latest y
        self.changed: set[Hashable] = set()
        self.version = 0
        self.skipped = 0

    def add(self, records: list[Mapping[str, Any]]) -> None:
        before = self.version
        for record in records:
            y = record.get(self.y)
            if y is None:
                self.skipped += 1
                if not self.plotted and len(self.fields) < MAX_FIELDS:
                    self.fields.update(dict.fromkeys(k for k in record if isinstance(k, str)))
                continue
            self.plotted += 1
            key = record.get(self.color) if self.color is not None else self.y
            if self.kind == "bar":
                bar_key = key if self.color is not None else record.get(self.x) if self.x else self.y
                self.latest[bar_key] = y
                self.changed.add("bar")
                self.version += 1
                continue
            trace = self.traces.get(key)
            if trace is None:
                trace = self.traces[key] = (deque(maxlen=self.max_points), deque(maxlen=self.max_points))
            if self.kind != "histogram":
                x = time_value(record, self.x) if self.x else None  # "received": the arrival, without such a field
                if self.x_time is None and x is not None:
                    self.x_time = is_time_value(x)
                if self.x_time:
                    x = utc_datetime(x) or x  # a value that is not a time is plotted as it is
                trace[0].append(x)
            trace[1].append(y)
            self.changed.add(key)
        if self.version == before and self.changed:
            self.version += 1

    def missing(self) -> str | None:
        """What is wrong when records came but none had ``y``: the fields they have, closest to ``y`` first."""
        if self.plotted or not self.skipped:
            return None
        fields = closest_first(self.y, self.fields)
        shown = ", ".join(fields[:12]) + (f" and {len(fields) - 12} more" if len(fields) > 12 else "")
        return f"no field {self.y!r} in the {self.skipped:,} record(s) so far; fields: {shown}"

    def take_changes(self) -> set[Hashable]:
        changed, self.changed = self.changed, set()
        return changed


class LivePlot(LiveView):
    """A live plotly chart of a stream.

    Args:
        source: an Observable of flat records (``sk.ops.flatten()`` nested ones first).
        x, y: field names; color: one trace per value of this field (created as keys appear).
        kind: ``line``, ``scatter``, ``bar`` (latest y per ``color`` key, or per ``x``) or ``histogram`` (of y).
        max_points: newest points kept per trace; fps: most figure updates per second.
        x_time: show x as time on a date axis (default: when x is named like ``_time``, ``ts`` or ``last_seen``,
            or its first value reads as a time: an epoch number between 2001 and 2100 in any unit, ISO 8601 text,
            a datetime); such values become UTC datetimes. ``x="received"`` plots against each record's arrival
            time (for statuses that carry no time). ``x_time=False`` keeps numbers as numbers.

    What goes wrong shows on the chart itself: a ``y`` that no record has (with the fields they do have, closest
    first), the error that ended the stream, the end of the stream. ``plot.message`` is that text.

    In a cell, ``plot`` shows a plotly FigureWidget that keeps updating; ``plot.figure`` is that widget:

    >>> import streamkit as sk
    >>> from streamkit.sim import MistSimulator
    >>> with MistSimulator(seed=1, interval=0.05, sites=1, aps=2) as sim:
    ...     with sk.mist(url=sim.url, token=sim.token) as mist:
    ...         devices = mist.subscribe(sim.channel("device_stats")).pipe(sk.ops.flatten())
    ...         plot = sk.LivePlot(devices, x="_time", y="cpu_util", color="mac")
    ...         rows = sk.collect(devices, count=8, timeout=10)     # meanwhile the plot fills
    >>> plot.title, plot.state.x_time
    ('cpu_util by mac', True)
    >>> traces = {trace.name for trace in plot.figure.data}          # one per device that sent a cpu_util
    >>> 0 < len(traces) and traces <= {device["mac"] for device in sim.devices}
    True
    >>> plot.close()
    """

    def __init__(
        self,
        source: Observable[Any],
        *,
        y: str,
        x: str | None = None,
        color: str | None = None,
        kind: str = "line",
        max_points: int = 2_000,
        fps: float = 4.0,
        title: str | None = None,
        x_time: bool | None = None,
    ) -> None:
        self.state = PlotState(x=x, y=y, color=color, kind=kind, max_points=max_points, x_time=x_time)
        self.title = title or f"{y}" + (f" by {color}" if color else "")
        self._figure: Any = None
        self._trace_of: dict[Hashable, int] = {}
        super().__init__(source, fps=fps)

    def __repr__(self) -> str:
        return f"<LivePlot {self.state.kind} {self.state.y} traces={len(self.state.traces)} {self.status}>"

    @property
    def message(self) -> str | None:
        """What the chart says besides its data: why it is empty, or how the stream ended (None: all well)."""
        status = self.status
        if status is ViewState.ERROR:
            return f"the stream failed: {type(self.error).__name__}: {self.error}"
        missing = self.state.missing()
        if missing is not None:
            return missing
        empty = not self.state.traces and not self.state.latest
        if status is ViewState.COMPLETED:
            return "the stream ended" + (" before any record came" if empty else "")
        if empty and status is ViewState.LIVE:
            return "waiting for records…"
        return None

    @property
    def figure(self) -> Any:
        """The plotly ``FigureWidget`` (a static ``Figure`` where anywidget is not installed)."""
        if self._figure is None:
            import plotly.graph_objects as go

            margin = {"l": 40, "r": 10, "t": 40, "b": 30}
            layout = {"title": self.title, "height": 360, "margin": margin, "template": "plotly_white"}
            try:
                self._figure = _figure_widget()(layout={**layout, "paper_bgcolor": _CLEAR, "plot_bgcolor": _CLEAR})
                self._figure.add_class("sk-plot")  # what THEME_CSS colours
            except ImportError:
                self._figure = go.Figure(layout=layout)  # static: no CSS, so plotly_white's own white
            self._widget = self._figure
            self._flush()
            self._draw(force=True)
        return self._figure

    def to_html(self, path: str | Path) -> Path:
        """A standalone HTML file of the chart as it is now (plotly.js included: opens offline)."""
        import plotly.io as pio

        pio.write_html(self.figure, str(path), include_plotlyjs=True, full_html=True)
        return Path(path)

    def to_image(self, path: str | Path, **kwargs: Any) -> Path:
        """A static image (PNG, SVG, PDF by the file's suffix); needs kaleido (``pip install kaleido``)."""
        import plotly.graph_objects as go

        image = go.Figure(self.figure)
        image.update_layout(paper_bgcolor="white", plot_bgcolor="white")  # in a file, nothing shows through
        try:
            image.write_image(str(path), **kwargs)
        except (ImportError, ValueError) as exc:
            if "kaleido" in str(exc).lower():
                raise ImportError("static image export needs kaleido: pip install kaleido") from None
            raise
        return Path(path)

    def _ingest(self, batch: list[Any]) -> None:
        self.state.add(rows_of(batch))

    def _version(self) -> int:
        return hash((self.state.version, self.message))

    def _render(self) -> None:
        self._draw_data()
        self._say(self._figure)  # after the data: whoever sees the status sees the data it speaks of

    def _draw_data(self) -> None:
        import plotly.graph_objects as go

        state, fig = self.state, self._figure
        changed = state.take_changes()
        if state.kind == "bar":
            if state.latest:
                if not fig.data:
                    fig.add_trace(go.Bar(name=state.y))
                with fig.batch_update():
                    fig.data[0].x = [str(k) for k in state.latest]
                    fig.data[0].y = list(state.latest.values())
            return
        for key in state.traces:  # traces for keys seen for the first time
            if key not in self._trace_of:
                self._trace_of[key] = len(fig.data)
                name = str(key)
                if state.kind == "histogram":
                    fig.add_trace(go.Histogram(name=name, opacity=0.7))
                else:
                    mode = "lines" if state.kind == "line" else "markers"
                    fig.add_trace(go.Scattergl(name=name, mode=mode))
        with fig.batch_update():  # every change of this frame in one message
            for key in changed:
                trace = fig.data[self._trace_of[key]]
                xs, ys = state.traces[key]
                if state.kind == "histogram":
                    trace.x = list(ys)
                else:
                    trace.x = list(xs)
                    trace.y = list(ys)

    def _say(self, fig: Any) -> None:
        """The chart's own words: the status in the title, a message across the plot area."""
        status = self.status
        title = self.title if status is ViewState.LIVE else f"{self.title} · {status.value}"
        message = self.message
        notes = (
            [{"text": _lines(message), "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5, "showarrow": False,
              "font": {"size": 13, "color": _NOTE_COLOURS["error" if status is ViewState.ERROR else "note"]}}]
            if message else []
        )  # fmt: skip
        with fig.batch_update():
            fig.layout.title.text = title
            fig.layout.annotations = notes
            if self.state.x_time:
                fig.layout.xaxis.type = "date"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        from ..notebook.controls import framed

        display(framed(self, self.figure))  # with pause/resume and stop above the chart


def _lines(message: str, width: int = 90) -> str:
    """A message as plotly shows it across the plot area: escaped, broken into lines of at most ``width``
    characters so that a long one is not clipped at the chart's edges.

    >>> _lines("no field 'rssii'; fields: rssi, snr, mac", width=24)
    'no field &#x27;rssii&#x27;;<br>fields: rssi, snr, mac'
    """
    return "<br>".join(html.escape(line) for line in textwrap.wrap(message, width) or [""])
