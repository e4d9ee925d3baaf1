"""LivePlot: a plotly FigureWidget that keeps updating from a stream, one trace per ``color`` key."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

from reactivex import Observable

from .._time import time_value, utc_datetime
from .view import LiveView, rows_of

__all__ = ["KINDS", "LivePlot", "PlotState"]

KINDS = ("line", "scatter", "bar", "histogram")
_TIME_NAMES = ("_time", "time", "timestamp", "last_seen", "received")


class PlotState:
    """The points a live plot holds: per trace (``color`` key) the newest ``max_points`` (x, y) pairs; for
    ``bar`` the latest y per key; for ``histogram`` the newest y values per trace. Pure: no plotly here."""

    def __init__(self, *, x: str | None, y: str, color: str | None, kind: str, max_points: int, x_time: bool) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind is one of {', '.join(KINDS)}, not {kind!r}")
        if kind in ("line", "scatter") and x is None:
            raise ValueError(f"a {kind} plot needs x= (e.g. x='_time')")
        if max_points < 1:
            raise ValueError(f"max_points must be at least 1, not {max_points}")
        self.x, self.y, self.color, self.kind = x, y, color, kind
        self.max_points = max_points
        self.x_time = x_time
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
                continue
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
                if self.x_time:
                    x = utc_datetime(x) or x  # a value that is not a time is plotted as it is
                trace[0].append(x)
            trace[1].append(y)
            self.changed.add(key)
        if self.version == before and self.changed:
            self.version += 1

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
        x_time: show x as time (default: when x is named like ``_time``, ``timestamp`` or ``last_seen``): epoch
            numbers (unit by magnitude), ISO 8601 text and datetimes become UTC datetimes.
            ``x="received"`` plots against each record's arrival time (for statuses that carry no time).

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
        self.state = PlotState(
            x=x, y=y, color=color, kind=kind, max_points=max_points,
            x_time=x_time if x_time is not None else (x or "") in _TIME_NAMES,
        )  # fmt: skip
        self.title = title or f"{y}" + (f" by {color}" if color else "")
        self._figure: Any = None
        self._trace_of: dict[Hashable, int] = {}
        super().__init__(source, fps=fps)

    def __repr__(self) -> str:
        return f"<LivePlot {self.state.kind} {self.state.y} traces={len(self.state.traces)} {self.status}>"

    @property
    def figure(self) -> Any:
        """The plotly ``FigureWidget`` (a static ``Figure`` where anywidget is not installed)."""
        if self._figure is None:
            import plotly.graph_objects as go

            layout = {"title": self.title, "height": 360, "margin": {"l": 40, "r": 10, "t": 40, "b": 30}}
            try:
                self._figure = go.FigureWidget(layout=layout)
            except ImportError:
                self._figure = go.Figure(layout=layout)
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
        try:
            self.figure.write_image(str(path), **kwargs)
        except (ImportError, ValueError) as exc:
            if "kaleido" in str(exc).lower():
                raise ImportError("static image export needs kaleido: pip install kaleido") from None
            raise
        return Path(path)

    def _ingest(self, batch: list[Any]) -> None:
        self.state.add(rows_of(batch))

    def _version(self) -> int:
        return self.state.version

    def _render(self) -> None:
        import plotly.graph_objects as go

        state, fig = self.state, self._figure
        changed = state.take_changes()
        if state.kind == "bar":
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

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.figure)
